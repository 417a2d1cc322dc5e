// `moor status` beside what the last pass recorded: what systemd runs now. One
// `systemctl is-active` for every user manager, then one `systemctl --user show` per user
// manager that runs, asking for all of its workload's units at once (a few users at a
// time), never a process per unit. Reading other users' managers needs root; the caller
// decides (cli/status.ts) and says so instead when it is not.
import pLimit from 'p-limit';
import { liveWorkload } from '../core/live-units';
import { UNIT_STATUS_PROPERTIES } from '../core/parse/systemctl-show';
import { userManagerUnit, type SystemManager, type UserManager } from '../host/systemd';
import { statusReport, type StatusReport, type WorkloadStatus } from './reports';
import type { StateStore } from './store';
import { workloadUnitsOf } from './workload-units';

/** The host reads this takes: the system manager and the user managers. */
export interface LiveReaders {
  system: Pick<SystemManager, 'activeStates'>;
  userManager: Pick<UserManager, 'show'>;
}

/** User managers asked at the same time. */
export const LIVE_CONCURRENCY = 4;

/** What `unitHealth` needs to judge a unit (Type: a oneshot that ran to success is up). */
const LIVE_PROPERTIES = [...UNIT_STATUS_PROPERTIES, 'Type'];

/**
 * The report with each workload's units as systemd has them now (`systemd` on each row
 * with a user) and when they were read; a manager that cannot be asked is that row's
 * problem, the system manager failing is the report's: neither fails the command.
 */
export async function withLiveUnits(report: StatusReport, store: StateStore, host: LiveReaders, now: Date): Promise<StatusReport> {
  const rows = report.workloads.filter((w) => w.result !== 'removed');
  const found = await workloadUnitsOf(store, rows.map((w) => w.workload));
  const asked = rows.flatMap((w) => {
    const units = found.get(w.workload);
    const uid = units?.uid ?? w.uid;
    return units && uid !== undefined ? [{ row: w, uid, units }] : [];
  });
  let managers: Map<string, string>;
  try {
    managers = await host.system.activeStates([...new Set(asked.map((a) => userManagerUnit(a.uid)))]);
  } catch (err) {
    return { ...report, systemd: { unavailable: `systemctl is-active of the user managers failed: ${(err as Error).message}` } };
  }
  const limit = pLimit(LIVE_CONCURRENCY);
  const live = new Map<string, WorkloadStatus['systemd']>();
  await Promise.all(
    asked.map(({ row, uid, units }) =>
      limit(async () => {
        const managerUnit = userManagerUnit(uid);
        const managerState = managers.get(managerUnit) ?? 'unknown';
        const gated = new Set(units.gated);
        const input = {
          units: units.units.map((unit) => ({ unit, gate: gated.has(unit) })),
          managerUnit,
          managerState,
          // A workload with an applied version should run it, a rolled-back one included.
          shouldRun: row.appliedCommit !== undefined,
        };
        try {
          const statuses = managerState === 'active' ? await host.userManager.show({ user: units.user, uid }, units.units, LIVE_PROPERTIES) : undefined;
          live.set(row.workload, liveWorkload({ ...input, ...(statuses ? { statuses } : {}) }));
        } catch (err) {
          live.set(row.workload, { problem: `systemctl --user show as ${units.user} failed: ${(err as Error).message}` });
        }
      }),
    ),
  );
  return {
    ...report,
    systemd: { readAt: now.toISOString() },
    workloads: report.workloads.map((w) => (live.has(w.workload) ? { ...w, systemd: live.get(w.workload)! } : w)),
  };
}

/** What a caller that is not root is told instead of the live states. */
export const LIVE_NEEDS_ROOT = "live unit states need root (each workload's user manager is asked as its user): run moor status as root; the states below are the last pass's";

/**
 * `moor status`'s report: the records, and the units now when the caller is root (the
 * daemon, or `moor status` run as root); a caller that is not gets the records and why.
 */
export async function liveStatusReport(store: StateStore, host: LiveReaders, opts: { root: boolean; now?: Date }): Promise<StatusReport> {
  const now = opts.now ?? new Date();
  const report = await statusReport(store, now);
  if (!opts.root) return { ...report, systemd: { unavailable: LIVE_NEEDS_ROOT } };
  return withLiveUnits(report, store, host, now);
}

/** Whether this process may ask other users' managers. */
export const isRoot = (): boolean => process.getuid?.() === 0;
