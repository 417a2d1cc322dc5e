// moor status: the live generation, its commit, and every workload's state at a glance.
import type { Command } from 'commander';
import { statusReport, type DaemonInfo, type StatusReport } from '../state/reports';
import { configFrom, type SetExit } from './common';
import { emit, table } from './output';
import { openStoreReadOnly } from './pass-context';
import { ExitCode } from '../core/exit-codes';
import { safeText } from '../core/safe-text';
import { statusViaDaemon } from './via-daemon';

export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(r.live ? `live: generation ${r.live.generation} @${r.live.commit.slice(0, 12)} (${r.live.kind}) from ${r.live.source}` : 'live: no complete generation yet');
  if (r.liveCorrupt) {
    lines.push(`LIVE GENERATION ${r.liveCorrupt.generation} IS CORRUPT: ${r.liveCorrupt.problem}; the next pass moves it to quarantine/ and records the host as it runs`);
  }
  if (r.latest && r.latest.generation !== r.live?.generation) {
    lines.push(`latest: generation ${r.latest.generation} @${r.latest.commit.slice(0, 12)} is ${r.latest.state.toUpperCase()}`);
  }
  if (r.pinned) lines.push(`PINNED to generation ${r.pinned.generation} since ${r.pinned.pinnedAt} by a rollback: run "moor resume" to follow the repo again`);
  if (r.lastPass) lines.push(`last pass: ${r.lastPass.at} exit ${r.lastPass.exitCode}: ${r.lastPass.summary}`);
  if (r.daemon) lines.push(formatDaemon(r.daemon));
  const rows = [['WORKLOAD', 'USER', 'UID', 'ACTION', 'RESULT', 'APPLIED', 'ERROR']];
  for (const w of r.workloads) {
    rows.push([w.workload, w.user, w.uid?.toString() ?? '-', w.action ?? '-', w.result ?? '-', w.appliedAt ?? 'never', w.error ?? '']);
  }
  // Each line above is one line, whatever a summary in it holds; table() does the same per cell.
  return [...lines.map((l) => safeText(l)), '', r.workloads.length === 0 ? 'no workloads' : table(rows)].join('\n');
}

function formatDaemon(d: DaemonInfo): string {
  const parts = [`daemon: pid ${d.pid} since ${d.startedAt}`];
  if (d.running) parts.push(`pass running since ${d.running.since} (${d.running.reasons.join(', ')})`);
  if (d.queued) parts.push(`follow-up pass queued (${d.queued.join(', ')})`);
  if (d.nextScheduled) parts.push(`next scheduled pass ${d.nextScheduled}`);
  return parts.join('; ');
}

export function registerStatus(program: Command, setExit: SetExit): void {
  program
    .command('status')
    .description('live generation, commit, and per-workload state')
    .option('--json', 'print the result as JSON')
    .option('--no-daemon', 'read the state in this process even when a moor daemon answers on the control socket')
    .action(async (opts: { json?: boolean; daemon?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const report =
        (opts.daemon !== false ? await statusViaDaemon<StatusReport>(config) : undefined) ?? (await statusReport(await openStoreReadOnly(config)));
      emit(opts, report, formatStatus);
      setExit(ExitCode.Ok);
    });
}
