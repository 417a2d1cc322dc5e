// Workload trees (docs/design.md §7): the rendered files of one workload, stored once as a
// directory named by their content, trees/<sha256>-<bytes>/<path>. A generation names each
// workload's tree in its manifest, so a pass that changes one workload writes one tree, and
// a tree already on disk is never written again. A tree is written whole under a temporary
// name, fsynced, and renamed into place: a tree that exists is complete, and it never
// changes afterwards. Its name carries its size, so the byte budget of gc is a readdir.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { StateError } from '../core/errors';
import type { FileContents } from '../core/types';
import { DIR_MODE, FILE_MODE, ensureDir, fsyncDir, isNotFound, listDir, stateWriteError } from './atomic';
import { assertRelativePath } from './layout';

export const TREE_ID = /^[0-9a-f]{64}-\d+$/;
const TMP_PREFIX = '.tmp-';

/**
 * The name of a workload's files: a sha256 over every path, its length and its content,
 * in path order, then the bytes the contents take. The same files always make the same
 * name, and any change of a path or a content another.
 */
export function treeId(files: FileContents): string {
  const hash = createHash('sha256');
  let bytes = 0;
  for (const path of Object.keys(files).sort()) {
    const content = Buffer.from(files[path]!, 'utf8');
    bytes += content.length;
    hash.update(path).update('\0').update(String(content.length)).update('\0').update(content);
  }
  return `${hash.digest('hex')}-${bytes}`;
}

/** The bytes of a tree's contents, as its name says. */
export function treeBytes(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

export class TreeStore {
  /** Trees being written, by id: one write each, however many workloads share the content. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly dir: string) {}

  path(id: string): string {
    if (!TREE_ID.test(id)) throw new StateError(`invalid tree name ${JSON.stringify(id)}`);
    return join(this.dir, id);
  }

  /** The trees on disk: one readdir. */
  async list(): Promise<Set<string>> {
    return new Set((await listDir(this.dir)).filter((name) => TREE_ID.test(name)));
  }

  /**
   * Stores `files` as a tree unless it exists (`existing`, when given, is what list() said
   * before this pass wrote anything: a tree is never deleted during a pass). Returns its id.
   */
  async write(files: FileContents, existing?: ReadonlySet<string>): Promise<string> {
    const id = treeId(files);
    if (existing?.has(id)) return id;
    const pending = this.writes.get(id);
    if (pending) {
      await pending;
      return id;
    }
    const write = this.writeNew(id, files);
    this.writes.set(id, write);
    try {
      await write;
    } finally {
      this.writes.delete(id);
    }
    return id;
  }

  private async writeNew(id: string, files: FileContents): Promise<void> {
    const final = this.path(id);
    try {
      await fs.lstat(final);
      return;
    } catch (err) {
      if (!isNotFound(err)) throw stateWriteError(final, err);
    }
    await ensureDir(this.dir);
    const tmp = join(this.dir, `${TMP_PREFIX}${id.slice(0, 16)}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.mkdir(tmp, { mode: DIR_MODE });
      await fs.chmod(tmp, DIR_MODE);
      const dirs = new Set<string>([tmp]);
      for (const relPath of Object.keys(files).sort()) {
        assertRelativePath(relPath);
        const path = join(tmp, relPath);
        for (let dir = dirname(path); !dirs.has(dir); dir = dirname(dir)) dirs.add(dir);
        await fs.mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
        const handle = await fs.open(path, 'wx', FILE_MODE);
        try {
          await handle.writeFile(files[relPath]!, 'utf8');
          await handle.chmod(FILE_MODE);
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      // Deepest first: every entry is durable before the rename makes the tree visible.
      for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
        await fs.chmod(dir, DIR_MODE);
        await fsyncDir(dir);
      }
      await fs.rename(tmp, final);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      // Renamed over by an identical tree: what is there is what this write would have made.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await fs.lstat(final).catch(() => undefined))?.isDirectory()) return;
      throw stateWriteError(final, err);
    }
    await fsyncDir(this.dir).catch((err: unknown) => Promise.reject(stateWriteError(this.dir, err)));
  }

  /**
   * A tree's files at `paths`, checked against its name: a file missing, truncated or
   * changed is a StateError naming the tree, never content a rollback would apply.
   */
  async read(id: string, paths: readonly string[]): Promise<FileContents> {
    const dir = this.path(id);
    const files: FileContents = {};
    for (const relPath of paths) {
      assertRelativePath(relPath);
      const path = join(dir, relPath);
      try {
        files[relPath] = await fs.readFile(path, 'utf8');
      } catch (err) {
        throw new StateError(`${path}: unreadable: ${(err as Error).message}`);
      }
    }
    if (treeId(files) !== id) throw new StateError(`${dir}: its files do not match its name (changed or damaged on disk)`);
    return files;
  }

  /** Every file's path in a tree, sorted. */
  async paths(id: string): Promise<string[]> {
    const root = this.path(id);
    const out: string[] = [];
    // By hand: readdir's `recursive` and `parentPath` are not in every Node.js 20.
    const walk = async (rel: string): Promise<void> => {
      const dir = rel ? join(root, rel) : root;
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
        throw new StateError(`${dir}: unreadable: ${(err as Error).message}`);
      });
      for (const entry of entries) {
        const path = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) out.push(path);
      }
    };
    await walk('');
    return out.sort();
  }

  /** Deletes every tree not in `keep`; returns how many. Only under the pass lock. */
  async sweep(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const id of await this.list()) {
      if (keep.has(id)) continue;
      await fs.rm(join(this.dir, id), { recursive: true, force: true });
      removed++;
    }
    if (removed > 0) await fsyncDir(this.dir);
    return removed;
  }

  /** Temporary trees of a write that was killed. Only under the pass lock (no write is in flight). */
  async sweepLeftovers(): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await listDir(this.dir)) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      await fs.rm(join(this.dir, name), { recursive: true, force: true });
      removed.push(join('trees', name));
    }
    return removed;
  }
}
