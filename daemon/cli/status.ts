// moor status [WORKLOAD]: the live generation, its commit, and every workload's state at a
// glance: the commit each one runs, what systemd runs now and any drift, and an exit code
// that says whether anything needs attention. With a workload: that one in detail.
import type { Command } from 'commander';
import { UsageError } from '../core/errors';
import { liveUnitsText } from '../core/live-units';
import { formatUnitLogLine } from '../core/unit-log';
import { driftOf, statusExitCode, type DaemonInfo, type StatusReport, type WorkloadStatus } from '../state/reports';
import type { WorkloadDetail } from '../state/workload-detail';
import { configFrom, type SetExit } from './common';
import { emit, table } from './output';
import { safeText } from '../core/safe-text';

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
  if (r.systemd) lines.push(systemdLine(r));
  const rows = [['WORKLOAD', 'USER', 'UID', 'COMMIT', 'ACTION', 'RESULT', 'APPLIED', 'NOW', 'ERROR']];
  for (const w of r.workloads) {
    rows.push([w.workload, w.user, w.uid?.toString() ?? '-', w.appliedCommit?.slice(0, 12) ?? '-', w.action ?? '-', resultText(w), w.removedAt ?? w.appliedAt ?? 'never', nowText(w), w.error ?? '']);
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

/** When the NOW column was read from systemd, how many workloads drifted; or why it was not read. */
function systemdLine(r: StatusReport): string {
  if (!r.systemd || 'unavailable' in r.systemd) return `now: not read: ${r.systemd?.unavailable ?? 'unknown'}`;
  const drifted = r.workloads.filter((w) => driftOf(w).length > 0).map((w) => w.workload);
  const drift = drifted.length > 0 ? `; DRIFT in ${drifted.join(', ')}: a unit that should run does not (moor status WORKLOAD says why; the next pass re-applies it)` : '; no drift';
  return `now: units as systemd has them at ${r.systemd.readAt}${drift}`;
}

/** Each unit's state now, DRIFT first when one that should run does not. */
function nowText(w: WorkloadStatus): string {
  if (!w.systemd) return '-';
  return 'problem' in w.systemd ? `unknown: ${w.systemd.problem}` : liveUnitsText(w.systemd);
}

/** `moor status WORKLOAD` for people. */
export function formatDetail(d: WorkloadDetail): string {
  const w = d.workload;
  const lines = [`workload ${w.workload}: user ${w.user}${w.uid !== undefined ? ` (uid ${w.uid})` : ' (no user yet)'}`];
  lines.push(`runs: ${w.appliedCommit ? `@${w.appliedCommit.slice(0, 12)} from generation ${w.appliedGeneration ?? '-'}, applied ${w.appliedAt ?? '-'}` : 'nothing applied'}`);
  if (d.live) lines.push(`live generation: ${d.live.generation} @${d.live.commit.slice(0, 12)}`);
  lines.push(`last pass: ${w.action ?? '-'} ${resultText(w)}${w.generation !== undefined ? ` (generation ${w.generation})` : ''}${w.removedAt ? ` at ${w.removedAt}` : ''}`);
  if (w.error) lines.push(`last error: ${w.error}`);
  const out = lines.map((l) => safeText(l));
  out.push('');
  if (!w.systemd) {
    out.push(d.systemd && 'unavailable' in d.systemd ? `units now: not read: ${d.systemd.unavailable}` : 'units now: none (no user on this host)');
  } else if ('problem' in w.systemd) {
    out.push(safeText(`units now: unknown: ${w.systemd.problem}`));
  } else {
    out.push(safeText(`units now (user manager ${w.systemd.manager}${d.systemd && 'readAt' in d.systemd ? `, read at ${d.systemd.readAt}` : ''}):`));
    out.push(
      table([
        ['UNIT', 'LOAD', 'ACTIVE', 'SUB', 'RESULT', 'DRIFT'],
        ...w.systemd.units.map((u) => [u.unit, u.loadState, u.activeState, u.subState, u.result || '-', u.drift ?? '']),
      ]),
    );
  }
  if (Array.isArray(d.journal)) {
    for (const j of d.journal) {
      out.push('', `last lines of ${j.unit}:`, ...(j.lines.length > 0 ? j.lines.map((l) => `  ${formatUnitLogLine(l)}`) : ['  (none in the journal)']));
    }
  } else {
    out.push('', safeText(`journal: ${d.journal.unavailable}`));
  }
  return out.join('\n');
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
    .argument('[workload]', 'show this workload in detail: its units now, its generation and commit, the last error, the last lines of a failed unit')
    .description('live generation, commit, per-workload state as recorded and as systemd runs it now (drift flagged)')
    .option('--json', 'print the result as JSON')
    .option('--no-daemon', 'read the state in this process even when a moor daemon answers on the control socket')
    .action(async (workload: string | undefined, opts: { json?: boolean; daemon?: boolean }, cmd: Command) => {
      // Loaded here, not with the command line: the other commands never need it (build.ts).
      // Its loading starts before the config's, so that they go on at once; a failure of
      // it is awaited below (and handled there), after any config error.
      const loading = import('./status-run');
      loading.catch(() => undefined);
      const config = await configFrom(cmd);
      const { runStatus } = await loading;
      const { report, detail: detailOf } = await runStatus(config, opts.daemon !== false);
      if (workload !== undefined) {
        const detail = await detailOf(workload);
        if (!detail) throw new UsageError(`no workload named "${safeText(workload)}" on this host (moor status lists them)`);
        emit(opts, detail, formatDetail);
        setExit(statusExitCode({ workloads: [detail.workload] }));
        return;
      }
      emit(opts, report, formatStatus);
      // Scripts and monitoring read the state from the code: 1 when a workload failed, is rolled back or drifted (README, exit codes).
      setExit(statusExitCode(report));
    });
}
