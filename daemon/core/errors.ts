// One error class per category (docs/design.md §12). daemon/main.ts maps each to an exit code.
import type { Problem } from './problem';

/** Every error category: one class each below. */
export type ErrorCategory = 'usage' | 'config' | 'validation' | 'lock' | 'source' | 'guard' | 'command' | 'host' | 'state';

export abstract class MoorError extends Error {
  abstract readonly category: ErrorCategory;
}

/** Bad command-line usage. */
export class UsageError extends MoorError {
  override readonly name = 'UsageError';
  readonly category = 'usage' as const;
}

/** A config file is missing, malformed, or has an unknown key or a wrong type. */
export class ConfigError extends MoorError {
  override readonly name = 'ConfigError';
  readonly category = 'config' as const;
  constructor(
    readonly file: string,
    message: string,
    readonly line?: number,
    readonly key?: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${message}`);
  }
}

/** The desired state is invalid as a whole: nothing may be applied. */
export class ValidationError extends MoorError {
  override readonly name = 'ValidationError';
  readonly category = 'validation' as const;
  constructor(readonly problems: readonly Problem[]) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in the desired state`);
  }
}

/** Another process holds the pass lock. */
export class LockHeldError extends MoorError {
  override readonly name = 'LockHeldError';
  readonly category = 'lock' as const;
  constructor(
    readonly lockPath: string,
    readonly holder: string,
  ) {
    super(`another moor pass holds ${lockPath} (${holder}); use --wait to queue behind it`);
  }
}

/** The source repository could not be cloned or fetched. */
export class SourceError extends MoorError {
  override readonly name = 'SourceError';
  readonly category = 'source' as const;
}

/**
 * The fetched tip is not trusted (`[trust]`, require mode): unsigned, signed by no allowed
 * signer, or a rewrite of the history the host runs. A refusal of the source, so it
 * shares SourceError's category (exit 4): nothing of the tip is applied, not even removals.
 */
export class TrustError extends MoorError {
  override readonly name = 'TrustError';
  readonly category = 'source' as const;
  constructor(
    readonly commit: string,
    readonly reasons: readonly string[],
  ) {
    super(`refusing commit ${commit}: ${reasons.join('; ')}; nothing was changed`);
  }
}

/** A safety guard refused the plan. */
export class GuardError extends MoorError {
  override readonly name = 'GuardError';
  readonly category = 'guard' as const;
  constructor(
    message: string,
    readonly removals: readonly string[],
  ) {
    super(message);
  }
}

/** An external command exited non-zero (or timed out) where the caller needed success. */
export class CommandError extends MoorError {
  override readonly name = 'CommandError';
  readonly category = 'command' as const;
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    readonly durationMs: number,
    readonly timedOut = false,
  ) {
    const detail = (stderr.trim() || stdout.trim()).split('\n').slice(-3).join(' | ');
    super(
      `${argv.join(' ')} ${timedOut ? 'timed out' : `exited ${exitCode ?? 'by signal'}`} after ${durationMs} ms${detail ? `: ${detail}` : ''}`,
    );
  }
}

/** The host is not as moor needs it (a user moor does not own, a unit that did not load...). */
export class HostError extends MoorError {
  override readonly name = 'HostError';
  readonly category = 'host' as const;
}

/** moor's own state store is unreadable or inconsistent. */
export class StateError extends MoorError {
  override readonly name = 'StateError';
  readonly category = 'state' as const;
}
