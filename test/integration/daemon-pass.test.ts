// The daemon with the real pass, lock and state store over a fake host: a push to the bare
// repo deploys through the ref watch; `moor status` and `moor reconcile --once` (as child
// processes) go through the running daemon and say so, and work without it; a failing
// pass is recorded for `moor status`; GET /metrics counts the passes and a textfile the
// in-process ones; the daemon and a manual pass never overlap.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../daemon/service/agent';
import { createPassExecutor } from '../../daemon/service/pass-executor';
import type { Notifier } from '../../daemon/service/notify';
import { acquirePassLock } from '../../daemon/host/lock';
import { createLogger } from '../../daemon/host/log';
import { openStateStore } from '../../daemon/state/store';
import { REPO_ROOT } from '../helpers/cli';
import { containerSpec, PassHarness } from '../helpers/pass-harness';
import { family, parseExposition, value } from '../helpers/prometheus-text';
import { request } from 'node:http';

let h: PassHarness;
let configFile: string;
let socketPath: string;
let daemon: Agent | undefined;
let sent: string[];

const notifier: Notifier = {
  backend: 'addon',
  watchdogPingMs: undefined,
  ready: () => void sent.push('READY=1'),
  reloading: () => void sent.push('RELOADING=1'),
  stopping: () => void sent.push('STOPPING=1'),
  status: (text) => void sent.push(`STATUS=${text}`),
  watchdog: () => undefined,
};

beforeEach(() => {
  h = new PassHarness();
  socketPath = join(h.root, 'run', 'moor.sock');
  configFile = join(h.root, 'etc', 'config.toml');
  mkdirSync(join(h.root, 'etc'), { recursive: true });
  writeFileSync(
    configFile,
    [
      `state_dir = "${h.stateDir}"`,
      `transforms_dir = "${h.transformsDir}"`,
      `lock_path = "${h.lockPath}"`,
      'log_level = "debug"',
      '[source]',
      `bare_repo = "${h.bare}"`,
      '[schedule]',
      'cron = "0 0 1 1 *"',
      '[control]',
      `socket = "${socketPath}"`,
      '',
    ].join('\n'),
  );
  sent = [];
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  h.cleanup();
});

