// Which uid and subordinate-id range a new workload user gets (docs/design.md §5). No uid or
// range is ever handed out twice: allocation starts above the highest uid and range ever
// handed out (the registry's high-water marks, which removal never lowers), and skips any
// uid in passwd and any range that overlaps an entry of /etc/subuid or /etc/subgid.
// Pure: the host layer reads those databases, the registry supplies the marks.
import { HostError } from './errors';
import type { LoginDefs } from './parse/login-defs';

/** A subordinate-id range: the same numbers are given as subuids and as subgids. */
export interface SubidRange {
  start: number;
  count: number;
}

/** Config `[users]`: an unset bound comes from /etc/login.defs. */
export interface IdRangeConfig {
  uidMin?: number;
  uidMax?: number;
  subidMin?: number;
  subidMax?: number;
  subidCount: number;
}

/** Where moor's uids and ranges come from (config `[users]`, defaults from login.defs). */
export interface IdPolicy {
  uidMin: number;
  uidMax: number;
  /** First subordinate id moor may hand out. */
  subidMin: number;
  /** Last subordinate id moor may hand out (inclusive). */
  subidMax: number;
  /** Size of each user's range. */
  subidCount: number;
}

export interface HighWater {
  /** Highest uid ever handed out; 0 when none was. */
  uid: number;
  /** One past the highest subordinate id ever handed out; 0 when none was. */
  subidEnd: number;
}

export interface AllocationInput {
  policy: IdPolicy;
  highWater: HighWater;
  /** Every uid in use (passwd), plus any a failed useradd reported as taken. */
  takenUids: Iterable<number>;
  /** Every range in /etc/subuid and /etc/subgid, whoever owns it. */
  takenRanges: readonly SubidRange[];
}

export interface Allocation {
  uid: number;
  subids: SubidRange;
}

/** The last id of a range. */
export const rangeLast = (r: SubidRange): number => r.start + r.count - 1;

/** "A-B" (first-last), the form usermod --add-subuids takes. */
export const formatRange = (r: SubidRange): string => `${r.start}-${rangeLast(r)}`;

function overlaps(a: SubidRange, b: SubidRange): boolean {
  return a.start <= rangeLast(b) && b.start <= rangeLast(a);
}

/**
 * The config's `[users]` bounds, an unset one taken from login.defs (the subid bounds
 * from the narrower of SUB_UID_* and SUB_GID_*, as one range serves both). Throws a
 * HostError when the bounds are unusable.
 */
export function resolveIdPolicy(config: IdRangeConfig, defs: LoginDefs): IdPolicy {
  const policy: IdPolicy = {
    uidMin: config.uidMin ?? defs.UID_MIN,
    uidMax: config.uidMax ?? defs.UID_MAX,
    subidMin: config.subidMin ?? Math.max(defs.SUB_UID_MIN, defs.SUB_GID_MIN),
    subidMax: config.subidMax ?? Math.min(defs.SUB_UID_MAX, defs.SUB_GID_MAX),
    subidCount: config.subidCount,
  };
  const problems = policyProblems(policy, { uidMin: defs.UID_MIN, uidMax: defs.UID_MAX });
  if (problems.length > 0) throw new HostError(`cannot hand out uids: ${problems.join('; ')}`);
  return policy;
}

/** Problems of a policy against the distribution's bounds, as fix-naming sentences. */
export function policyProblems(policy: IdPolicy, loginDefs: { uidMin: number; uidMax: number }): string[] {
  const out: string[] = [];
  if (policy.uidMin > policy.uidMax) out.push(`users.uid_min ${policy.uidMin} is above users.uid_max ${policy.uidMax}`);
  if (policy.uidMin < loginDefs.uidMin || policy.uidMax > loginDefs.uidMax) {
    out.push(
      `users.uid_min..uid_max (${policy.uidMin}..${policy.uidMax}) must lie within UID_MIN..UID_MAX of /etc/login.defs (${loginDefs.uidMin}..${loginDefs.uidMax}); narrow [users] or widen login.defs`,
    );
  }
  if (policy.subidCount < 1) out.push('users.subid_count must be at least 1');
  if (policy.subidMin + policy.subidCount - 1 > policy.subidMax) {
    out.push(`users.subid_min..subid_max (${policy.subidMin}..${policy.subidMax}) cannot hold one range of ${policy.subidCount}`);
  }
  return out;
}

/**
 * The next uid and range: the lowest uid above both uid_min - 1 and the uid high-water
 * mark that nobody holds, and the lowest range starting at or above both subid_min and
 * the range high-water mark that overlaps no existing range. Throws a HostError naming
 * the fix when the configured bounds are used up.
 */
export function allocateIds(input: AllocationInput): Allocation {
  const { policy, highWater } = input;
  const taken = new Set(input.takenUids);
  let uid = Math.max(policy.uidMin, highWater.uid + 1);
  while (taken.has(uid) && uid <= policy.uidMax) uid++;
  if (uid > policy.uidMax) {
    throw new HostError(
      `no uid left to hand out: every uid in ${policy.uidMin}..${policy.uidMax} above the highest one moor ever used (${highWater.uid}) is taken; uids are never reused, so raise users.uid_max (and UID_MAX in /etc/login.defs)`,
    );
  }

  const ranges = [...input.takenRanges].sort((a, b) => a.start - b.start);
  let start = Math.max(policy.subidMin, highWater.subidEnd);
  for (const r of ranges) {
    const candidate = { start, count: policy.subidCount };
    if (overlaps(candidate, r)) start = rangeLast(r) + 1;
  }
  const subids = { start, count: policy.subidCount };
  if (rangeLast(subids) > policy.subidMax) {
    throw new HostError(
      `no subordinate-id range of ${policy.subidCount} left below users.subid_max ${policy.subidMax} (the highest range moor ever used ends at ${highWater.subidEnd - 1}); ranges are never reused, so raise users.subid_max`,
    );
  }
  return { uid, subids };
}
