// `moor reconcile --once` as real processes contending for the pass lock (docs/design.md §8), and
// the exit codes a pass maps to (§10). Every pass here fails or is refused before it runs
// a single host command (its source is missing or hangs, or the guard refuses): these
// processes run on this machine, and must never create or delete a real user.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateStore } from '../../daemon/state/store';
import { REPO_ROOT, runMoor, type CliResult } from '../helpers/cli';
import { git } from '../helpers/pass-harness';

let dir: string;
let lockPath: string;
let stateDir: string;
const children: ChildProcess[] = [];
const sockets: Socket[] = [];
let server: Server | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-cli-reconcile-'));
  lockPath = join(dir, 'run', 'lock');
  stateDir = join(dir, 'state');
  mkdirSync(join(dir, 'transforms'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function config(url: string, extra = ''): string {
  const file = join(dir, 'config.toml');
  writeFileSync(
    file,
    [
      `state_dir = ${JSON.stringify(stateDir)}`,
      `lock_path = ${JSON.stringify(lockPath)}`,
      `transforms_dir = ${JSON.stringify(join(dir, 'transforms'))}`,
      'log_level = "debug"',
      '[source]',
      `url = ${JSON.stringify(url)}`,
      '[timeouts]',
      'fetch = "60s"',
      // Never a daemon's socket of this machine: these passes run in their own process.
      '[control]',
      `socket = ${JSON.stringify(join(dir, 'moor.sock'))}`,
      extra,
    ].join('\n'),
  );
  return file;
}

let hanging = true;

/**
 * A git:// source that accepts connections and never answers, so a pass hangs in its fetch
 * (holding the lock) until `unhang()`: then every connection is dropped and the fetch fails.
 */
async function hangingSource(): Promise<string> {
  hanging = true;
  server = createServer((socket) => {
    socket.on('error', () => undefined);
    if (hanging) sockets.push(socket);
    else socket.destroy();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `git://127.0.0.1:${(server!.address() as AddressInfo).port}/repo.git`;
}

function unhang(): void {
  hanging = false;
  for (const s of sockets.splice(0)) s.destroy();
}

interface Running {
  proc: ChildProcess;
  done: Promise<CliResult & { endedAt: number }>;
}

function startMoor(args: string[]): Running {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'daemon/main.ts'), ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult & { endedAt: number }>((r) => proc.once('close', (code) => r({ code, stdout, stderr, endedAt: Date.now() })));
  return { proc, done };
}

/** A process that takes the pass lock the way moor does and holds it until told on stdin. */
function startHolder(): Running {
  const script = join(dir, 'holder.mts');
  const lockModule = new URL('../../daemon/host/lock.ts', import.meta.url).href;
  writeFileSync(
    script,
    `import { acquirePassLock } from ${JSON.stringify(lockModule)};
const lock = await acquirePassLock(${JSON.stringify(lockPath)}, { wait: false });
console.log('held');
process.stdin.on('data', async () => { await lock.release(); process.exit(0); });
`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proc);
  const done = new Promise<CliResult & { endedAt: number }>((r) => proc.once('close', (code) => r({ code, stdout: '', stderr: '', endedAt: Date.now() })));
  return { proc, done };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A --wait process is really queued once its `flock` child (blocked on the lock) exists. */
async function queued(parent: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const [, comm, rest] = /^\d+ \((.*)\) (.*)$/.exec(readFileSync(`/proc/${entry}/stat`, 'utf8').trim()) ?? [];
        if (comm === 'flock' && Number(rest?.split(' ')[1]) === parent) return;
      } catch {
        // Gone while we looked.
      }
    }
    await delay(25);
  }
  throw new Error(`process ${parent} never queued on the lock`);
}

/** Until the lock file names `pid` as its holder (written right after flock succeeds). */
async function heldBy(pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const text = existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : '';
    if (text.includes(`"pid":${pid},`)) return;
    await delay(25);
  }
  throw new Error(`pid ${pid} never took the lock`);
}

