// What `moor status` does once its command line is read: the report, from a running daemon
// or from the state here, and one workload's detail. One module, imported when the command
// runs, so the bundle gives the command one chunk of its own where six imports gave it
// a dozen more files to find and open at each start (build.ts).
import type { MoorConfig } from '../core/config/schema';
import { systemClock } from '../host/clock';
import { realManagers } from '../pass/managers';
import { isRoot, liveStatusReport } from '../state/live-status';
import type { StatusReport } from '../state/reports';
import { workloadDetail, type WorkloadDetail } from '../state/workload-detail';
import { openStoreReadOnly } from './pass-context';
import { statusViaDaemon } from './via-daemon';

export interface StatusRun {
  report: StatusReport;
  /** One workload of the report in detail; undefined when the host has no such workload. */
  detail(workload: string): Promise<WorkloadDetail | undefined>;
}

/** The report from the daemon when one answers and `useDaemon`, else from the state read here. */
export async function runStatus(config: MoorConfig, useDaemon: boolean): Promise<StatusRun> {
  const host = realManagers(config, systemClock);
  const report = (useDaemon ? await statusViaDaemon<StatusReport>(config) : undefined) ?? (await liveStatusReport(await openStoreReadOnly(config), host, { root: isRoot() }));
  return { report, detail: (workload) => workloadDetail(report, workload, host, { root: isRoot() }) };
}
