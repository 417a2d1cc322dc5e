// Lists a checkout for discovery without ever following a symlink: entries come from
// lstat, and files are opened with O_NOFOLLOW so one swapped for a link after the lstat
// is reported, not read through. The checkout is written by whoever can push, so
// nothing here trusts its shape.
import { constants, promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { TreeEntry } from '../core/types';
import { HostError } from '../core/errors';

/** Entries deeper than this are listed but never entered or read (discovery refuses them). */
export const SCAN_MAX_DEPTH = 3;
/** Entries within this depth are the only ones whose content can matter. */
const READ_MAX_DEPTH = 2;

export interface ScanOptions {
  maxFileBytes: number;
}

export async function scanTree(root: string, opts: ScanOptions): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  await walk(root, '', 1, opts, out);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function walk(root: string, rel: string, depth: number, opts: ScanOptions, out: TreeEntry[]): Promise<void> {
  const names = await attempt(`read directory ${rel || '.'}`, () => fs.readdir(path.join(root, rel)));
  for (const name of names) {
    if (name === '.git') continue;
    const relPath = rel ? `${rel}/${name}` : name;
    const abs = path.join(root, relPath);
    const st = await attempt(`inspect ${relPath}`, () => fs.lstat(abs));
    if (st.isSymbolicLink()) {
      out.push({ path: relPath, type: 'symlink', size: st.size });
    } else if (st.isDirectory()) {
      out.push({ path: relPath, type: 'dir', size: 0 });
      if (depth < SCAN_MAX_DEPTH) await walk(root, relPath, depth + 1, opts, out);
    } else if (!st.isFile()) {
      out.push({ path: relPath, type: 'other', size: st.size });
    } else if (depth > READ_MAX_DEPTH || st.size > opts.maxFileBytes) {
      out.push({ path: relPath, type: 'file', size: st.size });
    } else {
      out.push({ path: relPath, ...(await readRegularFile(abs, opts.maxFileBytes)) });
    }
  }
}

export type ReadResult =
  | { type: 'file'; size: number; content?: string }
  | { type: 'symlink' | 'other'; size: number };

/**
 * Reads a regular file of at most `maxBytes` without following a symlink or blocking on
 * a fifo, judging the file by what was opened rather than by an earlier lstat.
 */
export async function readRegularFile(abs: string, maxBytes: number): Promise<ReadResult> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ELOOP') return { type: 'symlink', size: 0 };
    throw new HostError(`cannot open ${abs}: ${messageOf(err)}`, { cause: err });
  }
  try {
    const st: Stats = await handle.stat();
    if (!st.isFile()) return { type: 'other', size: st.size };
    if (st.size > maxBytes) return { type: 'file', size: st.size };
    // The file may have grown since fstat: read until EOF, giving up past the limit.
    const chunks: Buffer[] = [];
    const chunkSize = Math.min(Math.max(st.size, 4096), maxBytes) + 1;
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkSize);
      const { bytesRead } = await handle.read(buf, 0, chunkSize, total);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) return { type: 'file', size: Math.max(total, st.size) };
    }
    return { type: 'file', size: total, content: Buffer.concat(chunks).toString('utf8') };
  } finally {
    await handle.close();
  }
}

async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new HostError(`cannot ${what} in the checkout: ${messageOf(err)}`, { cause: err });
  }
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
