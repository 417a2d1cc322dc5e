// The exit-code scheme (docs/design.md §10), the same for every command, and the one
// mapping from an error to its code. Commands return an ExitCode for their normal
// outcomes; daemon/main.ts, a failed pass's record and the service's outcomes all use
// exitCodeOfError for the rest.
import { MoorError, type ErrorCategory } from './errors';

export const ExitCode = {
  /** Everything applied (or, for check, the tree is clean). */
  Ok: 0,
  /** Partial apply: at least one item failed, the others were applied. */
  Partial: 1,
  /** Usage, config or validation error: nothing was applied. */
  Invalid: 2,
  /** Another pass holds the lock. */
  LockHeld: 3,
  /** The source repository could not be fetched, or `[trust]` refused its tip. */
  SourceUnavailable: 4,
  /** A safety guard refused the plan (mass removal). */
  Refused: 5,
  /**
   * The command itself failed: moor's own state, a host command outside any workload, or
   * an unexpected error stopped it. Not a partial apply: no workload's failure is meant.
   */
  Failed: 6,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const exitCodeMeaning: Record<ExitCode, string> = {
  0: 'all applied',
  1: 'partial apply (an item failed)',
  2: 'usage, config or validation error (nothing applied)',
  3: 'lock held by another pass',
  4: 'source unavailable, or its tip not trusted ([trust])',
  5: 'refused by a safety guard',
  6: 'failed: moor state, a host command outside any workload, or an internal error',
};

/** The exit code of a command that ends with an error of this category. */
export function exitCodeOfCategory(category: ErrorCategory): ExitCode {
  switch (category) {
    case 'usage':
    case 'config':
    case 'validation':
      return ExitCode.Invalid;
    case 'lock':
      return ExitCode.LockHeld;
    case 'source':
      return ExitCode.SourceUnavailable;
    case 'guard':
      return ExitCode.Refused;
    case 'command':
    case 'host':
    case 'state':
      return ExitCode.Failed;
  }
}

/**
 * The exit code of a command, a pass or a daemon pass that ends with this error: its
 * category's, and Failed for anything that is not a MoorError (a bug).
 */
export function exitCodeOfError(err: unknown): ExitCode {
  return err instanceof MoorError ? exitCodeOfCategory(err.category) : ExitCode.Failed;
}
