// The daemon in this process, with a fake pass and a recording notifier, over real files,
// a real control socket, real git and real file watches: what each trigger does, SIGHUP
// with a bad config keeping the old one, RELOADING/READY around a reload, STATUS after
// each pass, and a stop that lets the pass in hand finish (or gives up at timeouts.stop).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getJson, reconcileViaDaemon } from '../../daemon/cli/control-client';
import { Agent, type AgentOptions } from '../../daemon/service/agent';
import type { PassRequest } from '../../daemon/service/pass-loop';
import type { Notifier } from '../../daemon/service/notify';
import type { PassOutcome, TriggerReason } from '../../daemon/service/protocol';
import { summarize } from '../../daemon/pass/pass-result';
import { git } from '../helpers/pass-harness';

let dir: string;
let configFile: string;
let socketPath: string;
let bare: string;
let work: string;
let transforms: string;
let logs: string[];
let sent: string[];
let daemon: Agent | undefined;
/** Every pass the fake executor was asked for. */
let passes: Array<{ reasons: TriggerReason[]; request: PassRequest; end: (o?: PassOutcome) => void }>;
/** Passes end at once unless held. */
let hold: boolean;

function config(extra = ''): string {
  return [
    `state_dir = "${join(dir, 'state')}"`,
    `lock_path = "${join(dir, 'run', 'lock')}"`,
    `transforms_dir = "${transforms}"`,
    'log_level = "debug"',
    '[source]',
    `bare_repo = "${bare}"`,
    '[schedule]',
    // Never during a test: scheduled passes are tested with a fake cron.
    'cron = "0 0 1 1 *"',
    'jitter = "0s"',
    '[control]',
    `socket = "${socketPath}"`,
    extra,
  ].join('\n');
}

const notifier: Notifier = {
  backend: 'addon',
  watchdogPingMs: undefined,
  ready: (status) => void sent.push(`READY=1${status !== undefined ? ` STATUS=${status}` : ''}`),
  reloading: () => void sent.push('RELOADING=1'),
  stopping: () => void sent.push('STOPPING=1'),
  status: (text) => void sent.push(`STATUS=${text}`),
  watchdog: () => void sent.push('WATCHDOG=1'),
};

function resultFor(reasons: TriggerReason[]) {
  return { ...summarize({ kind: 'pass', dryRun: false, commit: 'abcdef0123', source: bare, items: [] }), summary: `pass ${passes.length} for ${reasons.join('+')}` };
}

async function startDaemon(overrides: Partial<AgentOptions> = {}): Promise<Agent> {
  daemon = await Agent.start({
    configFile,
    configRequired: true,
    handleSignals: false,
    startupPass: false,
    logSink: { write: (l) => void logs.push(l), journal: true },
    notifier,
    execute: (request) =>
      new Promise((resolve) => {
        const end = (o?: PassOutcome) => resolve(o ?? { kind: 'result', result: resultFor(request.reasons) });
        passes.push({ reasons: [...request.reasons].sort(), request, end });
        if (!hold) end();
      }),
    ...overrides,
  });
  return daemon;
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-daemon-'));
  configFile = join(dir, 'etc', 'config.toml');
  socketPath = join(dir, 'run', 'moor.sock');
  bare = join(dir, 'deploy.git');
  work = join(dir, 'work');
  transforms = join(dir, 'etc', 'transforms');
  mkdirSync(transforms, { recursive: true });
  git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
  git(dir, 'clone', '-q', bare, work);
  git(work, 'checkout', '-q', '-B', 'main');
  writeFileSync(configFile, config());
  logs = [];
  sent = [];
  passes = [];
  hold = false;
});

