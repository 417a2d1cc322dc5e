// Step 7.8: wait, bounded, until every gated unit of the workload is healthy. The start
// jobs already blocked until systemd finished them; this confirms the outcome and
// catches services that die right after starting. Two halves: until the units are up,
// then their settle time, which the pass spends applying the next workload (run-pass.ts).
import { HostError } from '../core/errors';
import type { Clock } from '../core/ports';
import { unitHealth } from '../core/unit-health';
import { failureOutput, mainProcessEnd } from '../core/unit-log';
import { UNIT_STATUS_PROPERTIES, type UnitStatus } from '../core/parse/systemctl-show';
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

/** Every gated unit came up; settle() then confirms they stayed up. */
export interface UpGate {
  /**
   * Resolves once every unit has stayed healthy for the settle time since it came up:
   * one look when that time has passed (the pass applies the next workload meanwhile),
   * the same unit run (InvocationID) still healthy. A unit that failed throws as the gate
   * does; one that restarted or is not up is watched again as the gate watches.
   */
  settle(): Promise<void>;
}

/** Step 7.8 in one: until every unit is up, then its settle time. */
export async function healthGate(um: UserManager, who: UserRef, units: readonly string[], opts: GateOptions): Promise<void> {
  await (await untilUp(um, who, units, opts)).settle();
}

/** Waits, bounded by the deadline, until every unit is up (or one failed: that throws). */
export async function untilUp(um: UserManager, who: UserRef, units: readonly string[], opts: GateOptions): Promise<UpGate> {
  if (units.length === 0) return { settle: async () => undefined };
  for (;;) {
    const statuses = await um.show(who, units, HEALTH_PROPERTIES);
    const now = opts.clock.now().getTime();
    const pending = await judge(um, who, units, statuses);
    if (pending.length === 0) {
      const runs = new Map(units.map((u) => [u, statuses.get(u)?.invocationId ?? '']));
      return { settle: () => settleFrom(um, who, units, opts, now, runs) };
    }
    if (now >= opts.deadline) throw new HostError(`health gate timed out: ${pending.join('; ')}`);
    await opts.clock.sleep(opts.pollMs ?? 500);
  }
}

async function settleFrom(um: UserManager, who: UserRef, units: readonly string[], opts: GateOptions, upAt: number, runs: ReadonlyMap<string, string>): Promise<void> {
  const settleMs = opts.settleMs ?? 0;
  if (settleMs <= 0) return;
  const wait = upAt + settleMs - opts.clock.now().getTime();
  if (wait > 0) await opts.clock.sleep(wait);
  const statuses = await um.show(who, units, HEALTH_PROPERTIES);
  const pending = await judge(um, who, units, statuses);
  if (pending.length === 0 && units.every((u) => statuses.get(u)?.invocationId === runs.get(u))) return;
  await watch(um, who, units, opts);
}

/**
 * The gate's own watch: looks every pollMs until every unit has stayed healthy for the
 * settle time. The bound is on coming up: a unit that made it in time still gets its
 * settle time.
 */
async function watch(um: UserManager, who: UserRef, units: readonly string[], opts: GateOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 500;
  let settledSince: number | undefined;
  for (;;) {
    const statuses = await um.show(who, units, HEALTH_PROPERTIES);
    const now = opts.clock.now().getTime();
    const pending = await judge(um, who, units, statuses);
    if (pending.length === 0) {
      settledSince ??= now;
      if (now - settledSince >= (opts.settleMs ?? 0)) return;
    } else {
      settledSince = undefined;
    }
    if (now >= opts.deadline && pending.length > 0) throw new HostError(`health gate timed out: ${pending.join('; ')}`);
    await opts.clock.sleep(pollMs);
  }
}

/** The units still coming up; throws, with the first failed unit's own output, when one failed. */
async function judge(um: UserManager, who: UserRef, units: readonly string[], statuses: Map<string, UnitStatus>): Promise<string[]> {
  const failed: string[] = [];
  const pending: string[] = [];
  for (const unit of units) {
    const health = unitHealth(statuses.get(unit));
    if (health.state === 'failed') {
      const end = mainProcessEnd(statuses.get(unit)?.properties ?? {});
      failed.push(`${unit} ${health.detail}${end ? `: ${end}` : ''}`);
    } else if (health.state === 'pending') pending.push(`${unit} ${health.detail}`);
  }
  if (failed.length === 0) return pending;
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
