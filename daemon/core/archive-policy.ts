// Archives of removed workloads' homes (docs/design.md §7): their names, and which ones
// garbage collection deletes. Pure: the caller lists the files and passes the time.

export interface ArchiveName {
  workload: string;
  uid: number;
  createdAt: Date;
}

export interface ArchiveInfo extends ArchiveName {
  /** The file name under state_dir/archives. */
  name: string;
  bytes: number;
}

export interface ArchivePolicy {
  /** An archive older than this is deleted. */
  maxAgeMs: number;
  /** The newest archives are kept while their sizes add up to at most this. */
  maxBytes: number;
}

export interface ArchiveGcDecision {
  name: string;
  delete: boolean;
  reason: string;
}

export const ARCHIVE_SUFFIX = '.tar.gz';
const NAME = /^([a-z_][a-z0-9_-]*)-(\d+)-(\d{8})T(\d{6})Z\.tar\.gz$/;

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');

/** `<workload>-<uid>-<YYYYMMDDTHHMMSSZ>.tar.gz`, in UTC. */
export function archiveFileName(workload: string, uid: number, at: Date): string {
  return `${workload}-${uid}-${stamp(at)}${ARCHIVE_SUFFIX}`;
}

/** The parts of an archive's file name, or undefined for any other name. */
export function parseArchiveFileName(name: string): ArchiveName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const [, workload, uid, day, time] = m as unknown as [string, string, string, string, string];
  const iso = `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}T${time.slice(0, 2)}:${time.slice(2, 4)}:${time.slice(4)}Z`;
  const createdAt = new Date(iso);
  if (Number.isNaN(createdAt.getTime()) || !Number.isSafeInteger(Number(uid))) return undefined;
  return { workload, uid: Number(uid), createdAt };
}

/**
 * Newest first (by creation time in the name, then name): an archive older than maxAge is
 * deleted; otherwise it is kept while the kept ones add up to at most maxBytes, and
 * deleted beyond that. The newest archive is never deleted for its size, nor at all the
 * one a removal just made (`justMade`): the removal must not lose its data to its own
 * garbage collection. That one is named apart because a name holds the clock's time:
 * after the clock stepped back, the archive just made reads older than ones made before it.
 */
export function decideArchiveGc(archives: readonly ArchiveInfo[], policy: ArchivePolicy, now: Date, justMade?: string): ArchiveGcDecision[] {
  const newestFirst = [...archives].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.name < b.name ? 1 : -1));
  let kept = newestFirst.find((a) => a.name === justMade)?.bytes ?? 0;
  return newestFirst.map((a, i) => {
    if (a.name === justMade) return { name: a.name, delete: false, reason: 'just made' };
    const age = now.getTime() - a.createdAt.getTime();
    if (age > policy.maxAgeMs) return { name: a.name, delete: true, reason: 'older than archive_max_age' };
    if (i > 0 && kept + a.bytes > policy.maxBytes) return { name: a.name, delete: true, reason: 'beyond archive_max_bytes' };
    kept += a.bytes;
    return { name: a.name, delete: false, reason: i === 0 ? 'newest' : 'within the age and size budget' };
  });
}
