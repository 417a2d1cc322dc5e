import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquirePassLock } from '../../daemon/host/lock';
import { HostError, LockHeldError } from '../../daemon/core/errors';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const lockModule = new URL('../../daemon/host/lock.ts', import.meta.url).href;

// A stand-in for a second moor process: takes the lock, reports, holds it until told
// "release" on stdin (or until killed).
const childSource = `
import { acquirePassLock } from ${JSON.stringify(lockModule)};
const [path, mode, timeout] = process.argv.slice(2);
try {
  const lock = await acquirePassLock(path, { wait: mode === 'wait', ...(timeout ? { waitTimeoutMs: Number(timeout) } : {}) });
  console.log(JSON.stringify({ ok: true, pid: process.pid }));
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', async (d) => {
    if (d.includes('release')) {
      await lock.release();
      console.log(JSON.stringify({ released: true }));
      process.exit(0);
    }
  });
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, holder: e.holder, message: e.message }));
  process.exit(3);
}
`;

interface Child {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  next(): Promise<Record<string, unknown>>;
}

let dir: string;
let lockPath: string;
let script: string;
const children: ChildProcess[] = [];

function startChild(mode: 'nowait' | 'wait', timeout?: number): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, lockPath, mode, ...(timeout ? [String(timeout)] : [])], {
    cwd: projectRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(proc);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<(l: Record<string, unknown>) => void> = [];
  let buffered = '';
  let seen = 0;
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      waiters.shift()?.(line);
    }
  });
  return {
    proc,
    lines,
    next() {
      const i = seen++;
      if (lines[i]) return Promise.resolve(lines[i]);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

const exited = (proc: ChildProcess) =>
  new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));
// The waiter is really queued once its `flock` child exists.
async function waitForFlockChild(parent: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const [, comm, rest] = /^\d+ \((.*)\) (.*)$/.exec(stat.trim()) ?? [];
        if (comm === 'flock' && Number(rest?.split(' ')[1]) === parent) return;
      } catch {
        // The process went away while we looked.
      }
    }
    await delay(50);
  }
  throw new Error(`no flock child of ${parent} appeared`);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-lock-'));
  lockPath = join(dir, 'run', 'lock');
  script = join(dir, 'child.mts');
  writeFileSync(script, childSource);
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c);
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('pass lock', () => {
  it('lets exactly one of two racing processes in; the other names the holder', async () => {
    const a = startChild('nowait');
    const b = startChild('nowait');
    const [ra, rb] = await Promise.all([a.next(), b.next()]);
    const results = [ra, rb];
    const winners = results.filter((r) => r.ok === true);
    const losers = results.filter((r) => r.ok === false);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]?.name).toBe('LockHeldError');
    expect(String(losers[0]?.holder)).toContain(`pid ${String(winners[0]?.pid)}`);
    expect(String(losers[0]?.holder)).toContain('child.mts');
  });

  it('queues a waiting process until the holder releases', async () => {
    const a = startChild('nowait');
    expect((await a.next()).ok).toBe(true);
    const b = startChild('wait');
    const bResult = b.next();
    await waitForFlockChild(b.proc.pid ?? 0);
    await delay(200);
    expect(b.lines).toHaveLength(0);
    a.proc.stdin?.write('release\n');
    expect(await a.next()).toEqual({ released: true });
    expect(await bResult).toMatchObject({ ok: true, pid: b.proc.pid });
  });

  it('is released by the kernel when the holder is killed with SIGKILL', async () => {
    const a = startChild('nowait');
    expect((await a.next()).ok).toBe(true);
    await expect(acquirePassLock(lockPath, { wait: false })).rejects.toBeInstanceOf(LockHeldError);
    a.proc.kill('SIGKILL');
    await exited(a.proc);
    const t0 = Date.now();
    const lock = await acquirePassLock(lockPath, { wait: false });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('gives up a bounded wait with LockHeldError', async () => {
    const a = startChild('nowait');
    expect((await a.next()).ok).toBe(true);
    const t0 = Date.now();
    const err = await acquirePassLock(lockPath, { wait: true, waitTimeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as LockHeldError).holder).toContain(`pid ${a.proc.pid}`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('excludes a second acquire within the same process, and can be taken again after release', async () => {
    const first = await acquirePassLock(lockPath, { wait: false });
    const err = await acquirePassLock(lockPath, { wait: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as LockHeldError).message).toContain(lockPath);
    await first.release();
    await first.release();
    expect(readFileSync(lockPath, 'utf8')).toBe('');
    const second = await acquirePassLock(lockPath, { wait: false });
    await second.release();
  });

  it('creates the lock file owner-only', async () => {
    const lock = await acquirePassLock(lockPath, { wait: false });
    expect(statSync(lockPath).mode & 0o777).toBe(0o600);
    await lock.release();
  });

  it('refuses a hard link planted at the lock path, and never truncates its target', async () => {
    mkdirSync(join(dir, 'run'), { mode: 0o755 });
    const victim = join(dir, 'precious');
    writeFileSync(victim, 'do not truncate me\n', { mode: 0o600 });
    linkSync(victim, lockPath);
    const err = await acquirePassLock(lockPath, { wait: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as Error).message).toMatch(/refusing the lock file .*2 names \(a hard link\)/);
    expect(readFileSync(victim, 'utf8')).toBe('do not truncate me\n');
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a lock file another user owns, and a lock directory others can write to', async () => {
    mkdirSync(join(dir, 'run'), { mode: 0o755 });
    writeFileSync(lockPath, '', { mode: 0o600 });
    chownSync(lockPath, 65534, 65534);
    await expect(acquirePassLock(lockPath, { wait: false })).rejects.toThrow(/refusing the lock file .*owned by uid 65534/);
    rmSync(lockPath);
    chmodSync(join(dir, 'run'), 0o777);
    await expect(acquirePassLock(lockPath, { wait: false })).rejects.toThrow(/refusing the lock directory .*writable by others \(mode 0777\)/);
  });
});
