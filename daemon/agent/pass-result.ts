// What a pass reports: per-item outcomes, counts, the one-line summary used in logs and
// sd_notify STATUS=, and the exit code (DESIGN §10).
import type { PlanAction } from '../core/plan';
import { ExitCode } from '../exit-codes';

export interface ItemOutcome {
  workload: string;
  user: string;
  uid?: number;
  action: PlanAction;
  reason: string;
  changed: string[];
  removed: string[];
  /** "planned" in a dry run. */
  result: 'ok' | 'failed' | 'planned';
  error?: string;
  durationMs: number;
  /** `moor plan`: unified diff of the workload's files. */
  diff?: string;
}

export interface PassCounts {
  applied: number;
  unchanged: number;
  failed: number;
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
  const counts: PassCounts = { applied: 0, unchanged: 0, failed: 0, removed: 0 };
  for (const i of r.items) {
    if (i.result === 'failed') counts.failed++;
    else if (i.action === 'unchanged') counts.unchanged++;
    else if (i.action === 'remove') counts.removed++;
    else counts.applied++;
  }
  const failedNames = r.items.filter((i) => i.result === 'failed').map((i) => i.workload);
  const where = `${r.generation !== undefined ? `gen ${r.generation} ` : ''}@${r.commit.slice(0, 7)}`;
  const what = r.dryRun
    ? `plan: ${r.items.filter((i) => i.action !== 'unchanged').length} to change, ${counts.unchanged} unchanged`
    : `${counts.applied} applied, ${counts.unchanged} unchanged, ${counts.failed} failed${failedNames.length ? ` (${failedNames.join(', ')})` : ''}, ${counts.removed} removed`;
  const rollback = r.kind === 'rollback' ? ` [rollback to gen ${r.rollbackOf}, pinned until moor resume]` : '';
  return {
    ...r,
    counts,
    summary: `${where}: ${what}${rollback}${r.refused ? ` — REFUSED: ${r.refused}` : ''}`,
    exitCode: r.refused ? ExitCode.Refused : counts.failed > 0 ? ExitCode.Partial : ExitCode.Ok,
  };
}
