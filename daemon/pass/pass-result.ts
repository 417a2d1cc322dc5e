// What a pass reports: per-item outcomes, counts, the one-line summary used in logs and
// sd_notify STATUS=, the exit code (docs/design.md §10), and how each of those is
// recorded: a generation's status item, a journal line, last-pass.json.
import type { Logger } from 'pino';
import type { PlanAction, PlanItem, RolledBackFrom } from '../core/plan';
import { ExitCode } from '../core/exit-codes';
import { MESSAGE_IDS, MESSAGE_ID_KEY } from '../core/journal-entry';
import type { StatusItem } from '../state/generation-records';
import type { LastPass } from '../state/last-pass';

export interface ItemOutcome {
  workload: string;
  user: string;
  uid?: number;
  action: PlanAction;
  reason: string;
  changed: string[];
  removed: string[];
  /** "planned" in a dry run; "rolled-back": the update failed and the previous version runs again (or still does: `keep`). */
  result: 'ok' | 'failed' | 'rolled-back' | 'planned';
  error?: string;
  durationMs: number;
  /** `moor plan`: unified diff of the workload's files. */
  diff?: string;
}

export interface PassCounts {
  applied: number;
  unchanged: number;
  failed: number;
  /** Updates that failed and were rolled back, in this pass or kept so from an earlier one. */
  rolledBack: number;
  removed: number;
}

export interface PassResult {
  kind: 'pass' | 'rollback';
  dryRun: boolean;
  commit: string;
  source: string;
  rollbackOf?: number;
  /** The generation pinned by a rollback, while it pins. */
  pinned?: number;
  /** Set when the pass changed something and so recorded a generation. */
  generation?: number;
  generationState?: 'complete' | 'failed';
  items: ItemOutcome[];
  /** A dry run whose plan a safety guard would refuse: why. */
  refused?: string;
  counts: PassCounts;
  summary: string;
  exitCode: ExitCode;
}

export function summarize(r: Omit<PassResult, 'counts' | 'summary' | 'exitCode'>): PassResult {
  const counts: PassCounts = { applied: 0, unchanged: 0, failed: 0, rolledBack: 0, removed: 0 };
  for (const i of r.items) {
    if (i.result === 'failed') counts.failed++;
    else if (i.result === 'rolled-back') counts.rolledBack++;
    else if (i.action === 'unchanged') counts.unchanged++;
    else if (i.action === 'remove') counts.removed++;
    else counts.applied++;
  }
  const failedNames = r.items.filter((i) => i.result === 'failed').map((i) => i.workload);
  const rolledBackNames = r.items.filter((i) => i.result === 'rolled-back').map((i) => i.workload);
  const where = `${r.generation !== undefined ? `gen ${r.generation} ` : ''}@${r.commit.slice(0, 7)}`;
  const what = r.dryRun
    ? `plan: ${r.items.filter((i) => i.action !== 'unchanged').length} to change, ${counts.unchanged} unchanged`
    : `${counts.applied} applied, ${counts.unchanged} unchanged, ${counts.failed} failed${failedNames.length ? ` (${failedNames.join(', ')})` : ''}${
        rolledBackNames.length ? `, ${counts.rolledBack} rolled back (${rolledBackNames.join(', ')})` : ''
      }, ${counts.removed} removed`;
  const rollback = r.kind === 'rollback' ? ` [rollback to gen ${r.rollbackOf}, pinned until moor resume]` : '';
  return {
    ...r,
    counts,
    summary: `${where}: ${what}${rollback}${r.refused ? ` — REFUSED: ${r.refused}` : ''}`,
    // A rolled-back workload does not run what the repo asks for: a partial apply, like a failure.
    exitCode: r.refused ? ExitCode.Refused : counts.failed + counts.rolledBack > 0 ? ExitCode.Partial : ExitCode.Ok,
  };
}

/** An item as planned, before anything ran. */
export function plannedOutcome(i: PlanItem): ItemOutcome {
  return { workload: i.workload, user: i.user, action: i.action, reason: i.reason, changed: i.changed, removed: i.removed, result: 'planned', durationMs: 0 };
}

/** The error of a `keep` item: the version that failed and why, as its rollback recorded them. */
export function keptError(item: PlanItem, rolledBack: RolledBackFrom | undefined): string {
  return rolledBack ? `still rolled back from ${rolledBack.commit.slice(0, 12)}: ${rolledBack.error}` : item.reason;
}

/** An item as the generation's status.json records it. */
export function toStatusItem(o: ItemOutcome, at: Date): StatusItem {
  return {
    workload: o.workload,
    user: o.user,
    ...(o.uid !== undefined ? { uid: o.uid } : {}),
    action: o.action,
    // Only finished items are recorded: a planned one never reaches a status file.
    result: o.result === 'planned' ? 'failed' : o.result,
    ...(o.error ? { error: o.error } : {}),
    durationMs: o.durationMs,
    at: at.toISOString(),
  };
}

/** One journal line per item; a failed item at error priority. */
export function logItem(log: Logger, o: ItemOutcome, generation: number | undefined, commit: string): void {
  const fields = {
    workload: o.workload,
    user: o.user,
    uid: o.uid,
    action: o.action,
    result: o.result,
    duration_ms: o.durationMs,
    generation,
    commit: commit.slice(0, 12),
    ...(o.error ? { error: o.error } : {}),
  };
  const failed = { ...fields, [MESSAGE_ID_KEY]: MESSAGE_IDS.workloadFailed };
  if (o.result === 'failed') log.error(failed, `${o.workload}: ${o.action} failed`);
  // The rollback itself is a failure of the update; a workload kept rolled back is a reminder.
  else if (o.result === 'rolled-back' && o.action !== 'keep') log.error(failed, `${o.workload}: ${o.action} failed, rolled back to the previous version`);
  else if (o.result === 'rolled-back') log.warn(fields, `${o.workload}: kept at the previous version (${o.reason})`);
  else log.info(fields, `${o.workload}: ${o.action} ${o.result}`);
}

/** The journal record of a pass about to run (MESSAGE_ID pass started). */
export function logPassStarted(log: Logger, reasons: string): void {
  log.info({ reasons, [MESSAGE_ID_KEY]: MESSAGE_IDS.passStarted }, 'pass starting');
}

/**
 * The journal record of a pass that ran (MESSAGE_ID pass finished), at error priority
 * unless it exited 0.
 */
export function logPassFinished(log: Logger, r: PassResult): void {
  const line = `pass ${r.exitCode === 0 ? 'done' : `ended with exit ${r.exitCode}`}: ${r.summary}`;
  const fields = { exit: r.exitCode, generation: r.generation, [MESSAGE_ID_KEY]: MESSAGE_IDS.passFinished };
  if (r.exitCode === 0) log.info(fields, line);
  else log.error(fields, line);
}

/** The journal record of a pass that ended in an error before it had a result (also pass finished). */
export function logPassFailed(log: Logger, exitCode: number, summary: string): void {
  log.error({ exit: exitCode, [MESSAGE_ID_KEY]: MESSAGE_IDS.passFinished }, summary);
}

/** The pass as last-pass.json records it. */
export function lastPassRecord(r: PassResult, at: Date): LastPass {
  return {
    at: at.toISOString(),
    kind: r.kind,
    commit: r.commit,
    source: r.source,
    ...(r.generation !== undefined ? { generation: r.generation } : {}),
    exitCode: r.exitCode,
    summary: r.summary,
    counts: { ...r.counts },
  };
}
