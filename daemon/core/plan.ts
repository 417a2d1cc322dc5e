// Step 5 of a pass (docs/design.md §6): compare the rendered desired state with what was last
// applied (content hashes) and with what the host shows, and decide per workload.
import type { Problem } from './problem';
import type { FileHashes } from './types';
import { byText } from './text-order';

export interface DesiredEntry {
  name: string;
  user: string;
  /** Hash of every rendered file of the workload. */
  hash: string;
  hashes: FileHashes;
}

export interface AppliedEntry {
  workload: string;
  user: string;
  hash: string;
  hashes: FileHashes;
  /** Set when the last update failed and the previous version was brought back up. */
  rolledBack?: RolledBackFrom;
}

/** The version an automatic rollback turned away from: tried again only when it changes or on redeploy. */
export interface RolledBackFrom {
  /** Content hash of the version that failed. */
  hash: string;
  commit: string;
  /** Why it failed. */
  error: string;
}

/** What the host shows for a workload whose spec did not change. */
export interface Observation {
  /** Unset when the host was not asked (e.g. a dry run without systemd). */
  drift?: string;
}

/** What a pass does with a workload; generations record the same words. */
export const PLAN_ACTIONS = ['create', 'update', 'redeploy', 'drift', 'unchanged', 'keep', 'remove', 'skip'] as const;
export type PlanAction = (typeof PLAN_ACTIONS)[number];

export interface PlanItem {
  workload: string;
  user: string;
  action: PlanAction;
  reason: string;
  /** Target paths whose content is new or changed. */
  changed: string[];
  /** Target paths applied before and no longer desired. */
  removed: string[];
  problems?: Problem[];
}

export interface PlanInput {
  desired: readonly DesiredEntry[];
  /** Workloads present in the repo whose own files are invalid: left exactly as they run. */
  invalid: ReadonlyMap<string, { user: string; problems: Problem[] }>;
  applied: readonly AppliedEntry[];
  observed: ReadonlyMap<string, Observation>;
  redeploy: ReadonlySet<string>;
}

export function planPass(input: PlanInput): PlanItem[] {
  const applied = new Map(input.applied.map((a) => [a.workload, a]));
  const items: PlanItem[] = [];
  for (const d of [...input.desired].sort((a, b) => byText(a.name, b.name))) {
    const prev = applied.get(d.name);
    const { changed, removed } = fileChanges(d.hashes, prev?.hashes ?? {});
    // The version an update rolled back from is not tried again until the repo changes it or a redeploy asks.
    const rolledBack = prev?.rolledBack?.hash === d.hash ? prev.rolledBack : undefined;
    if (!prev) {
      items.push({ workload: d.name, user: d.user, action: 'create', reason: 'new workload', changed, removed });
    } else if (rolledBack && !input.redeploy.has(d.name)) {
      // Kept, and repaired as the version it runs when the host lost it.
      const drift = input.observed.get(d.name)?.drift;
      if (drift) {
        items.push({ workload: d.name, user: d.user, action: 'drift', reason: `${drift} (the version it was ${keptReason(rolledBack)})`, changed: Object.keys(prev.hashes).sort(), removed: [] });
      } else {
        items.push({ workload: d.name, user: d.user, action: 'keep', reason: keptReason(rolledBack), changed: [], removed: [] });
      }
    } else if (prev.hash !== d.hash) {
      const reason = `${changed.length + removed.length} file(s) changed${rolledBack ? `; redeploy requested: trying again the version rolled back from ${rolledBack.commit.slice(0, 12)}` : ''}`;
      items.push({ workload: d.name, user: d.user, action: 'update', reason, changed, removed });
    } else if (input.redeploy.has(d.name)) {
      items.push({ workload: d.name, user: d.user, action: 'redeploy', reason: 'redeploy requested', changed: Object.keys(d.hashes).sort(), removed });
    } else if (input.observed.get(d.name)?.drift) {
      items.push({ workload: d.name, user: d.user, action: 'drift', reason: input.observed.get(d.name)!.drift!, changed: Object.keys(d.hashes).sort(), removed });
    } else {
      items.push({ workload: d.name, user: d.user, action: 'unchanged', reason: 'up to date', changed: [], removed: [] });
    }
  }
  for (const [name, bad] of [...input.invalid].sort(([a], [b]) => byText(a, b))) {
    items.push({ workload: name, user: bad.user, action: 'skip', reason: 'invalid spec: left as it runs now', changed: [], removed: [], problems: bad.problems });
  }
  const present = new Set([...input.desired.map((d) => d.name), ...input.invalid.keys()]);
  const removals = input.applied.filter((a) => !present.has(a.workload)).sort((a, b) => byText(b.workload, a.workload));
  for (const a of removals) {
    items.push({ workload: a.workload, user: a.user, action: 'remove', reason: 'no longer in the repository', changed: [], removed: Object.keys(a.hashes).sort() });
  }
  return items;
}

/** The plan's word for a kept workload: the failing commit and the first line of why. */
export function keptReason(r: RolledBackFrom): string {
  const cause = r.error.split('\n')[0]!;
  return `rolled back from ${r.commit.slice(0, 12)}: ${cause.length > 200 ? `${cause.slice(0, 199)}…` : cause}`;
}

function fileChanges(want: FileHashes, had: FileHashes): { changed: string[]; removed: string[] } {
  const changed = Object.keys(want).filter((p) => had[p] !== want[p]).sort();
  const removed = Object.keys(had).filter((p) => !(p in want)).sort();
  return { changed, removed };
}

export type RemovalLimit = { percent: number } | { count: number };

/** Step 5, the guard: a plan that removes every workload, or more than the limit, needs --allow-mass-removal. */
export function removalGuard(items: readonly PlanItem[], appliedCount: number, limit: RemovalLimit): string | undefined {
  const removals = items.filter((i) => i.action === 'remove').length;
  if (removals === 0) return undefined;
  if (removals === appliedCount) {
    return `the plan removes every workload (${removals}); an empty or wrong branch looks like this`;
  }
  const max = 'percent' in limit ? Math.floor((appliedCount * limit.percent) / 100) : limit.count;
  if (removals > max) {
    const what = 'percent' in limit ? `${limit.percent}% of ${appliedCount}` : `${limit.count}`;
    return `the plan removes ${removals} of ${appliedCount} workloads, more than max_removals (${what})`;
  }
  return undefined;
}
