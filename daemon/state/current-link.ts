// The `current` symlink: the last complete generation. It is replaced, never removed and
// recreated: a new link made under a temporary name is renamed over it, and rename(2)
// replaces the old link atomically, so a reader finds the old target or the new one.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../core/errors';
import { fsyncDir, isNotFound, listDir } from './atomic';
import { currentLinkTarget, parseCurrentLinkTarget, type StateLayout } from './layout';

const TMP_PREFIX = 'current.tmp-';

/** The generation `current` names, without checking it; undefined when there is no link. */
export async function readCurrentLink(layout: StateLayout): Promise<number | undefined> {
  let target: string;
  try {
    target = await fs.readlink(layout.current);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new StateError(`${layout.current}: not a symlink: ${(err as Error).message}`);
  }
  const id = parseCurrentLinkTarget(target);
  if (id === undefined) throw new StateError(`${layout.current}: unexpected target ${JSON.stringify(target)}`);
  return id;
}

export async function swapCurrentLink(layout: StateLayout, id: number): Promise<void> {
  const tmp = join(layout.root, `${TMP_PREFIX}${randomBytes(6).toString('hex')}`);
  await fs.symlink(currentLinkTarget(id), tmp);
  try {
    await fs.rename(tmp, layout.current);
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(layout.root);
}

export async function removeCurrentLink(layout: StateLayout): Promise<void> {
  await fs.rm(layout.current, { force: true });
  await fsyncDir(layout.root);
}

/** Temporary links of a swap that was killed before its rename. Only under the pass lock. */
export async function sweepCurrentLeftovers(layout: StateLayout): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listDir(layout.root)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    await fs.rm(join(layout.root, name), { force: true });
    removed.push(name);
  }
  return removed;
}
