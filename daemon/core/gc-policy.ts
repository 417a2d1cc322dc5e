// Which generations garbage collection deletes (docs/design.md §7). Pure: the caller lists the
// generations and passes the time. "Newest" and "rank" go by generation number, which
// only grows, rather than by timestamps, which a clock step can reorder.

export type GcGenerationState = 'complete' | 'failed' | 'aborted' | 'in-progress';

export interface GcGeneration {
  id: number;
  state: GcGenerationState;
  createdAt: Date;
}

export interface GcPolicy {
  /** Complete generations always kept, newest first. */
  keepMin: number;
  /** Complete generations kept at most, except those min_age still protects. */
  keepMax: number;
  /** A generation younger than this is never deleted, whatever its state (only maxBytes overrides). */
  minAgeMs: number;
  /** A complete generation older than this is deleted unless keep_min needs it. */
  maxAgeMs: number;
  /**
   * What generations may take on disk (file contents stored once): past it, the oldest
   * generations go, min_age and keep_min notwithstanding; never the live or pinned one,
   * nor the one in progress.
   */
  maxBytes?: number;
}

export interface GcDecision {
  id: number;
  delete: boolean;
  /** Why, in words an operator reads in `moor gc` output. */
  reason: string;
}

/**
 * The rules, first match wins for each generation:
 *
 * 1. Protected (the one `current` points at, the pinned one): kept. A rollback target
 *    or the live state must never vanish, whatever the counts and ages say.
 * 2. In progress: kept. It belongs to the pass that is running now.
 * 3. Younger than minAge, whatever its state: kept (as snapper's NUMBER_MIN_AGE: what
 *    happened days ago stays readable however busy the repo was). A failed or aborted
 *    generation is the record an operator reads to learn what went wrong, and it is
 *    promised by `moor generations`; a workload failing on every pass leaves one failed
 *    generation per pass for minAge, small since contents are stored once, and
 *    gc.max_bytes (applied by the store after these rules) bounds them all.
 * 4. Aborted (past minAge): deleted. A crashed pass; the next pass re-planned from applied/.
 * 5. Failed (past minAge): the newest failed one is kept for diagnosis (its status.json
 *    says what went wrong); older failed ones are deleted.
 * 6. Complete, ranked newest first among complete ones only:
 *    a. the newest keepMin are kept (at least keepMin stay to roll back to);
 *    b. one younger than minAge is kept, even beyond keepMax (rule 3);
 *    c. beyond the newest keepMax it is deleted;
 *    d. older than maxAge it is deleted (6a already kept the newest keepMin);
 *    e. otherwise kept.
 *
 * keepMin and keepMax count complete generations, the rollback targets; failed and
 * aborted ones neither count toward them nor are bounded by them. When keepMin exceeds
 * keepMax, keepMin wins (6a comes first); when minAge exceeds maxAge, minAge wins.
 */
export function decideGc(
  generations: readonly GcGeneration[],
  policy: GcPolicy,
  now: Date,
  protect: readonly number[],
): GcDecision[] {
  const protectedIds = new Set(protect);
  const newestFirst = [...generations].sort((a, b) => b.id - a.id);
  const newestFailed = newestFirst.find((g) => g.state === 'failed')?.id;
  let completeRank = 0;
  const decisions = newestFirst.map((g): GcDecision => {
    const keep = (reason: string): GcDecision => ({ id: g.id, delete: false, reason });
    const drop = (reason: string): GcDecision => ({ id: g.id, delete: true, reason });
    // Ranked before rule 1 so that a protected generation still counts toward the limits.
    const rank = g.state === 'complete' ? completeRank++ : -1;
    if (protectedIds.has(g.id)) return keep('protected (current or pinned)');
    if (g.state === 'in-progress') return keep('in progress');
    const ageMs = now.getTime() - g.createdAt.getTime();
    if (rank >= 0 && rank < policy.keepMin) return keep(`among the newest ${policy.keepMin} complete (keep_min)`);
    if (ageMs < policy.minAgeMs) return keep('younger than min_age');
    switch (g.state) {
      case 'aborted':
        return drop('aborted');
      case 'failed':
        return g.id === newestFailed ? keep('newest failed, kept for diagnosis') : drop('an older failed generation');
      case 'complete': {
        if (rank >= policy.keepMax) return drop(`beyond the newest ${policy.keepMax} complete (keep_max)`);
        if (ageMs > policy.maxAgeMs) return drop('older than max_age');
        return keep('within keep_max and max_age');
      }
    }
  });
  return decisions.sort((a, b) => a.id - b.id);
}
