// When a pass is announced to the [notify] receivers (docs/operations.md "Notifications").
// A pass's result, for notifications, is the class of its exit code: "ok" for 0, "failed"
// for any other code. A host that has never announced anything counts as ok, so its
// first failing pass is announced and its first good one is not.
import type { ExitCode } from './exit-codes';

export type NotifyResult = 'ok' | 'failed';

export const NOTIFY_ON = ['change', 'always'] as const;
export type NotifyOn = (typeof NOTIFY_ON)[number];

export function notifyResultOf(exitCode: ExitCode | number): NotifyResult {
  return exitCode === 0 ? 'ok' : 'failed';
}

/** Whether a pass whose result is `current` is sent, given the last result sent (if any). */
export function shouldNotify(on: NotifyOn, last: NotifyResult | undefined, current: NotifyResult): boolean {
  if (on === 'always') return true;
  return (last ?? 'ok') !== current;
}

/** The wait before retry `attempt` (1-based) of a POST: doubling from `baseMs`, capped. */
export function retryDelayMs(attempt: number, baseMs: number, capMs = 60_000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
