// The pass lock (docs/design.md §8): one reconcile pass per host, with kernel flock(2) semantics.
//
// Why it is built like this: Node has no flock(2), and the usual npm lock packages use
// PID files or mkdir plus a staleness timeout, which guess about dead holders and can
// hand the lock to two processes. Instead we open the lock file ourselves and let
// util-linux `flock` lock that descriptor, inherited as its fd 3. A flock lock belongs to
// the open file description, which the child shares with us: when the child exits the
// lock stays held, through our descriptor. The kernel drops it when the last descriptor
// is closed, i.e. on release() or when our process dies in any way (SIGKILL included).
// So no holder can leak the lock by crashing, and no waiter ever has to guess.
//
// Two details keep that true: the descriptor is a plain number, not a FileHandle, since
// Node closes a garbage-collected FileHandle (which would silently release the lock);
// and Node opens files close-on-exec, so no other child of ours inherits it and keeps
// the lock alive after we die.
import { close, constants, fstat, ftruncate, mkdir, open, readFile, stat, write } from 'node:fs';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { HostError, LockHeldError } from '../core/errors';
import { runWithInheritedFd } from './exec';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);
const statAsync = promisify(stat);
const ftruncateAsync = promisify(ftruncate);
const writeAsync = promisify(write);
const mkdirAsync = promisify(mkdir);
const readFileAsync = promisify(readFile);

/** flock's exit code when the lock is held by someone else (chosen, so it is distinct from errors). */
const CONFLICT = 75;

export interface PassLockOptions {
  /** Queue behind the holder instead of failing at once. */
  wait: boolean;
  /** With wait: give up after this long (default: wait as long as it takes). */
  waitTimeoutMs?: number;
}

export interface PassLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockHolder {
  pid: number;
  command: string;
  startedAt: string;
}

function describeHolder(text: string): string {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number') return `pid ${h.pid}${h.command ? ` (${h.command})` : ''}${h.startedAt ? `, since ${h.startedAt}` : ''}`;
  } catch {
    // The holder has not written its details yet, or wrote something else.
  }
  return 'holder unknown';
}

// A loser can look between the winner's lock and its write of the details; it looks
// again briefly before settling for "unknown". Only the failure path pays for this.
async function readHolder(path: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const text = await readFileAsync(path, 'utf8').catch(() => '');
    const holder = describeHolder(text);
    if (holder !== 'holder unknown' || attempt >= 10) return holder;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function currentHolder(): LockHolder {
  const script = process.argv[1] ? basename(process.argv[1]) : basename(process.execPath);
  return { pid: process.pid, command: [script, ...process.argv.slice(2)].join(' '), startedAt: new Date().toISOString() };
}

function flockArgv(options: PassLockOptions): { argv: string[]; timeoutMs: number } {
  const base = ['flock', '--exclusive', '--conflict-exit-code', String(CONFLICT)];
  if (!options.wait) return { argv: [...base, '--nonblock', '3'], timeoutMs: 10_000 };
  if (options.waitTimeoutMs === undefined) return { argv: [...base, '3'], timeoutMs: 0 };
  const seconds = Math.max(options.waitTimeoutMs, 1) / 1000;
  // flock measures its own wait; our bound is only a backstop against a stuck flock.
  return { argv: [...base, '--wait', seconds.toFixed(3), '3'], timeoutMs: options.waitTimeoutMs + 10_000 };
}

/**
 * Takes the host-wide pass lock at `path`, or throws LockHeldError naming the holder.
 * Hold the returned handle for the whole pass and release() it at the end.
 */
export async function acquirePassLock(path: string, options: PassLockOptions): Promise<PassLock> {
  await mkdirAsync(dirname(path), { recursive: true, mode: 0o755 });
  await checkLockDir(dirname(path));
  const { argv, timeoutMs } = flockArgv(options);
  // The file could be replaced while we wait (someone deletes it); a lock on an unlinked
  // inode excludes nobody, so we retry on the file now at the path.
  for (let attempt = 0; attempt < 5; attempt++) {
    const fd = await openAsync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    let keep = false;
    try {
      // Before anything is written to it: a hard link planted at the path would have root
      // truncate its target.
      checkLockFile(path, await fstatAsync(fd));
      const result = await runWithInheritedFd(argv, fd, timeoutMs);
      if (result.exitCode === CONFLICT) throw new LockHeldError(path, await readHolder(path));
      if (result.exitCode !== 0 || result.timedOut) {
        const why = result.timedOut ? 'timed out' : `exited ${result.exitCode ?? 'by signal'}`;
        throw new HostError(`flock on ${path} ${why}: ${result.stderr.trim()}`);
      }
      const [held, current] = await Promise.all([fstatAsync(fd), statAsync(path).catch(() => undefined)]);
      if (!current || held.ino !== current.ino || held.dev !== current.dev) continue;
      await ftruncateAsync(fd, 0);
      await writeAsync(fd, `${JSON.stringify(currentHolder())}\n`, 0, 'utf8');
      keep = true;
      return makeHandle(path, fd);
    } finally {
      if (!keep) await closeAsync(fd).catch(() => undefined);
    }
  }
  throw new HostError(`${path} kept being replaced while locking it`);
}

const me = () => process.getuid?.() ?? 0;

/** The lock's directory must be ours alone: whoever can write to it can swap the lock file. */
async function checkLockDir(dir: string): Promise<void> {
  const st = await statAsync(dir);
  if (st.uid !== me() || (st.mode & 0o022) !== 0) {
    throw new HostError(
      `refusing the lock directory ${dir}: it is ${st.uid !== me() ? `owned by uid ${st.uid}` : `writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`}; set lock_path to a directory only root can write to (default /run/moor/lock)`,
    );
  }
}

/** The lock file is a regular file of ours with one name, or it is not a lock of moor's. */
function checkLockFile(path: string, st: import('node:fs').Stats): void {
  const wrong = !st.isFile() ? 'not a regular file' : st.nlink !== 1 ? `a file with ${st.nlink} names (a hard link)` : st.uid !== me() ? `owned by uid ${st.uid}` : undefined;
  if (wrong) throw new HostError(`refusing the lock file ${path}: it is ${wrong}; remove it (moor creates its own)`);
}

function makeHandle(path: string, fd: number): PassLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      // Cleared while still held, so a new holder's details are never wiped.
      await ftruncateAsync(fd, 0).catch(() => undefined);
      await closeAsync(fd);
    },
  };
}
