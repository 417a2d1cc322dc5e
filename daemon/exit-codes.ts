// The exit-code scheme (DESIGN §10), the same for every command. Only daemon/main.ts
// turns errors into these; commands return an ExitCode for their normal outcomes.
export const ExitCode = {
  /** Everything applied (or, for check, the tree is clean). */
  Ok: 0,
  /** Partial apply: at least one item failed, the others were applied. */
  Partial: 1,
  /** Usage, config or validation error: nothing was applied. */
  Invalid: 2,
  /** Another pass holds the lock. */
  LockHeld: 3,
  /** The source repository could not be fetched. */
  SourceUnavailable: 4,
  /** A safety guard refused the plan (mass removal). */
  Refused: 5,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const exitCodeMeaning: Record<ExitCode, string> = {
  0: 'all applied',
  1: 'partial apply (an item failed)',
  2: 'usage, config or validation error (nothing applied)',
  3: 'lock held by another pass',
  4: 'source unavailable',
  5: 'refused by a safety guard',
};

/** Every error category of daemon/errors.ts. */
export type ErrorCategory = 'usage' | 'config' | 'validation' | 'lock' | 'source' | 'guard' | 'command' | 'host' | 'state';

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
      return ExitCode.Partial;
  }
}