describe('moor reconcile --once and the pass lock', () => {
  it('fails fast with exit 3 naming the holder while another process holds the lock, touching nothing', async () => {
    const cfg = config(join(dir, 'missing.git'));
    const holder = startHolder();
    await heldBy(holder.proc.pid!);
    const started = Date.now();
    const r = runMoor(['--config', cfg, 'reconcile', '--once']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`another moor pass holds ${lockPath} (pid ${holder.proc.pid} (holder.mts)`);
    expect(r.stderr).toContain('use --wait');
    // A pipe, not the journal: a plain line.
    expect(r.stderr).toMatch(/^moor: LockHeldError: /);
    expect(Date.now() - started).toBeLessThan(15_000);
    // The state dir is opened only under the lock.
    expect(existsSync(stateDir)).toBe(false);

    holder.proc.stdin!.write('release\n');
    await holder.done;
    // Free again: the pass runs, and fails on its missing source (exit 4), after taking the lock.
    const after = runMoor(['--config', cfg, 'reconcile', '--once']);
    expect(after.code).toBe(4);
    expect(after.stderr).toContain('SourceError');
    expect(existsSync(stateDir)).toBe(true);
    // And it released the lock on the way out.
    expect(runMoor(['--config', cfg, 'reconcile', '--once']).code).toBe(4);
  });

  it('of two concurrent passes exactly one runs; the other exits 3 naming the first one’s pid', async () => {
    const cfg = config(await hangingSource());
    const first = startMoor(['--config', cfg, 'reconcile', '--once']);
    await heldBy(first.proc.pid!);
    const second = startMoor(['--config', cfg, 'reconcile', '--once']);
    const b = await second.done;
    expect(b.code).toBe(3);
    expect(b.stderr).toContain(`(pid ${first.proc.pid} (main.ts --config ${cfg} reconcile --once)`);
    expect(first.proc.exitCode).toBeNull();

    // The first one is in its fetch; once the source gives up on it: source unavailable.
    unhang();
    const a = await first.done;
    expect(a.code).toBe(4);
    expect(a.stderr).toContain('SourceError: git fetch main failed');
  });

  it('with --wait the second pass queues and runs once the first has released the lock', async () => {
    const cfg = config(await hangingSource());
    const first = startMoor(['--config', cfg, 'reconcile', '--once']);
    await heldBy(first.proc.pid!);
    const second = startMoor(['--config', cfg, 'reconcile', '--once', '--wait']);
    await queued(second.proc.pid!);
    await delay(500);
    expect(second.proc.exitCode).toBeNull();
    expect(first.proc.exitCode).toBeNull();

    unhang();
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.code).toBe(4);
    // It waited rather than failing, then ran its own pass (and met the same dead source).
    expect(b.code).toBe(4);
    expect(b.stderr).not.toContain('LockHeldError');
    expect(b.stderr).toContain('SourceError: git fetch main failed');
    expect(b.endedAt).toBeGreaterThanOrEqual(a.endedAt);
  });

  it('--wait also queues behind a holder that is not a pass', async () => {
    const cfg = config(join(dir, 'missing.git'));
    const holder = startHolder();
    await heldBy(holder.proc.pid!);
    const waiting = startMoor(['--config', cfg, 'reconcile', '--once', '--wait']);
    await queued(waiting.proc.pid!);
    await delay(500);
    expect(waiting.proc.exitCode).toBeNull();
    expect(existsSync(stateDir)).toBe(false);
    holder.proc.stdin!.write('release\n');
    const r = await waiting.done;
    expect(r.code).toBe(4);
    expect(r.stderr).not.toContain('LockHeldError');
  });
});

describe('moor reconcile --once exit codes', () => {
  it('exits 5 when the guard refuses removing every workload, and changes nothing', async () => {
    // A repo that was emptied, and a state that says two workloads were applied. Their users
    // do not exist on this machine; the guard stops the pass before it would look.
    const bare = join(dir, 'origin.git');
    const work = join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
    git(dir, 'clone', '-q', bare, work);
    git(work, 'checkout', '-q', '-B', 'main');
    git(work, 'commit', '-q', '--allow-empty', '-m', 'empty');
    git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
    const store = await openStateStore(stateDir);
    for (const name of ['moortestghosta', 'moortestghostb']) {
      await store.applied.write({
        workload: name,
        user: name,
        uid: 64000,
        hash: 'a'.repeat(64),
        hashes: { [`containers/systemd/${name}.container`]: 'b'.repeat(64) },
        generation: 1,
        commit: 'c'.repeat(40),
      });
    }
    const cfg = config(bare);

    const r = runMoor(['--config', cfg, 'reconcile', '--once']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('GuardError: the plan removes every workload (2)');
    expect(r.stderr).toContain('--allow-mass-removal');
    expect((await store.applied.list()).map((a) => a.workload)).toEqual(['moortestghosta', 'moortestghostb']);
    expect(await store.generations.list()).toEqual([]);

    const dry = runMoor(['--config', cfg, 'reconcile', '--once', '--dry-run', '--json']);
    expect(dry.code).toBe(5);
    const result = JSON.parse(dry.stdout) as { refused?: string; exitCode: number };
    expect(result.exitCode).toBe(5);
    expect(result.refused).toContain('removes every workload');
  });

  it('exits 4 naming the fix when the bare repository has no commits yet (plan and pass alike)', async () => {
    const bare = join(dir, 'empty.git');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
    const cfg = config(bare);
    for (const args of [['plan'], ['reconcile', '--once']]) {
      const r = runMoor(['--config', cfg, ...args]);
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr).toContain('branch main has no commits yet: push one first');
      expect(r.stderr).not.toMatch(/fatal:|couldn't find remote ref/);
    }
    expect(await (await openStateStore(stateDir)).generations.list()).toEqual([]);
  });

  it('without --once exits 2 pointing at moor daemon, before reading the config or taking the lock', () => {
    const r = runMoor(['--config', join(dir, 'no-such-config.toml'), 'reconcile']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--once');
    expect(r.stderr).toContain('moor daemon');
    expect(existsSync(lockPath)).toBe(false);
  });

  it('exits 2 on an invalid config before taking the lock', () => {
    const cfg = config(join(dir, 'missing.git'), 'bogus = 1');
    const r = runMoor(['--config', cfg, 'reconcile', '--once']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown key');
    expect(existsSync(lockPath)).toBe(false);
  });
});
