// state_dir/archives: the homes of removed workloads (docs/design.md §7), root-only files in
// a 0700 directory, named `<workload>-<uid>-<time>.tar.gz`, and their garbage collection by
// age and by a byte budget.
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { StateError } from '../core/errors';
import { archiveFileName, decideArchiveGc, parseArchiveFileName, type ArchiveGcDecision, type ArchiveInfo, type ArchivePolicy } from '../core/archive-policy';
import type { Clock } from '../core/ports';
import { isNotFound, listDir } from './atomic';
import { assertSafeName, type StateLayout } from './layout';

export interface ArchiveGcReport {
  deleted: string[];
  decisions: ArchiveGcDecision[];
  /** Leftovers of archives a killed removal was writing. */
  swept: string[];
}

/** Files an archive is made through (host/home-archive.ts); old ones belong to a killed removal. */
const WORK_FILE = /\.tar\.gz\.(partial|owner-map|group-map)$/;
/** Old enough that no removal still writes it: timeouts.archive bounds one. */
const WORK_FILE_MIN_AGE_MS = 24 * 60 * 60 * 1000;

export class ArchiveStore {
  constructor(
    private readonly layout: StateLayout,
    private readonly clock: Clock,
  ) {}

  get dir(): string {
    return this.layout.archives;
  }

  /** The path for a new archive of this workload's home. */
  newPath(workload: string, uid: number): string {
    assertSafeName('workload', workload);
    return join(this.layout.archives, archiveFileName(workload, uid, this.clock.now()));
  }

  /** An archive named by its file name or its path under the archives directory. */
  resolve(nameOrPath: string): string {
    const name = basename(nameOrPath);
    const inDir = nameOrPath === name || nameOrPath === join(this.layout.archives, name);
    if (!inDir || !parseArchiveFileName(name)) throw new StateError(`${nameOrPath} is not an archive of ${this.layout.archives} (see moor archives)`);
    return join(this.layout.archives, name);
  }

  /** Every archive, newest first; other files are ignored. */
  async list(): Promise<ArchiveInfo[]> {
    const out: ArchiveInfo[] = [];
    for (const name of await listDir(this.layout.archives)) {
      const parsed = parseArchiveFileName(name);
      if (!parsed) continue;
      try {
        const stat = await fs.lstat(join(this.layout.archives, name));
        if (stat.isFile()) out.push({ name, ...parsed, bytes: stat.size });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.name < b.name ? 1 : -1));
  }

  /**
   * Deletes the archives the policy selects, and work files of killed removals; never
   * `justMade`, the archive the calling removal made. Under the pass lock.
   */
  async gc(policy: ArchivePolicy, now = this.clock.now(), justMade?: string): Promise<ArchiveGcReport> {
    const decisions = decideArchiveGc(await this.list(), policy, now, justMade === undefined ? undefined : basename(justMade));
    const deleted: string[] = [];
    for (const d of decisions) {
      if (!d.delete) continue;
      await fs.rm(join(this.layout.archives, d.name), { force: true });
      deleted.push(d.name);
    }
    const swept: string[] = [];
    for (const name of await listDir(this.layout.archives)) {
      if (!WORK_FILE.test(name)) continue;
      const path = join(this.layout.archives, name);
      try {
        const stat = await fs.lstat(path);
        if (now.getTime() - stat.mtimeMs < WORK_FILE_MIN_AGE_MS) continue;
        await fs.rm(path, { force: true });
        swept.push(name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return { deleted, decisions, swept };
  }
}
