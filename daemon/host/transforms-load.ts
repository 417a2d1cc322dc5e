// Reads the host's transforms directory. A missing directory is an empty set: every
// group directory of the repo is then reported as unknown, which is the strict answer.
import { readdir, readFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTransformSet, type TransformSet } from '../core/transforms';
import type { Problem } from '../core/problem';

export interface LoadedTransforms {
  set: TransformSet;
  problems: Problem[];
  /** False when the directory does not exist. */
  found: boolean;
}

export async function loadTransformsDir(dir: string): Promise<LoadedTransforms> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...loadTransformSet([]), found: false };
    throw err;
  }
  const files: { name: string; path: string; content: string }[] = [];
  const problems: Problem[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('.md')) continue;
    const path = join(dir, name);
    const st = await lstat(path);
    if (!st.isFile()) {
      problems.push({ path, code: 'transform-not-a-file', message: 'not a regular file (symlinks and directories are not read)', hint: `replace ${path} with a regular file or remove it` });
      continue;
    }
    files.push({ name, path, content: await readFile(path, 'utf8') });
  }
  const loaded = loadTransformSet(files);
  return { set: loaded.set, problems: [...problems, ...loaded.problems], found: true };
}
