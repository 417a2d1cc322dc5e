// Small host-side process helpers of the end-to-end harness: run a command with a bound,
// find a binary, hold a kernel flock for as long as this process wants it (or lives).
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ProcResult {
  argv: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface ProcOptions {
  timeoutMs: number;
  input?: string | Buffer;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Cap of captured output per stream (the tail is kept). */
  maxOutput?: number;
}

/**
 * Runs argv (no shell) as the leader of its own process group, so a timeout kills every
 * process it started, not only the first.
 */
export function runProc(argv: readonly string[], options: ProcOptions): Promise<ProcResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runProc: empty argv');
  const started = Date.now();
  const max = options.maxOutput ?? 8 * 1024 * 1024;
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    let spawnError: Error | undefined;
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      outLen += b.length;
      while (outLen > max && out.length > 1) outLen -= out.shift()!.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      errLen += b.length;
      while (errLen > max && err.length > 1) errLen -= err.shift()!.length;
    });
    child.stdin.on('error', () => {
      // The command exited without reading its input: its exit status says what happened.
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    }, options.timeoutMs);
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        argv: [...argv],
        code: spawnError ? 127 : code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: spawnError ? String(spawnError.message) : Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

export function describeProc(r: ProcResult): string {
  const how = r.timedOut ? `timed out after ${r.durationMs} ms` : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  const tail = (s: string) => s.trim().split('\n').slice(-15).join('\n    ');
  return [`\`${r.argv.join(' ')}\`: ${how}`, r.stdout.trim() && `  stdout:\n    ${tail(r.stdout)}`, r.stderr.trim() && `  stderr:\n    ${tail(r.stderr)}`]
    .filter(Boolean)
    .join('\n');
}

export async function mustRun(argv: readonly string[], options: ProcOptions): Promise<ProcResult> {
  const r = await runProc(argv, options);
  if (r.code !== 0 || r.timedOut) throw new Error(describeProc(r));
  return r;
}

/** Absolute path of a command found on PATH (plus the sbin dirs), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Holds an exclusive flock on `path` until release() or the death of this process: a
 * util-linux `flock` child holds the lock while its `cat` reads our stdin pipe, and the
 * pipe's end (release, crash, SIGKILL) ends the cat, the child and the lock.
 */
export function holdFileLock(path: string, timeoutMs: number): Promise<{ release: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--timeout', String(Math.ceil(timeoutMs / 1000)), path, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let locked = false;
    const exited = new Promise<void>((done) => child.on('close', () => done()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      if (locked || !b.toString().includes('locked')) return;
      locked = true;
      resolve({
        release: async () => {
          child.stdin.end();
          await exited;
        },
      });
    });
    child.on('error', (e) => reject(new Error(`flock ${path}: ${e.message}`)));
    child.on('close', (code) => {
      if (!locked) reject(new Error(`could not lock ${path} within ${timeoutMs} ms (flock exit ${code}): ${stderr.trim()}`));
    });
  });
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
export function mountsBelow(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescape)
    .filter((p) => p === dir || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** `npm run build` in the project at `root` (dist/moor.mjs and what lies beside it): why it failed, or null. */
export async function buildBundle(root: string): Promise<string | null> {
  const build = await runProc(['npm', 'run', '--silent', 'build'], { cwd: root, timeoutMs: 5 * 60_000 });
  return build.code !== 0 || build.timedOut ? `npm run build failed: ${describeProc(build)}` : null;
}
