// A file only root may read and write (the webhook secret, the age identity): opened
// without following a symlink, and refused unless it is a regular file owned by the user
// moor runs as (root) that no group or other user can read or write. The checks are made
// on what was opened, not on an earlier lstat.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * The file's bytes, at most `maxBytes`. Throws an Error naming the file and the fix when
 * it is missing, a symlink, not a regular file, owned by another user, readable or
 * writable by others, or larger than `maxBytes`; `what` names its content in the fix.
 */
export async function readRootOnlyFile(path: string, maxBytes: number, what: string): Promise<Buffer> {
  // O_NOFOLLOW: a symlink planted in place of the file is refused, never followed.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ELOOP' ? `${path} is a symlink: name the file itself` : `${path}: ${err.code ?? err.message}`);
  });
  try {
    const stat = await handle.stat();
    const owner = process.getuid?.() ?? 0;
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    if (stat.uid !== owner) throw new Error(`${path} is owned by uid ${stat.uid}, not ${owner}: chown root ${path}`);
    if ((stat.mode & 0o077) !== 0) {
      throw new Error(`${path} has mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}: others may read ${what}; chmod 600 ${path} and rotate it`);
    }
    const buf = Buffer.alloc(maxBytes + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
