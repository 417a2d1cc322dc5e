// Reads the host's transforms directory. A missing directory is an empty set: every
// group directory of the repo is then reported as unknown, which is the strict answer.
import { readdir, readFile, lstat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadTransformSet, type TransformSet } from '../core/transforms';
import type { Problem } from '../core/problem';

export interface LoadedTransforms {
  set: TransformSet;
  problems: Problem[];
  /** False when the directory does not exist. */
  found: boolean;
  /** Changes whenever what was read does: the names, kinds and contents of its files. */
  fingerprint: string;
}

export async function loadTransformsDir(dir: string): Promise<LoadedTransforms> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...loadTransformSet([]), found: false, fingerprint: 'none' };
    throw err;
  }
  const files: { name: string; path: string; content: string }[] = [];
  const problems: Problem[] = [];
  const hash = createHash('sha256');
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('.md')) continue;
    const path = join(dir, name);
    const st = await lstat(path);
    if (!st.isFile()) {
      hash.update(`not-a-file\0${name}\0`);
      problems.push({ path, code: 'transform-not-a-file', message: 'not a regular file (symlinks and directories are not read)', hint: `replace ${path} with a regular file or remove it` });
      continue;
    }
    const content = await readFile(path, 'utf8');
    hash.update(`file\0${name}\0${content.length}\0${content}\0`);
    files.push({ name, path, content });
  }
  const loaded = loadTransformSet(files);
  return { set: loaded.set, problems: [...problems, ...loaded.problems], found: true, fingerprint: hash.digest('hex') };
}
