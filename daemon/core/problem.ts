// A problem found in a repo, a transform or a config: always names the file, and the
// line when there is one, and says how to fix it.
import { byText } from './text-order';
export interface Problem {
  /** Path as the operator knows it (relative to the checkout for repo files). */
  path: string;
  /** 1-based line, when the problem is on a line. */
  line?: number;
  /** Stable machine-readable kind, e.g. "symlink", "missing-image". */
  code: string;
  message: string;
  /** What to do about it. */
  hint?: string;
  /**
   * The workload whose own files are at fault. Unset means the problem makes the whole
   * tree unreliable (docs/design.md §6 step 2): nothing may be applied.
   */
  workload?: string;
}

export function formatProblem(p: Problem): string {
  const where = p.line !== undefined ? `${p.path}:${p.line}` : p.path;
  return `${where}: ${p.message}${p.hint ? ` (fix: ${p.hint})` : ''}`;
}

export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => byText(a.path, b.path) || (a.line ?? 0) - (b.line ?? 0) || byText(a.code, b.code),
  );
}
