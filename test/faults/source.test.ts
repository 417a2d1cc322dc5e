// Faults of the world: the source. Real git against a bare repository that is deleted, an
// address nothing listens on, and a server that accepts and never answers; the host is the
// fake system, so "unchanged" is every command the pass ran.
import { execFileSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../daemon/core/errors';
import { exitCodeOfError } from '../../daemon/core/exit-codes';
import type { CronTask } from '../../daemon/service/schedule';
import { Agent } from '../../daemon/service/agent';
import type { Notifier } from '../../daemon/service/notify';
import { containerSpec, PassHarness } from '../helpers/pass-harness';

/** Commands that change a host; the read-only ones (getent, show, is-active) are not among them. */
const MUTATING = /useradd|userdel|usermod|groupadd|enable-linger|disable-linger|terminate-user|__write-files|daemon-reload| (re)?start | stop |enable |kill |tar /;

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

async function failedPass(): Promise<{ err: unknown; calls: string[] }> {
  const before = h.fake.calls.length;
  const err = await h.pass().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, calls: h.fake.callLines().slice(before) };
}

async function deployed(): Promise<void> {
  h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:1') });
  expect((await h.pass()).result.exitCode).toBe(0);
}

async function lastPass() {
  return (await h.openStore()).lastPass.read();
}

describe('the source repository is deleted', () => {
  it('the pass exits 4, changes nothing on the host, and what ran keeps running', async () => {
    await deployed();
    rmSync(h.bare, { recursive: true, force: true });
    const { err, calls } = await failedPass();

    expect(err).toBeInstanceOf(SourceError);
    expect(exitCodeOfError(err)).toBe(4);
    expect((err as Error).message).toMatch(/^git fetch main failed: .*(does not appear to be a git repository|not found|No such file)/);
    expect(calls.filter((c) => MUTATING.test(c))).toEqual([]);
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
    expect(h.fake.unit('api', 'api.service')?.activeState).toBe('active');
    expect(h.fake.passwd.has('web') && h.fake.passwd.has('api')).toBe(true);
  });

  it('moor status says why: last-pass.json holds "pass failed: SourceError" and exit 4; the live generation stays', async () => {
    await deployed();
    rmSync(h.bare, { recursive: true, force: true });
    await failedPass();
    const last = await lastPass();
    expect(last).toMatchObject({ exitCode: 4 });
    expect(last!.summary).toMatch(/^pass failed: SourceError: git fetch main failed/);
    expect(await (await h.openStore()).generations.current()).toBe(1);
  });

  it('the pass after the repository is back converges from where it was', async () => {
    await deployed();
    renameSync(h.bare, `${h.bare}.away`);
    await failedPass();
    renameSync(`${h.bare}.away`, h.bare);
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'api.container': containerSpec('localhost/api:1') });
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action])).toEqual([
      ['api', 'unchanged'],
      ['web', 'update'],
    ]);
  });
});

describe('the source is unreachable', () => {
  it('an address nothing listens on: the pass exits 4 at once and changes nothing', async () => {
    await deployed();
    const config = h.makeConfig({ source: { url: 'http://127.0.0.1:1/deploy.git', branch: 'main' } });
    const before = h.fake.calls.length;
    const started = Date.now();
    const err = await h.pass({}, undefined, config).then(() => undefined, (e: unknown) => e);
    expect(exitCodeOfError(err)).toBe(4);
    expect((err as Error).message).toMatch(/Could not connect|Connection refused|Failed to connect/i);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(h.fake.callLines().slice(before).filter((c) => MUTATING.test(c))).toEqual([]);
  });

  it('a server that accepts and never answers: the fetch is cut at timeouts.fetch and the pass exits 4', async () => {
    await deployed();
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const config = h.makeConfig({ source: { url: `http://127.0.0.1:${port}/deploy.git`, branch: 'main' }, timeouts: { fetch: 2_000 } });
      const started = Date.now();
      const err = await h.pass({}, undefined, config).then(() => undefined, (e: unknown) => e);
      const took = Date.now() - started;
      expect(exitCodeOfError(err)).toBe(4);
      expect((err as Error).message).toBe('git fetch main failed: no answer within timeouts.fetch (2000 ms): stopped');
      expect(sockets.length).toBeGreaterThan(0);
      expect(took).toBeGreaterThanOrEqual(1_900);
      expect(took).toBeLessThan(15_000);
      expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
      // git and its remote helper were killed together: nothing of the fetch is left running.
      const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`127.0.0.1:${port}/`));
      expect(left).toEqual([]);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});

describe('the daemon while the source fails', () => {
  const notifier: Notifier = {
    backend: 'addon',
    watchdogPingMs: undefined,
    ready: () => undefined,
    reloading: () => undefined,
    stopping: () => undefined,
    status: (text) => void statuses.push(text),
    watchdog: () => undefined,
  };
  let statuses: string[];
  let daemon: Agent | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  it('keeps its schedule: every tick runs a pass, each failing with exit 4, and the first one after the repository is back deploys', async () => {
    statuses = [];
    h.commit({ 'web.container': containerSpec('localhost/web:1') });
    renameSync(h.bare, `${h.bare}.away`);
    const configFile = join(h.root, 'etc', 'config.toml');
    mkdirSync(join(h.root, 'etc'), { recursive: true });
    writeFileSync(
      configFile,
      [`state_dir = "${h.stateDir}"`, `transforms_dir = "${h.transformsDir}"`, `lock_path = "${h.lockPath}"`, '[source]', `url = "${h.bare}"`, '[schedule]', 'cron = "*/2 * * * *"', 'jitter = "0s"', '[control]', `socket = "${join(h.root, 'run', 'moor.sock')}"`, ''].join('\n'),
    );
    let tick: () => void = () => undefined;
    let stopped = false;
    const task: CronTask = { start: () => undefined, stop: () => void (stopped = true), destroy: () => undefined, getNextRun: () => (stopped ? null : new Date(Date.now() + 120_000)) };
    daemon = await Agent.start({
      configFile,
      configRequired: true,
      openStore: () => h.openStore(),
      handleSignals: false,
      startupPass: true,
      logSink: { write: (l) => void h.logs.push(l), journal: true },
      notifier,
      createCronTask: (_expr, onTick) => ((tick = onTick), task),
      executorDeps: { host: (c) => h.host(h.fake, c), passOptions: { settleMs: 0 } },
    });
    await daemon.idle();
    for (let i = 0; i < 2; i++) {
      tick();
      await new Promise((r) => setTimeout(r, 20));
      await daemon.idle();
    }
    const failures = h.logs.filter((l) => l.startsWith('<3>pass failed: SourceError'));
    expect(failures).toHaveLength(3);
    expect(statuses.at(-1)).toMatch(/^pass failed: SourceError/);
    expect(daemon.info().lastOutcome).toMatchObject({ exitCode: 4 });
    expect(daemon.info().nextScheduled).toBeDefined();
    expect(h.fake.calls.filter((c) => MUTATING.test(c.join(' ')))).toEqual([]);

    renameSync(`${h.bare}.away`, h.bare);
    tick();
    await new Promise((r) => setTimeout(r, 20));
    await daemon.idle();
    expect(statuses.at(-1)).toMatch(/^gen 1 @\w{7}: 1 applied/);
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
  });
});
