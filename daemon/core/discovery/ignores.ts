// What discovery skips without a word: git's own files, documentation, and whatever the
// root `.moorignore` lists, so a repository can hold a README and its own CI files.
import ignore from 'ignore';

export const MOORIGNORE = '.moorignore';
export const NO_TRANSFORM_MARKER = '.moor-no-transform';

/** `.git` is skipped at any depth: below the root it can only be a submodule. */
export function isGitPath(path: string): boolean {
  return path.split('/').includes('.git');
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
      const name = path.slice(path.lastIndexOf('/') + 1);
      if (!isDir && (name === '.gitignore' || name.toLowerCase().endsWith('.md'))) return true;
      try {
        return ig.ignores(isDir ? `${path}/` : path);
      } catch {
        // Only non-relative paths throw; the name checks have refused those already.
        return false;
      }
    },
  };
}
