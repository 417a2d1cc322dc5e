// Reading a unit's state as the health gate and the drift check need it. Pure: the
// state comes from `systemctl --user show`.
import type { UnitStatus } from './parse/systemctl-show';

export type UnitHealth =
  | { state: 'ok' }
  | { state: 'pending'; detail: string }
  | { state: 'failed'; detail: string };

/**
 * ok: active, or a oneshot that ran to success. failed: not loaded, failed, inactive
 * otherwise, or crash-looping (`activating` with sub-state `auto-restart` means the last
 * start failed and systemd will try again: waiting out the whole bound helps no one).
 * pending: on its way. A unit systemd gave no status for is failed: it is not there.
 */
export function unitHealth(s: UnitStatus | undefined): UnitHealth {
  if (!s) return { state: 'failed', detail: 'no status' };
  if (s.loadState !== 'loaded') return { state: 'failed', detail: `not loaded (LoadState=${s.loadState || 'unknown'})` };
  switch (s.activeState) {
    case 'active':
    case 'reloading':
      return { state: 'ok' };
    case 'activating':
      if (s.subState === 'auto-restart') return { state: 'failed', detail: `keeps failing and restarting (Result=${s.result || 'unknown'})` };
      return { state: 'pending', detail: `activating (${s.subState})` };
    case 'deactivating':
      return { state: 'pending', detail: `deactivating (${s.subState})` };
    case 'failed':
      return { state: 'failed', detail: `failed (Result=${s.result || 'unknown'})` };
    case 'inactive':
      if (s.properties.Type === 'oneshot' && s.result === 'success' && s.invocationId !== '') return { state: 'ok' };
      return { state: 'failed', detail: `inactive (Result=${s.result || 'unknown'})` };
    default:
      return { state: 'pending', detail: s.activeState || 'unknown state' };
  }
}
