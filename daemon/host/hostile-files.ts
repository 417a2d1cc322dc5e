// Reading what someone else controls (a checkout anyone who can push writes, a file in a
// workload user's runtime directory): names spelled safely for messages, and regular files
// read without following a symlink or waiting on a FIFO, by what was opened.
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { HostError } from '../core/errors';

/**
 * A name as bytes, safe to print: valid UTF-8 is kept, and every byte that is not part of
 * it, and every control character, is spelled `\xNN`.
 */
export function displayBytes(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    const seq = len > 0 ? bytes.subarray(i, i + len) : undefined;
    if (seq && seq.length === len && isUtf8(seq) && !(len === 1 && (b < 0x20 || b === 0x7f))) {
      out += seq.toString('utf8');
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return out;
}

export type ReadResult =
  | { type: 'file'; size: number; content?: string }
  | { type: 'symlink' | 'other'; size: number };

/**
 * Reads a regular file of at most `maxBytes` without following a symlink or blocking on
 * a fifo, judging the file by what was opened rather than by an earlier lstat. O_NOFOLLOW
 * covers the last name only: with `onlyAt`, a file whose descriptor is not that very path
 * (a directory on the way swapped for a symlink) is `other`, and nothing of it is read.
 */
export function readRegularFile(abs: string | Buffer, maxBytes: number, encoding: 'utf8' | 'base64' = 'utf8', options: { onlyAt?: string } = {}): ReadResult {
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ELOOP') return { type: 'symlink', size: 0 };
    throw new HostError(`cannot open ${typeof abs === 'string' ? abs : displayBytes(abs)}: ${messageOf(err)}`, { cause: err });
  }
  try {
    const st: Stats = fstatSync(fd);
    if (options.onlyAt !== undefined && readlinkSync(`/proc/self/fd/${fd}`) !== options.onlyAt) return { type: 'other', size: st.size };
    if (!st.isFile()) return { type: 'other', size: st.size };
    if (st.size > maxBytes) return { type: 'file', size: st.size };
    // The file may have grown since fstat: read until EOF, giving up past the limit.
    const chunks: Buffer[] = [];
    const chunkSize = Math.min(Math.max(st.size, 4096), maxBytes) + 1;
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkSize);
      const bytesRead = readSync(fd, buf, 0, chunkSize, total);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) return { type: 'file', size: Math.max(total, st.size) };
      // A regular file reads short only at its end: no need to ask again to see it.
      if (bytesRead < chunkSize) break;
    }
    return { type: 'file', size: total, content: Buffer.concat(chunks).toString(encoding) };
  } finally {
    closeSync(fd);
  }
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
