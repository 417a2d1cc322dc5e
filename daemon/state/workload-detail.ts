// `moor status WORKLOAD`: one workload in detail. Its row of the status report (the
// records, and its units as systemd has them now), the live generation beside it, and for
// each unit that failed or drifted, the last lines it wrote (what `moor logs` and the
// health gate's failure messages read: core/unit-log.ts).
import type { LiveWorkload } from '../core/live-units';
import type { UnitLogLine } from '../core/unit-log';
import type { UserManager } from '../host/systemd';
import type { StatusReport, WorkloadStatus } from './reports';

/** Lines of each failed unit shown: the newest, as a failure message quotes them. */
export const DETAIL_LINES = 10;

export interface UnitLines {
  unit: string;
  lines: Omit<UnitLogLine, 'cursor'>[];
}

export interface WorkloadDetail {
  workload: WorkloadStatus;
  /** The live generation of the host, to set the workload's own generation and commit beside. */
  live?: StatusReport['live'];
  /** When the units' states were read, or why not. */
  systemd?: StatusReport['systemd'];
  /** The last lines of each unit that is failed or drifted now; or why they were not read. */
  journal: UnitLines[] | { unavailable: string };
}

/** The units whose lines explain the workload's state: failed now, or drift. */
export function troubledUnits(live: LiveWorkload): string[] {
  return live.units.filter((u) => u.activeState === 'failed' || u.drift !== undefined).map((u) => u.unit);
}

/**
 * The detail of one row of `report`, with the journal read (as root) for its troubled
 * units; undefined when the report has no such workload.
 */
export async function workloadDetail(
  report: StatusReport,
  name: string,
  host: { userManager: Pick<UserManager, 'unitOutput'> },
  opts: { root: boolean },
): Promise<WorkloadDetail | undefined> {
  const row = report.workloads.find((w) => w.workload === name);
  if (!row) return undefined;
  const base = { workload: row, ...(report.live ? { live: report.live } : {}), ...(report.systemd ? { systemd: report.systemd } : {}) };
  if (!row.systemd || !('units' in row.systemd)) return { ...base, journal: [] };
  const units = troubledUnits(row.systemd);
  if (units.length === 0 || row.uid === undefined) return { ...base, journal: [] };
  if (!opts.root) return { ...base, journal: { unavailable: 'the journal of a workload user is read as root: run moor status as root, or moor logs' } };
  const journal: UnitLines[] = [];
  for (const unit of units) {
    const read = await host.userManager.unitOutput({ user: row.user, uid: row.uid }, [unit]);
    if ('problem' in read) return { ...base, journal: { unavailable: `reading the journal of ${unit}: ${read.problem}` } };
    journal.push({ unit, lines: read.lines.slice(-DETAIL_LINES).map(({ cursor: _cursor, ...line }) => line) });
  }
  return { ...base, journal };
}
