// A fleet over one real git repository: hosts (each a FakeSystem and a state dir) publish
// their status to moor-status/<host> after a pass, a host with fleet.after deploys only
// what the ring before it ran healthy, and `moor fleet status` reads them all back.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../daemon/core/config/schema';
import { SourceError } from '../../daemon/core/errors';
import { exitCodeOfError } from '../../daemon/core/exit-codes';
import { parseStatusDocument, type StatusDocument } from '../../daemon/core/fleet-status';
import { publishStatus, type PublishOutcome } from '../../daemon/pass/fleet-publish';
import type { PassResult } from '../../daemon/pass/pass-result';
import { homesOf } from '../../daemon/service/status-publish';
import type { FakeSystem } from '../fakes/fake-system';
import { runMoor } from '../helpers/cli';
import { PassHarness, containerSpec, emptySourceRepo, git } from '../helpers/pass-harness';
import { Agent } from '../../daemon/service/agent';
import type { Notifier } from '../../daemon/service/notify';
import { summarize } from '../../daemon/pass/pass-result';
import { openStateStore } from '../../daemon/state/store';

const harnesses: PassHarness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.cleanup();
});

/** The host that owns the repository (its harness's bare repo is the fleet's source). */
function origin(config: ConfigFile): PassHarness {
  const h = new PassHarness({ config });
  harnesses.push(h);
  return h;
}

/** Another host of the same fleet: its own fake system and state dir, the origin's repository. */
function another(source: PassHarness, config: ConfigFile): PassHarness {
  const h = new PassHarness({ config: { ...config, source: { url: source.bare, branch: 'main' } } });
  harnesses.push(h);
  return h;
}

/** One pass and, as the CLI and the daemon do once the lock is released, its publish. */
async function passAndPublish(h: PassHarness): Promise<{ result?: PassResult; error?: unknown; published: PublishOutcome }> {
  let result: PassResult | undefined;
  let error: unknown;
  try {
    result = (await h.pass()).result;
  } catch (err) {
    error = err;
  }
  const pass = result ?? { kind: 'error' as const, exitCode: exitCodeOfError(error) };
  const published = await publishStatus(h.config, pass, { log: h.log, homes: (users) => homesOf(h.host(h.fake), users), clock: h.clock });
  return { ...(result ? { result } : {}), ...(error ? { error } : {}), published };
}

/** The document on moor-status/<host> of the repository. */
function published(h: PassHarness, host: string): StatusDocument {
  const parsed = parseStatusDocument(host, git(h.root, '--git-dir', h.bare, 'show', `refs/heads/moor-status/${host}:status.json`));
  if (!('document' in parsed)) throw new Error(parsed.problem);
  return parsed.document;
}

function statusHead(h: PassHarness, host: string): string {
  return git(h.root, '--git-dir', h.bare, 'rev-parse', `refs/heads/moor-status/${host}`);
}

/** The fake has no switch to undo failUnit; the failure is fixed "on the host". */
function clearFailure(fake: FakeSystem, user: string, unit: string): void {
  (fake as unknown as { failing: Set<string> }).failing.delete(`${user}/${unit}`);
}

const CANARY: ConfigFile = { host: { name: 'alpha' }, fleet: { publish: true, ring: 'canary' } };

