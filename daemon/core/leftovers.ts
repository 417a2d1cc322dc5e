// What a removed workload leaves outside its home, and the bounded searches that find it
// (docs/design.md §6, step 7): files its uid or its subordinate range own in the shared
// temporary and spool directories, and its journal files. Pure: argv only; host/ runs them.
import type { IdRange } from './parse/subid';

/** Who a removal cleans up after: the user's uid and its subordinate uid ranges. */
export interface Owners {
  user: string;
  uid: number;
  ranges: readonly IdRange[];
}

/**
 * World-writable or per-user spool directories where a user can leave files; searched
 * with -xdev. /run/lock (1777 on Debian) and /dev/mqueue (POSIX message queues) are
 * world-writable too.
 */
export const LEFTOVER_ROOTS: readonly string[] = ['/tmp', '/var/tmp', '/dev/shm', '/run/lock', '/dev/mqueue', '/var/spool/cron', '/var/spool/at'];
/** journald's persistent and volatile stores; user-UID*.journal files are root's, matched by name. */
export const JOURNAL_ROOTS: readonly string[] = ['/var/log/journal', '/run/log/journal'];

/**
 * find's test for "owned by the uid or a uid of a range". A range is two numeric
 * comparisons (`-uid +A-1 -uid -B`), never a list: a range is usually 65536 ids.
 */
export function ownerTest(owners: Owners): string[] {
  const terms: string[][] = [['-uid', String(owners.uid)]];
  for (const r of owners.ranges) terms.push(['(', '-uid', `+${r.start - 1}`, '-uid', `-${r.start + r.count}`, ')']);
  return ['(', ...terms.flatMap((t, i) => (i === 0 ? t : ['-o', ...t])), ')'];
}

/**
 * find over one root: what the owners own, plus (under the cron spools) the user's crontab
 * by name, which some distributions keep owned by root. find never follows a symlink (-P,
 * its default) and stays on the root's file system (-xdev); -delete implies -depth.
 */
export function leftoverFindArgv(root: string, owners: Owners, action: 'delete' | 'print'): string[] {
  const byName =
    root === '/var/spool/cron'
      ? ['-o', '(', '-type', 'f', '(', '-path', `${root}/crontabs/${owners.user}`, '-o', '-path', `${root}/${owners.user}`, ')', ')']
      : [];
  return ['find', '-P', root, '-xdev', '-ignore_readdir_race', '(', ...ownerTest(owners), ...byName, ')', `-${action}`];
}

/** find over one journal root: `<machine-id>/user-UID.journal`, `user-UID@….journal` and `….journal~`. */
export function journalFindArgv(root: string, uid: number, action: 'delete' | 'print'): string[] {
  return [
    'find',
    '-P',
    root,
    '-xdev',
    '-ignore_readdir_race',
    '-mindepth',
    '2',
    '-maxdepth',
    '2',
    '-type',
    'f',
    '(',
    '-name',
    `user-${uid}.journal`,
    '-o',
    '-name',
    `user-${uid}@*.journal`,
    '-o',
    '-name',
    `user-${uid}@*.journal~`,
    ')',
    `-${action}`,
  ];
}

/** Is this uid the user's or in one of its ranges? */
export function isOwnedId(owners: Owners, id: number): boolean {
  return id === owners.uid || owners.ranges.some((r) => id >= r.start && id < r.start + r.count);
}

/** `ps -e -o pid=,ruid=,euid=,suid=` → the pids any of whose uids the owners hold. */
export function pidsOwnedBy(psOutput: string, owners: Owners): number[] {
  const pids: number[] = [];
  for (const line of psOutput.split('\n')) {
    const fields = line.trim().split(/\s+/).map(Number);
    if (fields.length !== 4 || fields.some((f) => !Number.isSafeInteger(f))) continue;
    const [pid, ...ids] = fields as [number, number, number, number];
    if (ids.some((id) => isOwnedId(owners, id))) pids.push(pid);
  }
  return pids;
}

/**
 * GNU tar's --owner-map/--group-map lines that record the user's id as 0 and its range as
 * 1..N: the ids the files have inside the user's own user namespace (podman unshare).
 * An archive so written restores, unpacked inside the namespace of any user, to that
 * user's uid and range, whatever their numbers are.
 */
export function namespaceMapLines(id: number, ranges: readonly IdRange[]): string {
  const lines = [`+${id} +0`];
  let inside = 1;
  for (const r of ranges) {
    for (let k = 0; k < r.count; k++) lines.push(`+${r.start + k} +${inside + k}`);
    inside += r.count;
  }
  return `${lines.join('\n')}\n`;
}
