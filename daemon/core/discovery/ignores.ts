// What discovery skips without a word: git's own files, hidden files and folders,
// documentation, the usual files of a repository (README, LICENSE, renovate.json...) and
// whatever the root `.moorignore` lists, so an ordinary repository checks clean.
import ignore from 'ignore';
import { isUnitType } from '../validate';

export const MOORIGNORE = '.moorignore';
export const NO_TRANSFORM_MARKER = '.moor-no-transform';

/** `.git` is skipped at any depth: below the root it can only be a submodule. */
export function isGitPath(path: string): boolean {
  return path.split('/').includes('.git');
}

// The files nearly every repository holds besides its content, matched on the whole name,
// case-insensitively, alone or with a suffix (`LICENSE`, `LICENSE-MIT`, `README.txt`).
const REPO_FILE_RE =
  /^(readme|licen[cs]e|copying|notice|authors|contributors|contributing|changelog|changes|security|codeowners|code_of_conduct)([.-][^/]*)?$/i;
const REPO_FILES = new Set(['renovate.json', 'renovate.json5']);

/**
 * A repository's own file (`LICENSE`, `README.txt`, `renovate.json`...). Such a file is
 * ignored only where it would otherwise be an orphan (attach.ts): one whose name does make
 * it a companion (`readme-web.env` of workload `readme-web`) is deployed like any other.
 */
export function isRepositoryFile(name: string): boolean {
  return REPO_FILE_RE.test(name) || REPO_FILES.has(name);
}

/**
 * Ignored by default (docs/repository.md "Ignored"): anything inside a hidden folder, and
 * hidden files and documentation that are not unit files. A unit file is never ignored by
 * default, so `.web.container` is still seen (and refused): only `.moorignore` can ignore a unit.
 */
export function ignoredByDefault(path: string, isDir: boolean): boolean {
  const segs = path.split('/');
  const name = segs[segs.length - 1] ?? '';
  if ((isDir ? segs : segs.slice(0, -1)).some((s) => s.startsWith('.'))) return true;
  if (isDir || name === MOORIGNORE || name === NO_TRANSFORM_MARKER) return false;
  const dot = name.lastIndexOf('.');
  if (dot > 0 && isUnitType(name.slice(dot + 1))) return false;
  return name.startsWith('.') || name.toLowerCase().endsWith('.md');
}

export interface IgnoreRules {
  ignores(path: string, isDir: boolean): boolean;
}

export function ignoreRules(moorignore: string | undefined): IgnoreRules {
  // Case-sensitive like git on Linux (the package defaults to insensitive).
  const ig = ignore({ ignorecase: false });
  if (moorignore !== undefined) ig.add(moorignore);
  return {
    ignores(path, isDir) {
      if (ignoredByDefault(path, isDir)) return true;
      try {
        return ig.ignores(isDir ? `${path}/` : path);
      } catch {
        // Only non-relative paths throw; the name checks have refused those already.
        return false;
      }
    },
  };
}
