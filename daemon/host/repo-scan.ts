// Lists a checkout for discovery without ever following a symlink: entries come from
// lstat, and files are opened with O_NOFOLLOW so one swapped for a link after the lstat
// is reported, not read through. The checkout is written by whoever can push, so
// nothing here trusts its shape.
import { lstatSync, opendirSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import type { RepoBudget } from '../core/config/schema';
import type { TreeEntry } from '../core/types';
import { HostError, ValidationError } from '../core/errors';
import { BudgetTally, DEFAULT_REPO_BUDGET } from '../core/repo-budget';
import { SECRET_EXT } from '../core/secrets';
import { displayBytes, readRegularFile } from './hostile-files';
import { HOSTS_DIR } from '../core/fleet';

/** Entries deeper than this are counted against the budget but never listed or read (discovery refuses them). */
export const SCAN_MAX_DEPTH = 3;
/** Entries within this depth are the only ones whose content can matter. */
const READ_MAX_DEPTH = 2;
/** Entries looked at or read between two turns of the event loop (see breather). */
const ENTRIES_PER_TURN = 256;

export interface ScanOptions {
  maxFileBytes: number;
  /** Budgets on the whole tree (every file below the root but .git); the defaults when unset. */
  budget?: RepoBudget;
}

interface Walk {
  opts: ScanOptions;
  tally: BudgetTally;
  out: TreeEntry[];
  /** Files to read once the whole tree is known to fit the budget. */
  toRead: { entry: TreeEntry; abs: Buffer }[];
  /** Entries handled since the event loop last had a turn. */
  sinceYield: number;
}

const SLASH = Buffer.from('/');
const HOST_FOLDERS = Buffer.from(`${HOSTS_DIR}/`);

/**
 * The depth discovery sees an entry at: below hosts/<name>/ a fleet's host sees the folder's
 * files as if at the root (core/fleet), so they are listed and read two levels deeper.
 * Without fleet.toml, discovery refuses hosts/<name>/ as too deep, as it always has.
 */
function depthSeen(relPath: Buffer, depth: number): number {
  return depth >= 3 && relPath.subarray(0, HOST_FOLDERS.length).equals(HOST_FOLDERS) ? depth - 2 : depth;
}
const DOT_GIT = Buffer.from('.git');

/**
 * Lists the tree in two steps: first every entry (lstat only), counted against the budget
 * as it goes and stopped at the first limit crossed (a ValidationError naming it); then,
 * for a tree within budget, the contents of the files discovery can use. Names are read as
 * bytes: one that is not UTF-8 is listed with `rawPath` (its bytes spelled out) for
 * discovery to refuse or ignore, never entered or read.
 */
export async function scanTree(root: string, opts: ScanOptions): Promise<TreeEntry[]> {
  const w: Walk = { opts, tally: new BudgetTally(opts.budget ?? DEFAULT_REPO_BUDGET), out: [], toRead: [], sinceYield: 0 };
  await walk(Buffer.from(root), Buffer.alloc(0), 1, true, w);
  if (w.tally.exceeded) throw new ValidationError([w.tally.exceeded]);
  // A secret's ciphertext is binary (age's default form): carried as base64, byte for byte.
  for (const { entry, abs } of w.toRead) {
    Object.assign(entry, readRegularFile(abs, opts.maxFileBytes, entry.path.endsWith(`.${SECRET_EXT}`) ? 'base64' : 'utf8'));
    await breather(w);
  }
  return w.out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The tree is read with synchronous system calls: asynchronous ones are each a trip through
 * libuv's thread pool, and 500 files took 80-120 ms that way against about 10 ms. Every
 * ENTRIES_PER_TURN entries the event loop gets a turn, so a large tree does not hold up the
 * daemon's other work (its control socket, its watchdog) for long.
 */
async function breather(w: Walk): Promise<void> {
  if (++w.sinceYield < ENTRIES_PER_TURN) return;
  w.sinceYield = 0;
  await new Promise<void>((resolve) => setImmediate(resolve));
}

async function walk(root: Buffer, rel: Buffer, depth: number, listed: boolean, w: Walk): Promise<void> {
  const shownDir = rel.length > 0 ? displayBytes(rel) : '.';
  // With 'buffer', names come as bytes, whatever their encoding (Node's types admit only text encodings here).
  const dir = attempt(`read directory ${shownDir}`, () => opendirSync(join(root, rel), { encoding: 'buffer' as BufferEncoding }));
  try {
    for (;;) {
      const dirent = attempt(`read directory ${shownDir}`, () => dir.readSync());
      if (dirent === null) return;
      const name = dirent.name as unknown as Buffer;
      if (name.equals(DOT_GIT)) continue;
      const relPath = rel.length > 0 ? Buffer.concat([rel, SLASH, name]) : name;
      const abs = join(root, relPath);
      const utf8 = isUtf8(relPath);
      const shown = displayBytes(relPath);
      const st = attempt(`inspect ${shown}`, () => lstatSync(abs));
      const isDir = st.isDirectory();
      if (w.tally.add(shown, depth, isDir ? undefined : st.size)) return;
      const entry: TreeEntry = {
        path: relPath.toString('utf8'),
        type: st.isSymbolicLink() ? 'symlink' : isDir ? 'dir' : st.isFile() ? 'file' : 'other',
        size: isDir ? 0 : st.size,
        ...(utf8 ? {} : { rawPath: shown }),
      };
      // Below a name discovery refuses, or deeper than it looks, entries are only counted.
      const seen = depthSeen(relPath, depth);
      const listHere = listed && seen <= SCAN_MAX_DEPTH;
      if (listHere) w.out.push(entry);
      await breather(w);
      if (isDir) {
        await walk(root, relPath, depth + 1, listHere && utf8, w);
        if (w.tally.exceeded) return;
      } else if (listHere && utf8 && entry.type === 'file' && seen <= READ_MAX_DEPTH && st.size <= w.opts.maxFileBytes) {
        w.toRead.push({ entry, abs });
      }
    }
  } finally {
    try {
      dir.closeSync();
    } catch {
      // Closing a directory handle that failed to read: nothing to report beyond that failure.
    }
  }
}

function join(root: Buffer, rel: Buffer): Buffer {
  return rel.length > 0 ? Buffer.concat([root, SLASH, rel]) : root;
}

function attempt<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new HostError(`cannot ${what} in the checkout: ${messageOf(err)}`, { cause: err });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
