// Generations in the layout before workload trees (docs/design.md §7): every file of every
// workload under generations/<N>/units/<user>/<path>, a hard link to blobs/<sha256>. moor
// writes none any more; a host upgraded from that layout still reads them (status,
// rollback), and gc collects them and then the blobs no generation links to.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { StateError } from '../core/errors';
import type { FileContents } from '../core/types';
import { fsyncDir, isNotFound, listDir } from './atomic';
import { assertRelativePath, assertSafeName } from './layout';

export const LEGACY_UNITS = 'units';
/** lstat calls made at once over the blobs. */
const LOOKS_AT_ONCE = 16;

/** A workload's files as an old-layout generation holds them. */
export async function readLegacyUnits(generationDir: string, user: string, paths: readonly string[]): Promise<FileContents> {
  assertSafeName('user', user);
  const files: FileContents = {};
  for (const relPath of paths) {
    assertRelativePath(relPath);
    const path = join(generationDir, LEGACY_UNITS, user, relPath);
    try {
      files[relPath] = await fs.readFile(path, 'utf8');
    } catch (err) {
      throw new StateError(`${path}: listed in its generation's manifest but unreadable: ${(err as Error).message}`);
    }
  }
  return files;
}

export function hasLegacyUnits(generationDir: string): Promise<boolean> {
  return fs.lstat(join(generationDir, LEGACY_UNITS)).then(
    () => true,
    (err: unknown) => {
      if (isNotFound(err)) return false;
      throw err;
    },
  );
}

/**
 * Deletes the blobs no generation links to any more (their only name is in blobs/), and
 * blobs/ itself once no generation of the old layout is left. Under the pass lock.
 */
export async function sweepBlobs(blobs: string, legacyLeft: boolean): Promise<number> {
  let all: string[];
  try {
    all = await fs.readdir(blobs);
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw err;
  }
  const names = all.filter((name) => /^[0-9a-f]{64}$/.test(name));
  let removed = 0;
  const limit = pLimit(LOOKS_AT_ONCE);
  await Promise.all(
    names.map((name) =>
      limit(async () => {
        const path = join(blobs, name);
        const stat = await fs.lstat(path).catch(() => undefined);
        if (stat?.isFile() && stat.nlink === 1) {
          await fs.rm(path, { force: true });
          removed++;
        }
      }),
    ),
  );
  if (!legacyLeft && (await listDir(blobs)).every((name) => !/^[0-9a-f]{64}$/.test(name))) {
    // Temporary files of a killed blob write go with it: nothing writes blobs any more.
    await fs.rm(blobs, { recursive: true, force: true });
    await fsyncDir(join(blobs, '..'));
  }
  return removed;
}