async function startDaemon(startupPass = true): Promise<Agent> {
  daemon = await Agent.start({
    configFile,
    configRequired: true,
    openStore: () => h.openStore(),
    handleSignals: false,
    startupPass,
    logSink: { write: (l) => void h.logs.push(l), journal: true },
    notifier,
    executorDeps: { host: (c) => h.host(h.fake, c), passOptions: { settleMs: 0 } },
  });
  return daemon;
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The CLI as a child process, without blocking this process (the daemon answers from here). */
function moor(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'daemon/main.ts'), '--config', configFile, ...args], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('the daemon with the real pass', () => {
  it('deploys at start, then deploys a push through the ref watch within seconds', async () => {
    const first = h.commit({ 'web.container': containerSpec('localhost/web:1') });
    await startDaemon();
    await waitFor(() => sent.some((s) => s.startsWith('STATUS=gen 1')), 'the startup pass');
    expect(sent).toContain(`STATUS=gen 1 @${first.slice(0, 7)}: 1 applied, 0 unchanged, 0 failed, 0 removed`);
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
    // log_level = "debug": each step of the pass is a journal line with its time.
    for (const span of ['2 desired state', '7 apply', 'apply.write files']) expect(h.logs.some((l) => l.includes(`span ${span}: `)), span).toBe(true);

    const t0 = Date.now();
    const second = h.commit({ 'web.container': containerSpec('localhost/web:2') });
    await waitFor(() => sent.some((s) => s.startsWith(`STATUS=gen 2 @${second.slice(0, 7)}`)), 'the pass after the push');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toContain('localhost/web:2');
    expect(h.logs.some((l) => l.startsWith('<6>pass starting') && l.includes('reasons=watch'))).toBe(true);
  });

  it('`moor status` and `moor reconcile --once` go through the running daemon, say so, and match the in-process output', async () => {
    h.commit({ 'web.container': containerSpec() });
    await startDaemon();
    await waitFor(() => sent.some((s) => s.startsWith('STATUS=gen 1')), 'the startup pass');

    const status = await moor(['status', '--json']);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain(`via the running daemon (${socketPath})`);
    const report = JSON.parse(status.stdout) as { live: { generation: number }; daemon: { pid: number }; workloads: Array<{ workload: string }> };
    expect(report.live.generation).toBe(1);
    expect(report.daemon.pid).toBe(process.pid);
    expect(report.workloads.map((w) => w.workload)).toEqual(['web']);

    const human = await moor(['status']);
    expect(human.stdout).toMatch(/^live: generation 1 /);
    expect(human.stdout).toContain(`daemon: pid ${process.pid}`);

    // The daemon reads the units as the request comes: a service stopped since the pass is drift at once.
    expect((report.workloads[0] as { systemd?: unknown }).systemd).toMatchObject({ manager: 'active', drift: [] });
    Object.assign(h.fake.unit('web', 'web.service')!, { activeState: 'inactive', subState: 'dead' });
    const drifted = await moor(['status']);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain('DRIFT: web.service inactive (dead)');

    h.commit({ 'web.container': containerSpec('localhost/web:3') });
    const rec = await moor(['reconcile', '--once', '--json']);
    expect(rec.stderr).toContain('via the running daemon');
    expect(rec.code).toBe(0);
    const result = JSON.parse(rec.stdout) as { exitCode: number; items: Array<{ workload: string; action: string; result: string }> };
    expect(result.exitCode).toBe(0);
    // The watch may have applied the push first; either way the pass the client saw ran after it.
    expect(result.items.map((i) => [i.workload, i.result])).toEqual([['web', 'ok']]);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toContain('localhost/web:3');

    const local = await moor(['status', '--no-daemon', '--json']);
    expect(local.stderr).not.toContain('via the running daemon');
    expect(JSON.parse(local.stdout)).not.toHaveProperty('daemon');
  });

  it('without a daemon, `moor status` reads the state itself, silently', async () => {
    h.commit({ 'web.container': containerSpec() });
    await startDaemon();
    await waitFor(() => sent.some((s) => s.startsWith('STATUS=gen 1')), 'the startup pass');
    await daemon!.stop();
    daemon = undefined;
    const status = await moor(['status', '--json']);
    expect(status.code).toBe(0);
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toMatchObject({ live: { generation: 1 } });
  });

  it("a pass that fails reports the error's exit code to the client and records it for moor status", async () => {
    h.commit({ 'web.container': containerSpec() });
    await startDaemon(false);
    rmSync(h.bare, { recursive: true, force: true });
    const rec = await moor(['reconcile', '--once']);
    expect(rec.code).toBe(4);
    expect(rec.stderr).toContain('via the running daemon');
    expect(rec.stderr).toMatch(/SourceError/);
    const last = await (await openStateStore(h.stateDir, { readOnly: true })).lastPass.read();
    expect(last).toMatchObject({ exitCode: 4 });
    expect(last!.summary).toMatch(/^pass failed: SourceError: /);
    expect(sent.at(-1)).toMatch(/^STATUS=pass failed: SourceError/);
    expect(h.logs.some((l) => l.startsWith('<3>pass failed: SourceError'))).toBe(true);
  });

  it('an invalid tree fails the pass with exit 2 and its problems, through the daemon too', async () => {
    h.commit({ 'web.container': '[Container]\nNoImage=1\n', 'stray/x.container': containerSpec() });
    await startDaemon(false);
    const rec = await moor(['reconcile', '--once']);
    expect(rec.code).toBe(2);
    expect(rec.stderr).toMatch(/problem/);
  });
});

