// The one place that starts child processes (docs/design.md §6: every command runs from an argv
// array, never a shell, and has a timeout).
import { CommandError } from '../core/errors';
import type { CommandResult, CommandRunner, RunOptions } from '../core/ports';

// execa and what it brings are a sixth of the CLI's code: a command that starts no process
// (`moor --help`, `moor status` with nothing to ask systemd) does not load it (build.ts
// splits the bundle at each import()).
const loadExeca = async () => (await import('execa')).execa;

export interface ExecaRunnerOptions {
  /** Time between SIGTERM and SIGKILL once a command overran its timeout. */
  killGraceMs?: number;
}

// Every child runs as the leader of its own process group so a timeout can signal the whole
// group: shells fork helpers, and any descendant that still holds our stdout pipe would
// otherwise keep the result pending long after the direct child died. Because detached children no longer die with us, the groups still
// running are killed when this process exits.
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the whole group is already gone.
  }
}

// Shell conventions for a command that could not be started at all, so callers see a
// non-zero exit rather than a "killed by signal" null.
function spawnFailureCode(code: string | undefined): number {
  return code === 'ENOENT' ? 127 : 126;
}

export class ExecaRunner implements CommandRunner {
  private readonly killGraceMs: number;

  constructor(options: ExecaRunnerOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? 5_000;
  }

  async run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('ExecaRunner.run: empty argv');
    installExitHook();
    const execa = await loadExeca();
    const started = Date.now();
    const subprocess = execa(file, args, {
      reject: false,
      detached: true,
      ...(options.inputFile !== undefined
        ? { stdin: { file: options.inputFile } }
        : { stdin: options.input === undefined ? 'ignore' : 'pipe', ...(options.input === undefined ? {} : { input: options.input }) }),
      // An env given is the child's whole environment: nothing of ours is added to it.
      ...(options.env === undefined ? {} : { env: options.env, extendEnv: false }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stripFinalNewline: false,
      encoding: 'utf8',
    });
    const pgid = subprocess.pid;
    let timedOut = false;
    let termTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    if (pgid !== undefined) {
      liveGroups.add(pgid);
      termTimer = setTimeout(() => {
        timedOut = true;
        signalGroup(pgid, 'SIGTERM');
        killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), this.killGraceMs);
      }, options.timeoutMs);
    }
    try {
      const result = await subprocess;
      const spawnFailed = result.failed && result.exitCode === undefined && result.signal === undefined;
      const errorCode = (result as { code?: string }).code;
      return {
        argv: [...argv],
        exitCode: spawnFailed ? spawnFailureCode(errorCode) : (result.exitCode ?? null),
        stdout: typeof result.stdout === 'string' ? result.stdout : '',
        stderr: spawnFailed ? (result.originalMessage ?? result.shortMessage ?? '') : typeof result.stderr === 'string' ? result.stderr : '',
        durationMs: Math.round(Date.now() - started),
        timedOut,
      };
    } finally {
      clearTimeout(termTimer);
      clearTimeout(killTimer);
      if (pgid !== undefined) {
        // Descendants left behind by a finished command would outlive the timeout's reach.
        if (timedOut) signalGroup(pgid, 'SIGKILL');
        liveGroups.delete(pgid);
      }
    }
  }
}

/** Returns the result when the command exited 0; throws a CommandError carrying it otherwise. */
export function mustSucceed(result: CommandResult): CommandResult {
  if (result.exitCode === 0 && !result.timedOut) return result;
  throw commandError(result);
}

export function commandError(result: CommandResult): CommandError {
  return new CommandError(result.argv, result.exitCode, result.stdout, result.stderr, result.durationMs, result.timedOut);
}

