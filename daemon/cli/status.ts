// moor status: the live generation, its commit, and every workload's state at a glance:
// the commit each one runs, and an exit code that says whether anything needs attention.
import type { Command } from 'commander';
import { statusExitCode, statusReport, type DaemonInfo, type StatusReport, type WorkloadStatus } from '../state/reports';
import { configFrom, type SetExit } from './common';
import { emit, table } from './output';
import { openStoreReadOnly } from './pass-context';
import { safeText } from '../core/safe-text';
import { statusViaDaemon } from './via-daemon';

export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(liveLine(r));
  if (r.liveCorrupt) {
    lines.push(`LIVE GENERATION ${r.liveCorrupt.generation} IS CORRUPT: ${r.liveCorrupt.problem}; the next pass moves it to quarantine/ and records the host as it runs`);
  }
  if (r.latest && r.latest.generation !== r.live?.generation) {
    lines.push(`latest: generation ${r.latest.generation} @${r.latest.commit.slice(0, 12)} is ${r.latest.state.toUpperCase()}`);
  }
  if (r.pinned) lines.push(`PINNED to generation ${r.pinned.generation} since ${r.pinned.pinnedAt} by a rollback: run "moor resume" to follow the repo again`);
  if (r.lastPass) lines.push(`last pass: ${r.lastPass.at} exit ${r.lastPass.exitCode}: ${r.lastPass.summary}`);
  if (r.daemon) lines.push(formatDaemon(r.daemon));
  const rows = [['WORKLOAD', 'USER', 'UID', 'COMMIT', 'ACTION', 'RESULT', 'APPLIED', 'ERROR']];
  for (const w of r.workloads) {
    rows.push([w.workload, w.user, w.uid?.toString() ?? '-', w.appliedCommit?.slice(0, 12) ?? '-', w.action ?? '-', resultText(w), w.removedAt ?? w.appliedAt ?? 'never', w.error ?? '']);
  }
  // Each line above is one line, whatever a summary in it holds; table() does the same per cell.
  return [...lines.map((l) => safeText(l)), '', r.workloads.length === 0 ? 'no workloads' : table(rows)].join('\n');
}

/**
 * The live generation, and when not every workload runs it (a partial pass, a rollback, a
 * failure, a removal since), how many do and what the others run.
 */
function liveLine(r: StatusReport): string {
  if (!r.live) {
    const applied = r.workloads.filter((w) => w.appliedCommit !== undefined).length;
    return `live: no complete generation yet${applied > 0 ? `; ${applied} of ${r.workloads.length} workloads applied (COMMIT below)` : ''}`;
  }
  const signed = r.live.signer ? `, signed by ${r.live.signer.principal} (${r.live.signer.fingerprint})` : '';
  const live = `live: generation ${r.live.generation} @${r.live.commit.slice(0, 12)} (${r.live.kind}) from ${r.live.source}${signed}`;
  if (!r.mixed) return live;
  const shown = r.mixed.others.slice(0, 5).map((o) => {
    const files = o.commit !== undefined ? `@${o.commit.slice(0, 12)} (generation ${o.generation})` : 'nothing applied';
    return `${o.workload} ${files}${o.failed ? ' FAILED' : ''}`;
  });
  const more = r.mixed.others.length > shown.length ? `, ${r.mixed.others.length - shown.length} more` : '';
  return `${live}, run by ${r.mixed.running} of ${r.mixed.total} workloads; the others: ${shown.join(', ')}${more}`;
}

/** A rolled-back row names the commit it turned away from; a removed row says so. */
function resultText(w: WorkloadStatus): string {
  if (w.result === 'rolled-back' && w.rolledBack) return `rolled-back from ${w.rolledBack.commit.slice(0, 12)}`;
  return w.result ?? '-';
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
      // Scripts and monitoring read the state from the code: 1 when a workload failed or is rolled back (README, exit codes).
      setExit(statusExitCode(report));
    });
}