describe('metrics', () => {
  function scrape(): Promise<{ status: number; body: string }> {
    return new Promise((done, fail) => {
      const req = request({ socketPath, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end();
    });
  }

  it("GET /metrics on the control socket counts the daemon's passes and its lock wait; a restarted daemon reports them still", async () => {
    h.commit({ 'web.container': containerSpec() });
    const manual = await acquirePassLock(h.lockPath, { wait: false });
    await startDaemon();
    await waitFor(() => h.logs.some((l) => l.startsWith('<6>waiting for the pass lock')), 'the daemon to queue on the lock');
    await new Promise((r) => setTimeout(r, 300));
    await manual.release();
    await waitFor(() => sent.some((s) => s.startsWith('STATUS=gen 1')), 'the startup pass');

    const r = await scrape();
    expect(r.status).toBe(200);
    const m = parseExposition(r.body);
    expect(value(m, 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect(value(m, 'moor_last_pass_exit_code')).toBe(0);
    expect(value(m, 'moor_live_generation')).toBe(1);
    expect(value(m, 'moor_workload_restarts_total', { workload: 'web' })).toBe(1);
    expect(Number(family(m, 'moor_lock_wait_seconds').metrics[0]!.sum)).toBeGreaterThanOrEqual(0.3);

    await daemon!.stop();
    daemon = undefined;
    await startDaemon(false);
    const again = parseExposition((await scrape()).body);
    expect(value(again, 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect(value(again, 'moor_last_pass_exit_code')).toBe(0);
    expect(value(again, 'moor_live_generation')).toBe(1);
    expect(value(again, 'moor_last_pass_timestamp_seconds')).toBe(value(m, 'moor_last_pass_timestamp_seconds'));
  });

  it('`moor reconcile --once` without a daemon counts its pass too, and writes the node_exporter textfile', async () => {
    const textfile = join(h.root, 'node-exporter', 'moor.prom');
    writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}[metrics]\ntextfile = "${textfile}"\n`);
    h.commit({ 'web.container': containerSpec() });
    // A source that cannot be fetched: the pass fails before it touches this host.
    rmSync(h.bare, { recursive: true, force: true });
    const rec = await moor(['reconcile', '--once', '--no-daemon']);
    expect(rec.code).toBe(4);
    const m = parseExposition(readFileSync(textfile, 'utf8'));
    expect(value(m, 'moor_passes_total', { result: 'source_unavailable' })).toBe(1);
    expect(value(m, 'moor_last_pass_exit_code')).toBe(4);
  });
});

describe('the pass lock', () => {
  it('a daemon pass waits while a manual pass holds the lock, and runs after it', async () => {
    h.commit({ 'web.container': containerSpec() });
    const manual = await acquirePassLock(h.lockPath, { wait: false });
    await startDaemon();
    await waitFor(() => h.logs.some((l) => l.startsWith('<6>waiting for the pass lock')), 'the daemon to queue on the lock');
    expect(h.logs.find((l) => l.startsWith('<6>waiting for the pass lock'))).toContain(`pid ${process.pid}`);
    expect(h.fake.calls).toHaveLength(0);
    await manual.release();
    await waitFor(() => sent.some((s) => s.startsWith('STATUS=gen 1')), 'the pass after the lock was released');
  });

  it('while the daemon passes, a manual in-process pass fails fast with exit 3 (no --wait)', async () => {
    h.commit({ 'web.container': containerSpec() });
    const log = createLogger('error', { write: () => undefined, journal: true });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const execute = createPassExecutor({
      config: () => h.config,
      log,
      openStore: () => h.openStore(),
      host: (c) => h.host(h.fake, c),
      runPass: async (deps, opts) => {
        await gate;
        const { runPass } = await import('../../daemon/pass/run-pass');
        return runPass(deps, opts);
      },
    });
    const running = execute({ reasons: ['control'], shouldStop: () => false, onItem: () => undefined, progress: () => undefined });
    await waitFor(() => {
      try {
        return readFileSync(h.lockPath, 'utf8').includes(String(process.pid));
      } catch {
        return false;
      }
    }, 'the daemon pass to hold the lock');
    await expect(acquirePassLock(h.lockPath, { wait: false })).rejects.toMatchObject({ name: 'LockHeldError' });
    release();
    expect((await running).kind).toBe('result');
    const after = await acquirePassLock(h.lockPath, { wait: false });
    await after.release();
  });

  it('a daemon told to stop while it waits for the lock gives up without running the pass', async () => {
    h.commit({ 'web.container': containerSpec() });
    const manual = await acquirePassLock(h.lockPath, { wait: false });
    try {
      await startDaemon();
      await waitFor(() => h.logs.some((l) => l.startsWith('<6>waiting for the pass lock')), 'the daemon to queue on the lock');
      const t0 = Date.now();
      expect(await daemon!.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
      daemon = undefined;
      expect(h.fake.calls).toHaveLength(0);
    } finally {
      await manual.release();
    }
  });
});
