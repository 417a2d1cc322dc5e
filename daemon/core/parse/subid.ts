// /etc/subuid and /etc/subgid: "NAME:START:COUNT" lines, NAME a user name or a numeric uid.
// A workload's subordinate ranges are the ids its rootless containers run as and own
// files as (docs/design.md §5); removal ends their processes, archives and deletes their
// files, so a range must belong to this user alone.

export interface IdRange {
  start: number;
  count: number;
}

export interface SubidEntry extends IdRange {
  owner: string;
}

/** Every well-formed line; comments, blanks and malformed lines are skipped, as shadow-utils does. */
export function parseSubidFile(text: string): SubidEntry[] {
  const out: SubidEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([^:\s]+):(\d+):(\d+)$/.exec(line);
    if (!m) continue;
    const start = Number(m[2]);
    const count = Number(m[3]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || count === 0) continue;
    out.push({ owner: m[1]!, start, count });
  }
  return out;
}

const overlap = (a: IdRange, b: IdRange) => a.start < b.start + b.count && b.start < a.start + a.count;

/**
 * The ranges of one user (named by name or by uid) and why they cannot be trusted as its
 * own: a range shared with another entry, or one holding a uid below `minId` (a system or
 * ordinary user's uid). Problems mean moor must not act on the range at all.
 */
export function subidRangesOf(entries: readonly SubidEntry[], user: string, uid: number, minId: number): { ranges: IdRange[]; problems: string[] } {
  const mine = (e: SubidEntry) => e.owner === user || e.owner === String(uid);
  const ranges = entries.filter(mine).map(({ start, count }) => ({ start, count }));
  const problems: string[] = [];
  for (const r of ranges) {
    const shared = entries.find((e) => !mine(e) && overlap(e, r));
    if (shared) problems.push(`range ${r.start}+${r.count} overlaps ${shared.owner}'s ${shared.start}+${shared.count}`);
    if (r.start < minId) problems.push(`range ${r.start}+${r.count} starts below ${minId}`);
    if (uid >= r.start && uid < r.start + r.count) problems.push(`range ${r.start}+${r.count} holds the user's own uid ${uid}`);
  }
  return { ranges, problems };
}