afterEach(async () => {
  hold = false;
  for (const p of passes) p.end();
  await daemon?.stop();
  daemon = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function push(file: string, content: string, branch = 'main'): void {
  writeFileSync(join(work, file), content);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', `edit ${file}`);
  git(work, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
}

describe('starting', () => {
  it('serves, then says READY=1, then runs the startup pass and puts its summary in STATUS=', async () => {
    await startDaemon({ startupPass: true });
    expect(sent[0]).toMatch(/^READY=1/);
    await waitFor(() => sent.some((s) => s.startsWith('STATUS=pass')), 'the status of the first pass');
    expect(passes[0]!.reasons).toEqual(['startup']);
    expect(sent).toContain('STATUS=pass 1 for startup');
    const status = await getJson<{ daemon: { pid: number; lastOutcome: { summary: string } } }>({ socketPath }, '/v1/status');
    expect(status.daemon.pid).toBe(process.pid);
    expect(status.daemon.lastOutcome.summary).toBe('pass 1 for startup');
  });

  it('refuses a bad config at start with a config error (exit 2)', async () => {
    writeFileSync(configFile, `${config()}\nbogus_key = 1\n`);
    await expect(startDaemon()).rejects.toMatchObject({ category: 'config' });
    writeFileSync(configFile, config().replace('cron = "0 0 1 1 *"', 'cron = "often"'));
    await expect(startDaemon()).rejects.toThrow(/schedule.cron/);
    daemon = undefined;
  });

  it('refuses a webhook secret file others can read at start, and on reload keeps the running config', async () => {
    const secret = join(dir, 'webhook.secret');
    writeFileSync(secret, 'hunter2\n', { mode: 0o600 });
    chmodSync(secret, 0o644);
    writeFileSync(configFile, config(`webhook_secret_file = "${secret}"`));
    await expect(startDaemon()).rejects.toMatchObject({ category: 'config', message: expect.stringContaining(`${secret} has mode 0644`) });
    daemon = undefined;

    chmodSync(secret, 0o600);
    await startDaemon();
    chmodSync(secret, 0o644);
    logs.length = 0;
    expect(await daemon!.reload('SIGHUP')).toBe(false);
    expect(logs.some((l) => l.startsWith('<3>config reload failed') && l.includes('control.webhook_secret_file'))).toBe(true);
  });
});

describe('the age identity', () => {
  it('refuses an identity file others can read, or with no key, at start, and on reload keeps the running config', async () => {
    const key = join(dir, 'age.key');
    writeFileSync(key, '# public key: age1example\nAGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n', { mode: 0o600 });
    chmodSync(key, 0o640);
    const withKey = `${config()}\n[secrets]\nidentity_file = "${key}"\n`;
    writeFileSync(configFile, withKey);
    await expect(startDaemon()).rejects.toMatchObject({ category: 'config', message: expect.stringMatching(/secrets\.identity_file.*has mode 0640: others may read the key; chmod 600/) });
    daemon = undefined;

    chmodSync(key, 0o600);
    await startDaemon();
    writeFileSync(key, '# nothing but a comment\n');
    logs.length = 0;
    expect(await daemon!.reload('SIGHUP')).toBe(false);
    expect(logs.some((l) => l.startsWith('<3>config reload failed') && l.includes('secrets.identity_file') && l.includes('holds no age identity'))).toBe(true);
  });
});

describe('triggers', () => {
  it('a git push to the bare repo starts a pass within moments', async () => {
    await startDaemon();
    const t0 = Date.now();
    push('web.container', '[Container]\nImage=a\n');
    await waitFor(() => passes.length === 1, 'a pass after the push');
    expect(passes[0]!.reasons).toEqual(['watch']);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(passes, logs.filter((l) => l.includes('watched path changed')).join('')).toHaveLength(1);
    // A push to another branch is not this host's business.
    push('web.container', '[Container]\nImage=b\n', 'feature');
    await new Promise((r) => setTimeout(r, 400));
    expect(passes).toHaveLength(1);
    // Packing the refs rewrites the branch's ref: one more pass, not two.
    logs.length = 0;
    git(bare, 'pack-refs', '--all');
    await waitFor(() => passes.length === 2, 'a pass after pack-refs');
    await new Promise((r) => setTimeout(r, 300));
    expect(passes, logs.filter((l) => l.includes('watched path changed')).join('')).toHaveLength(2);
  });

  it('a push triggers at once, not after the debounce; packing the refs waits for it', async () => {
    // A debounce longer than the test: only a trigger at the push itself can start the pass.
    await startDaemon({ debounceMs: 60_000 });
    push('web.container', '[Container]\nImage=a\n');
    await waitFor(() => passes.length === 1, 'a pass at the push, before the debounce ends');
    expect(passes[0]!.reasons).toEqual(['watch']);
    // git gc's pair (packed-refs rewritten, the loose ref unlinked) is left to the debounce.
    git(bare, 'pack-refs', '--all');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(passes, logs.filter((l) => l.includes('watched path changed')).join('')).toHaveLength(1);
  });

  it('a change in the transforms folder starts a pass', async () => {
    await startDaemon();
    writeFileSync(join(transforms, '_base.container'), '[Container]\nLabel=a=b\n');
    await waitFor(() => passes.length === 1, 'a pass after the transform changed');
    expect(passes[0]!.reasons).toEqual(['watch']);
  });

  it('a changed config file is reloaded (RELOADING=1, READY=1), then a pass runs', async () => {
    await startDaemon();
    writeFileSync(configFile, config().replace('log_level = "debug"', 'log_level = "info"'));
    await waitFor(() => passes.length === 1, 'a pass after the config changed');
    expect(passes[0]!.reasons).toEqual(['reload']);
    expect(daemon!.currentConfig.logLevel).toBe('info');
    const i = sent.indexOf('RELOADING=1');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(sent[i + 1]).toMatch(/^READY=1/);
  });

  it('a drop-in in config.d counts as config', async () => {
    await startDaemon();
    mkdirSync(join(dir, 'etc', 'config.d'));
    writeFileSync(join(dir, 'etc', 'config.d', '50-jitter.toml'), '[schedule]\njitter = "5s"\n');
    await waitFor(() => passes.length === 1, 'a pass after the drop-in appeared');
    expect(daemon!.currentConfig.schedule.jitterMs).toBe(5_000);
  });

  it('the schedule fires through the cron task ticks', async () => {
    const ticks: Array<() => void> = [];
    await startDaemon({
      createCronTask: (_expr, onTick) => {
        ticks.push(onTick);
        return { start: () => undefined, stop: () => undefined, destroy: () => undefined, getNextRun: () => new Date('2030-01-01T00:00:00Z') };
      },
    });
    ticks[0]!();
    await waitFor(() => passes.length === 1, 'the scheduled pass');
    expect(passes[0]!.reasons).toEqual(['schedule']);
    const status = await getJson<{ daemon: { nextScheduled: string } }>({ socketPath }, '/v1/status');
    expect(status.daemon.nextScheduled).toBe('2030-01-01T00:00:00.000Z');
  });

  it('triggers during a pass (push, transform, control request) make one follow-up pass', async () => {
    await startDaemon();
    hold = true;
    void daemon!.trigger('schedule');
    await waitFor(() => passes.length === 1, 'the first pass');
    push('web.container', '[Container]\nImage=c\n');
    writeFileSync(join(transforms, '_base.container'), '[Container]\nLabel=x=y\n');
    const viaSocket = reconcileViaDaemon({ socketPath });
    await waitFor(() => daemon!.info().queued?.includes('control') === true && daemon!.info().queued?.includes('watch') === true, 'the triggers to queue');
    expect(passes).toHaveLength(1);
    hold = false;
    passes[0]!.end();
    await viaSocket;
    await daemon!.idle();
    expect(passes.map((p) => p.reasons)).toEqual([['schedule'], ['control', 'watch']]);
  });
});

describe('SIGHUP', () => {
  it('with a broken config: logs it at error priority, keeps the running config, and says RELOADING=1 then READY=1', async () => {
    await startDaemon();
    const before = daemon!.currentConfig;
    writeFileSync(configFile, `${config()}\n[schedule]\ncron = "oops"\n`); // a duplicate table: a TOML error
    // The watch would reload too; wait for that to settle so only SIGHUP's reload is looked at.
    await new Promise((r) => setTimeout(r, 300));
    sent.length = 0;
    logs.length = 0;
    expect(await daemon!.reload('SIGHUP')).toBe(false);
    expect(daemon!.currentConfig).toBe(before);
    expect(sent.slice(0, 2).map((s) => s.split(' ')[0])).toEqual(['RELOADING=1', 'READY=1']);
    const errors = logs.filter((l) => l.startsWith('<3>config reload failed: keeping the running config'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('config.toml');
    expect(passes).toHaveLength(0);
    // Still serving with the old config.
    expect(await getJson({ socketPath }, '/v1/status')).toMatchObject({ workloads: [] });

    // A semantically bad value (not a TOML error) is refused the same way.
    writeFileSync(configFile, config().replace('cron = "0 0 1 1 *"', 'cron = "every minute"'));
    expect(await daemon!.reload('SIGHUP')).toBe(false);
    expect(daemon!.currentConfig).toBe(before);
  });

  it('with a good config: takes it and runs a pass', async () => {
    await startDaemon();
    writeFileSync(configFile, config().replace('jitter = "0s"', 'jitter = "10s"'));
    await new Promise((r) => setTimeout(r, 300));
    expect(await daemon!.reload('SIGHUP')).toBe(true);
    expect(daemon!.currentConfig.schedule.jitterMs).toBe(10_000);
    await daemon!.idle();
    expect(passes.at(-1)!.reasons).toEqual(['reload']);
  });

  it('starts watching a bare repo the new config names', async () => {
    const other = join(dir, 'other.git');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', other);
    await startDaemon();
    writeFileSync(configFile, config().replace(`bare_repo = "${bare}"`, `bare_repo = "${other}"`));
    await waitFor(() => daemon!.currentConfig.source.bareRepo === other, 'the reload');
    await daemon!.idle();
    const before = passes.length;
    writeFileSync(join(work, 'web.container'), '[Container]\nImage=a\n');
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', 'first');
    git(work, 'push', '-q', other, 'HEAD:refs/heads/main');
    await waitFor(() => passes.length === before + 1, 'a pass after a push to the new repo');
  });
});

describe('stopping', () => {
  it('lets the running pass finish its workload in hand, cancels the queued one, then exits 0', async () => {
    await startDaemon();
    hold = true;
    void daemon!.trigger('schedule');
    await waitFor(() => passes.length === 1, 'the pass');
    const queued = reconcileViaDaemon({ socketPath }).catch((e: unknown) => e);
    await waitFor(() => daemon!.info().queued !== undefined, 'the request to queue');
    const stopping = daemon!.stop('SIGTERM');
    expect(sent).toContain('STOPPING=1');
    expect(passes[0]!.request.shouldStop()).toBe(true);
    // The queued request learns that its pass will not run.
    expect(await queued).toMatchObject({ message: expect.stringMatching(/stopping/) });
    await new Promise((r) => setTimeout(r, 50));
    passes[0]!.end();
    expect(await stopping).toBe(0);
    expect(await daemon!.done).toBe(0);
    expect(passes).toHaveLength(1);
    expect(logs.some((l) => l.startsWith('<6>stopped'))).toBe(true);
  });

  it('gives up at timeouts.stop when the workload in hand does not finish, exiting 1 with an error', async () => {
    writeFileSync(configFile, `${config()}\n[timeouts]\nstop = "200ms"\n`);
    await startDaemon();
    hold = true;
    void daemon!.trigger('schedule');
    await waitFor(() => passes.length === 1, 'the pass');
    const t0 = Date.now();
    // Not a partial apply: the daemon gave up on the pass in hand.
    expect(await daemon!.stop('SIGTERM')).toBe(6);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(logs.some((l) => l.startsWith('<3>the running pass did not finish its workload within timeouts.stop'))).toBe(true);
  });

  it('stops at once when idle, and removes its socket', async () => {
    await startDaemon();
    expect(await daemon!.stop('SIGTERM')).toBe(0);
    await expect(getJson({ socketPath }, '/v1/status')).rejects.toThrow();
  });
});
