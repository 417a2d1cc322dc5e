// Budgets on what a repository can make moor do (docs/design.md §2): a few hundred bytes of
// git can describe gigabytes of files (one blob named many times, one tree nested in
// itself), so the whole tree is measured against max_repo_bytes, max_repo_files and
// max_repo_depth before it is checked out, and again while a directory is scanned. The
// first limit crossed stops the measuring: the cost stays bounded by the budget, never
// by the repository.
import type { RepoBudget } from './config/schema';
import type { Problem } from './problem';

export const DEFAULT_REPO_BUDGET: RepoBudget = { maxBytes: 64 * 1024 * 1024, maxFiles: 10_000, maxDepth: 10 };

/** Longest path a Linux file system takes; a longer one can never be checked out. */
export const PATH_MAX = 4096;

export class BudgetTally {
  files = 0;
  bytes = 0;
  private problem: Problem | undefined;

  constructor(readonly budget: RepoBudget) {}

  /** The limit crossed, once one is. */
  get exceeded(): Problem | undefined {
    return this.problem;
  }

  /**
   * Counts one entry: a file (`size` bytes, any kind but a directory) or a directory
   * (`size` undefined, counted for its depth only). `shown` is the path as printed.
   * Returns the problem once a limit is crossed.
   */
  add(shown: string, depth: number, size?: number): Problem | undefined {
    if (this.problem) return this.problem;
    const b = this.budget;
    if (depth > b.maxDepth) {
      return (this.problem = over(
        shown,
        'repo-too-deep',
        `${shown} is ${depth} levels deep, over max_repo_depth (${b.maxDepth})`,
        'flatten the repository, or raise max_repo_depth in the moor configuration',
      ));
    }
    if (size === undefined) return undefined;
    this.files++;
    this.bytes += size;
    if (this.files > b.maxFiles) {
      return (this.problem = over(
        '.',
        'repo-too-many-files',
        `the tree holds more than ${b.maxFiles} files, over max_repo_files (${b.maxFiles})`,
        'remove files from the repository, or raise max_repo_files in the moor configuration',
      ));
    }
    if (this.bytes > b.maxBytes) {
      return (this.problem = over(
        '.',
        'repo-too-large',
        `the tree's files add up to more than ${b.maxBytes} bytes (at ${shown}), over max_repo_bytes (${b.maxBytes})`,
        'keep large data out of the repository (ship it in an image or a volume), or raise max_repo_bytes in the moor configuration',
      ));
    }
    return undefined;
  }

  /** A path no file system could hold (its bytes so far are `length`). */
  tooLong(shown: string, length: number): Problem {
    return (this.problem ??= over(
      shown,
      'path-too-long',
      `a path of the tree is longer than ${PATH_MAX} bytes (${length} so far), which no Linux file system holds`,
      'shorten the path',
    ));
  }
}

function over(path: string, code: string, message: string, hint: string): Problem {
  return { path, code, message, hint };
}
