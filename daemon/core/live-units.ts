// What systemd says of a workload's units now, beside what the last pass recorded: each
// unit's state, and drift, a unit that should run and does not (stopped by hand, crashed
// since the pass, its manager gone). Pure: the states come from one `systemctl --user show`
// per user manager and one `systemctl is-active` for all the managers.
import type { UnitStatus } from './parse/systemctl-show';
import { unitHealth } from './unit-health';

/** One unit as its user manager has it now. */
export interface LiveUnit {
  unit: string;
  loadState: string;
  /** active, activating, failed, inactive, ... ("inactive" for every unit of a manager that does not run). */
  activeState: string;
  subState: string;
  /** How its last run ended (success, exit-code, signal, ...); "" for a unit that has none. */
  result: string;
  /** Why the unit is drift: the health gate waits for it, its workload is applied, and it is not up. */
  drift?: string;
}

/** A workload's units now. `drift` lists every reason, empty when the host runs it as applied. */
export interface LiveWorkload {
  /** The state of the user's manager (`user@UID.service`). */
  manager: string;
  units: LiveUnit[];
  drift: string[];
}

export interface LiveUnitsInput {
  /** The workload's units; `gate`: the health gate waits for it (a service, a timer; not a triggered service). */
  units: readonly { unit: string; gate: boolean }[];
  managerUnit: string;
  managerState: string;
  /** `systemctl --user show` of the units; absent when the manager does not run. */
  statuses?: ReadonlyMap<string, UnitStatus>;
  /** The workload is applied and not removed: its gated units should be up. */
  shouldRun: boolean;
}

/**
 * Each unit's state and the drift among them. A gated unit is drift when the health gate
 * would call it failed now (not loaded, failed, inactive, crash-looping); one on its way
 * (activating, deactivating) is not, and neither is a oneshot that ran to success.
 */
export function liveWorkload(input: LiveUnitsInput): LiveWorkload {
  const managerUp = input.managerState === 'active' && input.statuses !== undefined;
  const units: LiveUnit[] = input.units.map(({ unit, gate }) => {
    const s = managerUp ? input.statuses!.get(unit) : undefined;
    const shown = s
      ? { unit, loadState: s.loadState, activeState: s.activeState, subState: s.subState, result: s.result }
      : { unit, loadState: managerUp ? 'not-found' : 'unknown', activeState: 'inactive', subState: 'dead', result: '' };
    if (!input.shouldRun || !gate) return shown;
    if (!managerUp) return { ...shown, drift: `${input.managerUnit} is ${input.managerState}` };
    const health = unitHealth(s);
    return health.state === 'failed' ? { ...shown, drift: `${unit}: ${health.detail}` } : shown;
  });
  const drift = units.filter((u) => u.drift !== undefined).map((u) => u.drift!);
  return { manager: input.managerState, units, drift: [...new Set(drift)] };
}

/** A workload's units on one line for people: `web.service active, web-data-volume.service inactive`. */
export function liveUnitsText(live: LiveWorkload): string {
  const units = live.units.map((u) => `${u.unit} ${u.activeState}${u.activeState === 'failed' || u.drift ? ` (${u.subState}${u.result && u.result !== 'success' ? `, ${u.result}` : ''})` : ''}`);
  const text = live.manager === 'active' ? units.join(', ') : `manager ${live.manager}`;
  return live.drift.length > 0 ? `DRIFT: ${text}` : text;
}