describe('fleet.publish', () => {
  it('commits the status to moor-status/<host> after a pass; a pass saying the same pushes nothing', async () => {
    const h = origin(CANARY);
    const commit = h.commit({ 'web.container': containerSpec() });
    const first = await passAndPublish(h);
    expect(first.result?.exitCode).toBe(0);
    expect(first.published).toBe('published');

    const doc = published(h, 'alpha');
    const record = (await (await h.openStore()).applied.read('web'))!;
    expect(doc).toMatchObject({ schema: 1, host: 'alpha', ring: 'canary', commit, passCommit: commit, generation: 1, result: 'ok', exitCode: 0, healthy: true, lastHealthy: commit });
    expect(doc.workloads.web).toEqual({ user: 'web', uid: record.uid, home: h.fake.passwd.get('web')!.home, hash: record.hash, status: 'ok' });
    // The branch is the host's log, written by moor as this host.
    const head = statusHead(h, 'alpha');
    expect(git(h.root, '--git-dir', h.bare, 'log', '-1', '--format=%an <%ae>|%s', head)).toBe(`moor <moor@alpha>|alpha: ok at ${commit.slice(0, 12)}, generation 1`);
    expect(git(h.root, '--git-dir', h.bare, 'ls-tree', '--name-only', head)).toBe('status.json');
    expect(JSON.parse(readFileSync(join(h.stateDir, 'published.json'), 'utf8')).statusCommit).toBe(head);

    const second = await passAndPublish(h);
    expect(second.published).toBe('unchanged');
    expect(statusHead(h, 'alpha')).toBe(head);

    // Something new to say: a commit on top of the last, its parent the previous head.
    const next = h.commit({ 'web.container': containerSpec('localhost/app:2') });
    expect((await passAndPublish(h)).published).toBe('published');
    expect(published(h, 'alpha').commit).toBe(next);
    expect(git(h.root, '--git-dir', h.bare, 'rev-parse', `${statusHead(h, 'alpha')}^`)).toBe(head);
    // Nothing but its own branch was pushed.
    expect(git(h.root, '--git-dir', h.bare, 'for-each-ref', '--format=%(refname)').split('\n').sort()).toEqual(['refs/heads/main', 'refs/heads/moor-status/alpha']);
  });

  it('a failed push is logged at error priority naming the branch and the remote\'s words, and pushed after the next pass', async () => {
    const h = origin(CANARY);
    h.commit({ 'web.container': containerSpec() });
    const hook = join(h.bare, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "status branches are closed today" >&2\nexit 1\n');
    chmodSync(hook, 0o755);

    const first = await passAndPublish(h);
    expect(first.result?.exitCode).toBe(0);
    expect(first.published).toBe('failed');
    const line = h.logs.find((l) => l.includes('fleet: publishing the status to moor-status/alpha'));
    expect(line).toMatch(/^<3>/);
    expect(line).toContain('status branches are closed today');
    expect(line).toContain('tried again after the next pass');
    expect(git(h.root, '--git-dir', h.bare, 'for-each-ref', 'refs/heads/moor-status/')).toBe('');

    // The next pass changes nothing on the host, yet the status is still to be published.
    rmSync(hook);
    const second = await passAndPublish(h);
    expect(second.published).toBe('published');
    expect(published(h, 'alpha')).toMatchObject({ healthy: true, generation: 1 });
  });

  it('a pass that fails before anything changes is published as failed, the last healthy commit kept', async () => {
    const h = origin(CANARY);
    const good = h.commit({ 'web.container': containerSpec() });
    await passAndPublish(h);
    // A tree moor refuses (exit 2): the host runs what it ran, and says so.
    h.commit({ 'web.container': `${containerSpec()}\n[Secrets]\nx=y\n` });
    const refused = await passAndPublish(h);
    expect(exitCodeOfError(refused.error)).toBe(2);
    expect(refused.published).toBe('published');
    expect(published(h, 'alpha')).toMatchObject({ result: 'failed', exitCode: 2, healthy: false, commit: good, passCommit: null, generation: 1, lastHealthy: good });
    expect(published(h, 'alpha').workloads.web?.status).toBe('unknown');

    // The source goes away: the fetch fails (exit 4), and its status cannot reach the source either.
    h.config = h.makeConfig({ ...CANARY, source: { url: join(h.root, 'gone.git'), branch: 'main' } });
    const gone = await passAndPublish(h);
    expect(gone.error).toBeInstanceOf(SourceError);
    expect(gone.published).toBe('failed');
    // Back, and fixed: healthy again.
    h.config = h.makeConfig(CANARY);
    const fixed = h.commit({ 'web.container': containerSpec() });
    expect((await passAndPublish(h)).published).toBe('published');
    expect(published(h, 'alpha')).toMatchObject({ healthy: true, lastHealthy: fixed, result: 'ok' });
  });
});

describe('the state dir', () => {
  it('one holding only what publishing wrote is moor\'s own, not refused as foreign', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moor-fleet-state-'));
    try {
      writeFileSync(join(dir, 'published.json'), '{"lastHealthy": null}');
      mkdirSync(join(dir, 'fleet.git'));
      await expect(openStateStore(dir)).resolves.toMatchObject({ dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fleet.after: a staged rollout', () => {
  it('a commit that fails on the canary is not deployed by a host waiting for its ring; the fixed one is', async () => {
    const canary = origin(CANARY);
    const follower = another(canary, { host: { name: 'beta' }, fleet: { publish: true, after: 'canary' } });

    // Nothing published yet: the follower has no live generation to stay at.
    const c1 = canary.commit({ 'web.container': containerSpec('localhost/app:1') });
    const waiting = await passAndPublish(follower);
    expect(waiting.error).toBeInstanceOf(SourceError);
    expect(exitCodeOfError(waiting.error)).toBe(4);
    expect((waiting.error as Error).message).toMatch(/^fleet.after = "canary": holding: no host of ring canary has published its status/);
    expect((waiting.error as Error).message).toContain('nothing was deployed');
    expect(follower.fake.passwd.has('web')).toBe(false);

    // The canary runs C1 healthy: the follower takes it.
    expect((await passAndPublish(canary)).result?.exitCode).toBe(0);
    const took = await passAndPublish(follower);
    expect(took.result?.commit).toBe(c1);
    expect(follower.logs.some((l) => l.startsWith('<6>') && l.includes(`fleet.after: taking ${c1.slice(0, 12)}: healthy on ring canary (alpha)`))).toBe(true);
    const hashC1 = (await (await follower.openStore()).applied.read('web'))!.hash;

    // C2 fails on the canary (rolled back there): the follower stays at C1.
    const c2 = canary.commit({ 'web.container': containerSpec('localhost/app:2') });
    canary.fake.failUnit('web', 'web.service');
    const bad = await passAndPublish(canary);
    expect(bad.result?.exitCode).toBe(1);
    expect(published(canary, 'alpha')).toMatchObject({ healthy: false, passCommit: c2, lastHealthy: c1, result: 'partial' });
    const held = await passAndPublish(follower);
    expect(held.result?.commit).toBe(c1);
    expect(held.result?.exitCode).toBe(0);
    expect((await (await follower.openStore()).applied.read('web'))!.hash).toBe(hashC1);
    expect(follower.fake.calls.some((c) => c.join(' ').includes('localhost/app:2'))).toBe(false);
    // The follower's own status says what it runs, not the tip.
    expect(published(canary, 'beta')).toMatchObject({ commit: c1, healthy: true });

    // C3 fixes it: healthy on the canary, then taken by the follower.
    const c3 = canary.commit({ 'web.container': containerSpec('localhost/app:3') });
    clearFailure(canary.fake, 'web', 'web.service');
    expect((await passAndPublish(canary)).result?.exitCode).toBe(0);
    const fixed = await passAndPublish(follower);
    expect(fixed.result?.commit).toBe(c3);
    expect((await (await follower.openStore()).applied.read('web'))!.hash).not.toBe(hashC1);
  });

  it('a malformed status branch holds the host at its live commit, logged at warning priority naming the branch', async () => {
    const canary = origin(CANARY);
    const follower = another(canary, { host: { name: 'beta' }, fleet: { after: 'canary' } });
    const c1 = canary.commit({ 'web.container': containerSpec('localhost/app:1') });
    await passAndPublish(canary);
    await passAndPublish(follower);
    // Someone pushes garbage as gamma's status, then a new commit lands and the canary runs it.
    canary.pushStatusBranch('gamma', '{"schema": 1, "host": "gamma", "ring": "canary"');
    canary.commit({ 'web.container': containerSpec('localhost/app:2') });
    await passAndPublish(canary);
    const held = await passAndPublish(follower);
    expect(held.result?.commit).toBe(c1);
    const warning = follower.logs.find((l) => l.includes('fleet.after: holding'));
    expect(warning).toMatch(/^<4>/);
    expect(warning).toContain('moor-status/gamma: status.json is not JSON');

    // The branch deleted at the source is pruned from the follower's fetch: it moves on.
    git(canary.root, '--git-dir', canary.bare, 'update-ref', '-d', 'refs/heads/moor-status/gamma');
    const moved = await passAndPublish(follower);
    expect(moved.result?.commit).toBe(published(canary, 'alpha').commit);
    expect(moved.result?.commit).not.toBe(c1);
  });
});

describe('moor fleet status', () => {
  it('lists every host that published, sorted, with its commit, generation, result and failures; exit 1 while one is not healthy', async () => {
    const alpha = origin(CANARY);
    const beta = another(alpha, { host: { name: 'beta' }, fleet: { publish: true } });
    const gamma = another(alpha, { host: { name: 'gamma', labels: { zone: 'eu-1' } }, fleet: { publish: true } });
    const c1 = alpha.commit({ 'web.container': containerSpec('localhost/app:1'), 'db.container': containerSpec('localhost/db:1') });
    for (const h of [gamma, alpha, beta]) expect((await passAndPublish(h)).result?.exitCode).toBe(0);

    const all = runMoor(['fleet', 'status', '--source', alpha.bare]);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`source ${alpha.bare}  branch main  tip ${c1.slice(0, 12)}`);
    expect(lines[1]).toMatch(/^HOST\s+RING\s+COMMIT\s+GEN\s+RESULT\s+FAILED\s+PUBLISHED$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(0, 6))).toEqual([
      ['alpha', 'canary', c1.slice(0, 12), '1', 'ok', '-'],
      ['beta', 'default', c1.slice(0, 12), '1', 'ok', '-'],
      ['gamma', 'default', c1.slice(0, 12), '1', 'ok', '-'],
    ]);

    // db fails on beta; the branch moves on.
    const c2 = alpha.commit({ 'web.container': containerSpec('localhost/app:1'), 'db.container': containerSpec('localhost/db:2') });
    beta.fake.failUnit('db', 'db.service');
    expect((await passAndPublish(beta)).result?.exitCode).toBe(1);
    const json = runMoor(['fleet', 'status', '--source', alpha.bare, '--json']);
    expect(json.code, json.stderr).toBe(1);
    const view = JSON.parse(json.stdout);
    expect(view).toMatchObject({ schema: 1, source: alpha.bare, branch: 'main', tip: c2 });
    expect(view.hosts.map((h: { host: string }) => h.host)).toEqual(['alpha', 'beta', 'gamma']);
    expect(view.hosts[1]).toMatchObject({ host: 'beta', commit: c1, passCommit: c2, result: 'partial', healthy: false, failed: ['db'], lastHealthy: c1 });
    expect(view.hosts[2].labels).toEqual({ zone: 'eu-1' });
    const text = runMoor(['fleet', 'status', '--source', alpha.bare]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`^beta\\s+default\\s+${c1.slice(0, 12)}\\s+1\\s+partial\\s+db\\s+\\d+s ago$`, 'm'));
  });

  it('shows a malformed or hostile document as such, escaped, without failing the others', async () => {
    const alpha = origin(CANARY);
    alpha.commit({ 'web.container': containerSpec() });
    await passAndPublish(alpha);
    alpha.pushStatusBranch('evil', JSON.stringify({ ...published(alpha, 'alpha'), host: 'evil', ring: 'x\u001b[2Jy' }));
    alpha.pushStatusBranch('huge', 'x'.repeat(300 * 1024));
    alpha.pushStatusBranch('Not_A_Host', 'x'.repeat(300 * 1024));

    const r = runMoor(['fleet', 'status', '--source', alpha.bare]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).toMatch(/^alpha\s+canary\s+/m);
    expect(r.stdout).toMatch(/^evil\s+-\s+-\s+-\s+unreadable\s+status\.json is not a status document: ring: a ring name/m);
    expect(r.stdout).toMatch(/^huge\s+-\s+-\s+-\s+unreadable\s+status\.json is 307200 bytes, more than 262144/m);
    expect(r.stdout).toMatch(/^Not_A_Host\s+.*the branch name is not a host name/m);
    const json = JSON.parse(runMoor(['fleet', 'status', '--source', alpha.bare, '--json']).stdout);
    expect(json.hosts.find((h: { host: string }) => h.host === 'evil')).toEqual({ host: 'evil', problem: 'status.json is not a status document: ring: a ring name' });
  });

  it('no host published: says so, exit 0; a source that cannot be read: exit 4', async () => {
    const alpha = origin(CANARY);
    alpha.commit({ 'web.container': containerSpec() });
    const r = runMoor(['fleet', 'status', '--source', alpha.bare]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('no host has published its status');
    const missing = runMoor(['fleet', 'status', '--source', join(alpha.root, 'nowhere.git')]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('moor-status');
    expect(existsSync(join(alpha.root, 'nowhere.git'))).toBe(false);
  });
});

describe('who publishes', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function configFile(source: string): string {
    const file = join(dir, 'config.toml');
    mkdirSync(join(dir, 'transforms'), { recursive: true });
    writeFileSync(file, [
      `state_dir = ${JSON.stringify(join(dir, 'state'))}`,
      `lock_path = ${JSON.stringify(join(dir, 'run', 'lock'))}`,
      `transforms_dir = ${JSON.stringify(join(dir, 'transforms'))}`,
      '[source]', `url = ${JSON.stringify(source)}`,
      '[schedule]', 'cron = "0 0 1 1 *"',
      '[control]', `socket = ${JSON.stringify(join(dir, 'run', 'moor.sock'))}`,
      '[host]', 'name = "alpha"',
      '[fleet]', 'publish = true',
    ].join('\n'));
    return file;
  }

  it('moor reconcile --once publishes once its pass is done', () => {
    dir = mkdtempSync(join(tmpdir(), 'moor-fleet-cli-'));
    // A repository without workloads: the pass runs no host command.
    const { bare, commit } = emptySourceRepo(dir);
    const r = runMoor(['--config', configFile(bare), 'reconcile', '--once', '--no-daemon']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseStatusDocument('alpha', git(dir, '--git-dir', bare, 'show', 'refs/heads/moor-status/alpha:status.json'));
    expect(doc).toMatchObject({ document: { host: 'alpha', ring: 'default', commit, healthy: true, generation: 1 } });
    expect(r.stderr).toContain('fleet: status published to moor-status/alpha');
  });

  it('the daemon publishes after each pass, in the background', async () => {
    dir = mkdtempSync(join(tmpdir(), 'moor-fleet-daemon-'));
    const { bare, commit } = emptySourceRepo(dir);
    const notifier: Notifier = { backend: 'none', watchdogPingMs: undefined, ready: () => undefined, reloading: () => undefined, stopping: () => undefined, status: () => undefined, watchdog: () => undefined };
    let exitCode: 0 | 1 = 0;
    const daemon = await Agent.start({
      configFile: configFile(bare),
      configRequired: true,
      handleSignals: false,
      startupPass: false,
      logSink: { write: () => undefined, journal: true },
      notifier,
      execute: async () => {
        const items = [{ workload: 'web', user: 'web', action: 'update' as const, reason: 'x', changed: [], removed: [], result: exitCode ? ('failed' as const) : ('ok' as const), durationMs: 1 }];
        return { kind: 'result', result: summarize({ kind: 'pass', dryRun: false, commit, source: bare, items }) };
      },
    });
    try {
      await daemon.trigger('control');
      await daemon.publisher.idle();
      const first = parseStatusDocument('alpha', git(dir, '--git-dir', bare, 'show', 'refs/heads/moor-status/alpha:status.json'));
      expect(first).toMatchObject({ document: { healthy: true, lastHealthy: commit, workloads: { web: { status: 'ok' } } } });
      exitCode = 1;
      await daemon.trigger('control');
      await daemon.publisher.idle();
      const second = parseStatusDocument('alpha', git(dir, '--git-dir', bare, 'show', 'refs/heads/moor-status/alpha:status.json'));
      expect(second).toMatchObject({ document: { healthy: false, result: 'partial', lastHealthy: commit, workloads: { web: { status: 'failed' } } } });
    } finally {
      await daemon.stop();
    }
  });
});
