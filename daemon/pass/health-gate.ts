// Step 7.8: wait, bounded, until every gated unit of the workload is healthy. The start
// jobs already blocked until systemd finished them; this confirms the outcome and
// catches services that die right after starting.
import { HostError } from '../core/errors';
import type { Clock } from '../core/ports';
import { unitHealth } from '../core/unit-health';
import { failureOutput, mainProcessEnd } from '../core/unit-log';
import { UNIT_STATUS_PROPERTIES } from '../core/parse/systemctl-show';
import type { UserManager, UserRef } from '../host/systemd';

/** Type tells a finished oneshot; ExecMainCode and ExecMainStatus how a main process ended. */
export const HEALTH_PROPERTIES = [...UNIT_STATUS_PROPERTIES, 'Type', 'ExecMainCode', 'ExecMainStatus'] as const;

export interface GateOptions {
  deadline: number;
  clock: Clock;
  pollMs?: number;
  /** How long a unit must stay healthy before the gate passes. */
  settleMs?: number;
}

export async function healthGate(um: UserManager, who: UserRef, units: readonly string[], opts: GateOptions): Promise<void> {
  if (units.length === 0) return;
  const pollMs = opts.pollMs ?? 500;
  let settledSince: number | undefined;
  for (;;) {
    const statuses = await um.show(who, units, HEALTH_PROPERTIES);
    const now = opts.clock.now().getTime();
    const failed: string[] = [];
    const pending: string[] = [];
    for (const unit of units) {
      const health = unitHealth(statuses.get(unit));
      if (health.state === 'failed') {
        const end = mainProcessEnd(statuses.get(unit)?.properties ?? {});
        failed.push(`${unit} ${health.detail}${end ? `: ${end}` : ''}`);
      } else if (health.state === 'pending') pending.push(`${unit} ${health.detail}`);
    }
    if (failed.length > 0) {
      // The cause is in the first failed unit's own output (its last run), not in the
      // manager's "Failed with result" or Podman's events: core/unit-log.ts.
      const first = failed[0]!.split(' ')[0]!;
      const read = await um.unitOutput(who, [first]);
      const output =
        'problem' in read
          ? `its journal could not be read (${read.problem})`
          : failureOutput(first, { uid: who.uid, units: [first] }, read.lines, statuses.get(first)?.invocationId ?? '');
      throw new HostError(`${failed.join('; ')} — ${output}`);
    }
    if (pending.length === 0) {
      settledSince ??= now;
      if (now - settledSince >= (opts.settleMs ?? 0)) return;
    } else {
      settledSince = undefined;
    }
    // The bound is on coming up: a unit that made it in time still gets its settle time.
    if (now >= opts.deadline && pending.length > 0) throw new HostError(`health gate timed out: ${pending.join('; ')}`);
    await opts.clock.sleep(pollMs);
  }
}