export interface FdRunResult {
  exitCode: number | null;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs argv with one of our open descriptors as the child's fd 3, for tools that act on an
 * inherited descriptor (util-linux `flock N`). The child shares the open file description,
 * so what it does to it (a lock) outlives the child. A timeoutMs of 0 means unbounded,
 * for a wait the caller asked to last as long as it takes.
 */
export async function runWithInheritedFd(argv: readonly string[], fd: number, timeoutMs: number): Promise<FdRunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runWithInheritedFd: empty argv');
  const execa = await loadExeca();
  const result = await execa(file, args, {
    reject: false,
    // execa's types only admit descriptors 3-9 here; at run time any number passes
    // straight through to child_process.spawn.
    stdio: ['ignore', 'ignore', 'pipe', fd as 3],
    timeout: timeoutMs,
    forceKillAfterDelay: 1_000,
    encoding: 'utf8',
  });
  const spawnFailed = result.failed && result.exitCode === undefined && result.signal === undefined;
  return {
    exitCode: spawnFailed ? spawnFailureCode((result as { code?: string }).code) : (result.exitCode ?? null),
    stderr: spawnFailed ? (result.originalMessage ?? '') : typeof result.stderr === 'string' ? result.stderr : '',
    timedOut: result.timedOut,
  };
}

export interface StreamRunOptions {
  /** 0: no bound, for a command that runs until the caller stops it (`signal`). */
  timeoutMs: number;
  /** Aborting it stops the command (its group is killed), as onStdout returning true does. */
  signal?: AbortSignal;
  env?: Record<string, string>;
  cwd?: string;
  /** Called with each chunk of stdout; returning true stops the command (its group is killed). */
  onStdout: (chunk: Buffer) => boolean;
  /** Written to the child's stdin, then closed; without it stdin is closed from the start. */
  input?: string;
}

export interface StreamRunResult {
  exitCode: number | null;
  stderr: string;
  timedOut: boolean;
  /** onStdout asked to stop before the command ended. */
  stopped: boolean;
}

/**
 * Runs argv and hands its stdout over chunk by chunk instead of keeping it, for output
 * whose size the input decides (a repository's file list). Like ExecaRunner: its own
 * process group, a timeout, the group killed on timeout or when the reader has seen
 * enough. Stderr is kept up to 64 KiB.
 */
export async function runStreaming(argv: readonly string[], options: StreamRunOptions): Promise<StreamRunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runStreaming: empty argv');
  installExitHook();
  const execa = await loadExeca();
  const subprocess = execa(file, args, {
    reject: false,
    detached: true,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 64 * 1024 },
    ...(options.env === undefined ? {} : { env: options.env, extendEnv: false }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    encoding: 'buffer',
  });
  const pgid = subprocess.pid;
  let timedOut = false;
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  if (pgid !== undefined) liveGroups.add(pgid);
  const kill = () => {
    if (pgid === undefined) return;
    signalGroup(pgid, 'SIGTERM');
    killTimer ??= setTimeout(() => signalGroup(pgid, 'SIGKILL'), 1_000);
  };
  const termTimer =
    options.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs)
      : undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    subprocess.stdout?.destroy();
    kill();
  };
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener('abort', stop, { once: true });
  subprocess.stdout?.on('data', (chunk: Buffer) => {
    if (stopped) return;
    if (options.onStdout(chunk)) stop();
  });
  try {
    const result = await subprocess;
    const spawnFailed = result.failed && result.exitCode === undefined && result.signal === undefined;
    const stderr = result.stderr instanceof Uint8Array ? Buffer.from(result.stderr).toString('utf8') : '';
    return {
      exitCode: spawnFailed ? spawnFailureCode((result as { code?: string }).code) : (result.exitCode ?? null),
      stderr: spawnFailed ? (result.originalMessage ?? '') : stderr,
      timedOut,
      stopped,
    };
  } finally {
    clearTimeout(termTimer);
    clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', stop);
    if (pgid !== undefined) {
      if (timedOut || stopped) signalGroup(pgid, 'SIGKILL');
      liveGroups.delete(pgid);
    }
  }
}
