// What a removed workload leaves outside its user manager and its home (docs/design.md §5,
// §6 step 7): processes of its uid or its subordinate range that live elsewhere (a rootless
// Podman pause process an administrator's `runuser -u W podman ps` left in their own
// session), and files they own in the shared temporary and spool directories, and its
// journal files. Every search is a bounded find that never follows a symlink; nothing
// owned by anyone else is touched.
import { lstat, readFile } from 'node:fs/promises';
import { HostError } from '../core/errors';
import { JOURNAL_ROOTS, LEFTOVER_ROOTS, journalFindArgv, leftoverFindArgv, pidsOwnedBy, type Owners } from '../core/leftovers';
import { parseLoginDefs } from '../core/parse/login-defs';
import { parseSubidFile, subidRangesOf, type IdRange } from '../core/parse/subid';
import type { Clock, CommandRunner } from '../core/ports';
import { commandError } from './exec';

export interface LeftoversOptions {
  timeoutMs?: number;
  /** Reads /etc/subuid, /etc/subgid and /etc/login.defs (a seam for tests). */
  readFile?: (path: string) => Promise<string>;
  /** What a path is, not following a symlink (a seam for tests). */
  pathKind?: PathKindOf;
  pollMs?: number;
}

export interface SubordinateIds {
  uids: IdRange[];
  gids: IdRange[];
}

const MAX_LISTED = 10;

export type PathKind = 'directory' | 'missing' | 'other';
export type PathKindOf = (path: string) => Promise<PathKind>;

/** lstat: a symlink to a directory is 'other'. */
export async function realPathKind(path: string): Promise<PathKind> {
  try {
    return (await lstat(path)).isDirectory() ? 'directory' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
}

async function readOrEmpty(read: (p: string) => Promise<string>, path: string): Promise<string> {
  try {
    return await read(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

export class Leftovers {
  private readonly timeoutMs: number;
  private readonly readFile: (path: string) => Promise<string>;
  private readonly pathKind: PathKindOf;
  private readonly pollMs: number;

  constructor(
    private readonly runner: CommandRunner,
    private readonly clock: Clock,
    options: LeftoversOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.readFile = options.readFile ?? ((p) => readFile(p, 'utf8'));
    this.pathKind = options.pathKind ?? realPathKind;
    this.pollMs = options.pollMs ?? 200;
  }

  /**
   * The user's subordinate uid and gid ranges, read before userdel deletes them. A range
   * shared with another entry or reaching below SUB_UID_MIN/SUB_GID_MIN is not trusted as
   * the user's: removal stops before it changes anything.
   */
  async subordinateIds(user: string, uid: number): Promise<SubordinateIds> {
    const defs = await readOrEmpty(this.readFile, '/etc/login.defs');
    const uids = subidRangesOf(parseSubidFile(await readOrEmpty(this.readFile, '/etc/subuid')), user, uid, parseLoginDefs(defs).SUB_UID_MIN);
    const gids = subidRangesOf(parseSubidFile(await readOrEmpty(this.readFile, '/etc/subgid')), user, uid, parseLoginDefs(defs).SUB_GID_MIN);
    const problems = [...uids.problems.map((p) => `/etc/subuid: ${p}`), ...gids.problems.map((p) => `/etc/subgid: ${p}`)];
    if (problems.length > 0) {
      throw new HostError(`refusing to remove user ${user}: its subordinate ids are not its own (${problems.join('; ')}); fix /etc/subuid and /etc/subgid; nothing was changed`);
    }
    return { uids: uids.ranges, gids: gids.ranges };
  }

  /**
   * SIGKILL to every process whose real, effective or saved uid is the owners', wherever
   * it runs, until none is left; bounded by `timeoutMs` overall.
   */
  async killAll(owners: Owners, timeoutMs: number): Promise<number> {
    const deadline = this.clock.now().getTime() + timeoutMs;
    let killed = 0;
    for (;;) {
      const ps = await this.runner.run(['ps', '-e', '-o', 'pid=', '-o', 'ruid=', '-o', 'euid=', '-o', 'suid='], { timeoutMs: this.timeoutMs });
      if (ps.exitCode !== 0 || ps.timedOut) throw commandError(ps);
      const pids = pidsOwnedBy(ps.stdout, owners);
      if (pids.length === 0) return killed;
      if (this.clock.now().getTime() >= deadline) {
        throw new HostError(`processes of user ${owners.user} (uid ${owners.uid} or its subordinate range) still run after SIGKILL for ${timeoutMs} ms: ${pids.slice(0, MAX_LISTED).join(', ')}; nothing was deleted`);
      }
      // Exits 1 when one of them has already gone; the next listing is the judge.
      await this.runner.run(['kill', '-s', 'KILL', '--', ...pids.map(String)], { timeoutMs: this.timeoutMs });
      killed += pids.length;
      await this.clock.sleep(this.pollMs);
    }
  }

  /**
   * Deletes what the owners own under each leftover root and the uid's journal files, then
   * searches again: anything still there (a directory of the user holding someone else's
   * file) fails the removal, naming it.
   */
  async removeAll(owners: Owners): Promise<void> {
    const searches: ((action: 'delete' | 'print') => string[])[] = [];
    for (const root of LEFTOVER_ROOTS) if ((await this.pathKind(root)) === 'directory') searches.push((a) => leftoverFindArgv(root, owners, a));
    for (const root of JOURNAL_ROOTS) if ((await this.pathKind(root)) === 'directory') searches.push((a) => journalFindArgv(root, owners.uid, a));
    // A failed -delete (a non-empty directory) shows up in the search after it.
    for (const search of searches) await this.runner.run(search('delete'), { timeoutMs: this.timeoutMs });
    const left: string[] = [];
    for (const search of searches) {
      const result = await this.runner.run(search('print'), { timeoutMs: this.timeoutMs });
      if (result.exitCode !== 0 || result.timedOut) throw commandError(result);
      left.push(...result.stdout.split('\n').filter((l) => l !== ''));
    }
    if (left.length > 0) {
      const shown = left.slice(0, MAX_LISTED).join(', ') + (left.length > MAX_LISTED ? `, and ${left.length - MAX_LISTED} more` : '');
      throw new HostError(`files of user ${owners.user} (uid ${owners.uid} or its subordinate range) could not be deleted: ${shown}; remove them (or what blocks them) by hand, the next pass completes the removal`);
    }
  }
}
