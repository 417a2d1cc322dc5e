// Drift as `moor status` flags it (core/live-units.ts): a unit the health gate waits for, of
// a workload with an applied version, that is not up now.
import { describe, expect, it } from 'vitest';
import { liveUnitsText, liveWorkload } from '../../daemon/core/live-units';
import type { UnitStatus } from '../../daemon/core/parse/systemctl-show';

const status = (activeState: string, subState: string, extra: Partial<UnitStatus> = {}): UnitStatus => ({
  loadState: 'loaded',
  activeState,
  subState,
  result: 'success',
  invocationId: 'abc',
  unitFileState: 'generated',
  properties: {},
  ...extra,
});

const one = (s: UnitStatus | undefined, opts: { gate?: boolean; shouldRun?: boolean; manager?: string } = {}) =>
  liveWorkload({
    units: [{ unit: 'web.service', gate: opts.gate ?? true }],
    managerUnit: 'user@1001.service',
    managerState: opts.manager ?? 'active',
    ...(s ? { statuses: new Map([['web.service', s]]) } : { statuses: new Map() }),
    shouldRun: opts.shouldRun ?? true,
  });

describe('liveWorkload', () => {
  it('an active unit is no drift', () => {
    expect(one(status('active', 'running')).drift).toEqual([]);
  });

  it('a unit on its way is no drift; one crash-looping is', () => {
    expect(one(status('activating', 'start')).drift).toEqual([]);
    expect(one(status('activating', 'auto-restart', { result: 'exit-code' })).drift).toEqual(['web.service: keeps failing and restarting (Result=exit-code)']);
  });

  it('inactive, failed and not loaded are drift when the workload should run', () => {
    expect(one(status('inactive', 'dead')).drift).toEqual(['web.service: inactive (Result=success)']);
    expect(one(status('failed', 'failed', { result: 'signal' })).units[0]).toMatchObject({ activeState: 'failed', drift: 'web.service: failed (Result=signal)' });
    expect(one(undefined).units[0]).toMatchObject({ loadState: 'not-found', drift: 'web.service: no status' });
  });

  it('a oneshot that ran to success is up', () => {
    expect(one(status('inactive', 'dead', { properties: { Type: 'oneshot' } })).drift).toEqual([]);
  });

  it('a unit the gate does not wait for, or of a workload with nothing applied, is never drift', () => {
    expect(one(status('inactive', 'dead'), { gate: false }).drift).toEqual([]);
    expect(one(status('failed', 'failed'), { shouldRun: false }).drift).toEqual([]);
  });

  it('a manager that does not run makes each gated unit drift once, and its units inactive', () => {
    const live = liveWorkload({
      units: [
        { unit: 'web.service', gate: true },
        { unit: 'web-data-volume.service', gate: true },
      ],
      managerUnit: 'user@1001.service',
      managerState: 'inactive',
      shouldRun: true,
    });
    expect(live.drift).toEqual(['user@1001.service is inactive']);
    expect(live.units.map((u) => u.activeState)).toEqual(['inactive', 'inactive']);
    expect(liveUnitsText(live)).toBe('DRIFT: manager inactive');
  });

  it('reads as one line for people', () => {
    expect(liveUnitsText(one(status('active', 'running')))).toBe('web.service active');
    expect(liveUnitsText(one(status('failed', 'failed', { result: 'exit-code' })))).toBe('DRIFT: web.service failed (failed, exit-code)');
  });
});
