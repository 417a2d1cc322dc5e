// Faults of the world: storms of SIGHUP and SIGTERM against `moor daemon`, run as its own
// process (as systemd runs it) on a repository with no workloads, so its passes touch
// nothing on this machine. A storm of reloads is one reload running and one queued; a
// burst of stop signals is one clean stop (exit 0); a stop signal after the burst, while
// the stop still waits for a pass, exits at once with 6, as documented.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, withJournalStream } from '../helpers/cli';
import { emptySourceRepo, git } from '../helpers/pass-harness';

const MAIN = resolve(REPO_ROOT, 'daemon/main.ts');

let dir: string;
let configFile: string;
const children: ChildProcess[] = [];

function configText(url: string, extra = ''): string {
  return [
    `state_dir = "${join(dir, 'state')}"`,
    `transforms_dir = "${join(dir, 'etc', 'transforms')}"`,
    `lock_path = "${join(dir, 'run', 'lock')}"`,
    '[source]',
    `url = "${url}"`,
    '[schedule]',
    'cron = "0 0 1 1 *"',
    '[control]',
    `socket = "${join(dir, 'run', 'moor.sock')}"`,
    extra,
  ].join('\n');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-signals-'));
  configFile = join(dir, 'etc', 'config.toml');
  mkdirSync(join(dir, 'etc', 'transforms'), { recursive: true });
  mkdirSync(join(dir, 'run'), { recursive: true });
  const { bare } = emptySourceRepo(dir);
  writeFileSync(configFile, configText(bare));
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startDaemon() {
  // Its stderr is the journal, as under systemd: lines carry priorities (same pid after exec).
  const [cmd, ...args] = withJournalStream([process.execPath, '--import', 'tsx', MAIN, '--config', configFile, 'daemon']);
  const child = spawn(cmd!, args, { cwd: REPO_ROOT });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, log: () => stderr, lines: (re: RegExp) => stderr.split('\n').filter((l) => re.test(l)) };
}

async function waitFor(cond: () => boolean, what: string, detail: () => string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Signals sent one by one, `gapMs` apart (a loop in a script, a misbehaving supervisor). */
async function storm(child: ChildProcess, signals: NodeJS.Signals[], gapMs: number): Promise<void> {
  for (const s of signals) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(s);
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

async function readyDaemon() {
  const d = startDaemon();
  await waitFor(() => d.lines(/^<6>pass done/).length === 1, 'the startup pass', d.log);
  return d;
}

describe('a storm of SIGHUP', () => {
  it('is one reload running and at most one queued at a time; the daemon keeps serving and stops cleanly after it', async () => {
    const d = await readyDaemon();
    await storm(d.child, Array<NodeJS.Signals>(100).fill('SIGHUP'), 2);
    const afterStorm = d.lines(/config reloaded/).length;
    await new Promise((r) => setTimeout(r, 1_000));
    const reloads = d.lines(/config reloaded/).length;
    expect(reloads).toBeGreaterThanOrEqual(1);
    // Nothing piles up: once the storm is over, the reload running and the one queued, no
    // more (one line of slack for output still in the pipe; without the queue it is dozens).
    expect(reloads - afterStorm).toBeLessThanOrEqual(3);
    expect(d.child.exitCode).toBeNull();

    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(d.lines(/^<6>stopped/)).toHaveLength(1);
    expect(d.log()).not.toMatch(/<3>/);
  }, 90_000);
});

describe('a storm of SIGTERM and SIGHUP', () => {
  it('ends in one clean stop: exit 0, "stopped" logged once, no pass and no new reload after the stop began, the state readable', async () => {
    const d = await readyDaemon();
    const signals = Array.from({ length: 60 }, (_, i): NodeJS.Signals => (i % 3 === 0 ? 'SIGHUP' : 'SIGTERM'));
    await storm(d.child, signals, 3);
    expect(await d.exited, d.log()).toBe(0);
    expect(d.lines(/^<6>stopped/)).toHaveLength(1);
    expect(d.log()).not.toMatch(/second stop signal/);
    const stopping = d.log().indexOf('<6>stopping');
    expect(stopping).toBeGreaterThan(0);
    expect(d.log().slice(stopping)).not.toMatch(/pass starting/);
    // A reload already under way when the stop began may finish; none starts after it.
    expect(d.log().slice(stopping).match(/config reloaded/g)?.length ?? 0).toBeLessThanOrEqual(1);
    const last = JSON.parse(readFileSync(join(dir, 'state', 'last-pass.json'), 'utf8')) as { exitCode: number };
    expect(last.exitCode).toBe(0);
  }, 90_000);
});

describe('a stop signal after the burst', () => {
  let server: Server;
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    server?.close();
  });

  it('while the stop waits for a pass (a fetch from a server that never answers), exits at once with 6', async () => {
    server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    writeFileSync(configFile, configText(`http://127.0.0.1:${port}/deploy.git`, '[timeouts]\nfetch = "5m"\nstop = "5m"\n'));
    const d = startDaemon();
    await waitFor(() => sockets.length > 0, 'the startup pass to hang in its fetch', d.log);

    d.child.kill('SIGTERM');
    await waitFor(() => d.lines(/^<6>stopping: finishing the workloads in hand/).length === 1, 'the stop', d.log);
    // Within the burst: the same request; the stop goes on waiting.
    d.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(d.child.exitCode).toBeNull();
    const t0 = Date.now();
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(6);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(d.lines(/^<4>second stop signal: exiting now/)).toHaveLength(1);
  }, 90_000);
});
