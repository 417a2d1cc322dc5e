// The small interfaces behind which every side effect lives (docs/design.md §12). The core and
// the reconcile pass depend on these; daemon/host/ implements them for real, tests fake them.

export interface RunOptions {
  /** Hard limit: the process is killed (SIGTERM, then SIGKILL) when it is exceeded. */
  timeoutMs: number;
  /** Written to the child's stdin, then closed (bytes for a secret's value, which may be binary). */
  input?: string | Uint8Array;
  /** A file opened by this process and given as the child's stdin (for binary or large input). */
  inputFile?: string;
  /** The child's whole environment; without it the child inherits this process's. */
  env?: Record<string, string>;
  cwd?: string;
}

/** A finished command. A non-zero exit is data, not an exception. */
export interface CommandResult {
  argv: readonly string[];
  /** null when the process was killed by a signal (including our timeout). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** Runs argv arrays, never a shell string. */
export interface CommandRunner {
  run(argv: readonly string[], options: RunOptions): Promise<CommandResult>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}
