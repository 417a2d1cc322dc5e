// One workload failing never stops the others: a unit failing its health gate, a spec that
// turned invalid, a unit the Quadlet generator rejects.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeSystem } from '../fakes/fake-system';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const THREE = {
  'api.container': containerSpec('localhost/api:1'),
  'db.container': containerSpec('localhost/db:1'),
  'web.container': containerSpec('localhost/web:1'),
};
const MUTATING = /useradd|userdel|groupadd|enable-linger|disable-linger|terminate-user|__write-files|daemon-reload| (re)?start | stop |enable /;
const touches = (calls: string[], user: string) => calls.filter((c) => new RegExp(`(^| )${user}( |$)|-u ${user} `).test(c));

function generationDir(id: number): string {
  return join(h.stateDir, 'generations', String(id).padStart(6, '0'));
}

/** The fake has no switch to undo failUnit; the failure is fixed "on the host". */
function clearFailure(fake: FakeSystem, user: string, unit: string): void {
  (fake as unknown as { failing: Set<string> }).failing.delete(`${user}/${unit}`);
}

describe('a unit failing its health gate', () => {
  it('fails that item (exit 1) with the unit and its journal, applies the others, leaves the generation incomplete; the next pass retries only it', async () => {
    h.commit(THREE);
    h.fake.failUnit('db', 'db.service');
    h.fake.setUnitOutput('db', 'db.service', ['db[42]: starting', 'db[42]: FATAL: data directory has wrong ownership']);
    const { result } = await h.pass();

    expect(result.exitCode).toBe(1);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'create', 'ok'],
      ['db', 'create', 'failed'],
      ['web', 'create', 'ok'],
    ]);
    const db = result.items[1]!;
    expect(db.error).toContain('db.service failed (Result=exit-code)');
    expect(db.error).toContain('FATAL: data directory has wrong ownership');
    expect(result.summary).toContain('1 failed (db)');
    expect(h.fake.unit('api', 'api.service')?.activeState).toBe('active');
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
    expect(h.fake.unit('db', 'db.service')?.activeState).toBe('failed');

    // status.json names the failure; the generation is failed, not complete; current unmoved.
    expect(result.generation).toBe(1);
    expect(result.generationState).toBe('failed');
    expect(existsSync(join(generationDir(1), 'complete'))).toBe(false);
    const status = JSON.parse(readFileSync(join(generationDir(1), 'status.json'), 'utf8')) as {
      finishedAt?: string;
      items: { workload: string; result: string; error?: string; action: string }[];
    };
    expect(status.finishedAt).toBeDefined();
    const dbItem = status.items.find((i) => i.workload === 'db')!;
    expect(dbItem).toMatchObject({ result: 'failed', action: 'create' });
    expect(dbItem.error).toMatch(/db\.service.*FATAL: data directory has wrong ownership/);
    expect(status.items.filter((i) => i.result === 'ok').map((i) => i.workload)).toEqual(['api', 'web']);
    const store = await h.openStore();
    expect(await store.generations.current()).toBeUndefined();
    // No applied record for the failed item: the next pass must try it again.
    expect((await store.applied.list()).map((a) => a.workload)).toEqual(['api', 'web']);

    clearFailure(h.fake, 'db', 'db.service');
    const next = await h.pass();
    expect(next.result.exitCode).toBe(0);
    expect(next.result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'unchanged', 'ok'],
      ['db', 'create', 'ok'],
      ['web', 'unchanged', 'ok'],
    ]);
    for (const other of ['api', 'web']) expect(touches(next.calls, other).filter((c) => MUTATING.test(c))).toEqual([]);
    expect(next.calls.filter((c) => / restart /.test(c))).toEqual([
      expect.stringMatching(/^systemd-run .* --uid=db .* -- systemctl --user restart db\.service$/),
    ]);
    expect(h.fake.unit('db', 'db.service')?.activeState).toBe('active');
    expect(next.result.generationState).toBe('complete');
    expect(await (await h.openStore()).generations.current()).toBe(next.result.generation);
  });

  it("the failure names the cause: the container's own output of its last run and its exit status, not the manager's or Podman's lines", async () => {
    h.commit(THREE);
    h.fake.failUnit('db', 'db.service', { status: 3 });
    h.fake.setUnitOutput('db', 'db.service', ['opening /data/db', 'FATAL: cannot open /data/db']);
    const first = (await h.pass()).result.items.find((i) => i.workload === 'db')!;
    expect(first.error).toBe(
      'db.service failed (Result=exit-code): main process exited with status 3 — output of db.service: opening /data/db | FATAL: cannot open /data/db',
    );
    // The journal holds the run's noise too; none of it reaches the message.
    const messages = h.fake.journal.map((e) => e.MESSAGE ?? '').join('\n');
    expect(messages).toMatch(/Killing process 4242 \(podman pause\)/);
    expect(messages).toMatch(/<nwarn>: Failed to open cgroups file/);
    for (const noise of ['podman pause', 'Killing process', 'cgroups file', 'container died', 'Failed with result', '0123456789abcdef']) {
      expect(first.error).not.toContain(noise);
    }
    // moor status shows the same text (the generation's status item).
    const { statusReport } = await import('../../daemon/state/reports');
    expect((await statusReport(await h.openStore())).workloads.find((w) => w.workload === 'db')?.error).toBe(first.error);

    // The next run fails differently: only its own lines are quoted, not the first run's.
    h.fake.failUnit('db', 'db.service', { signal: 9 });
    h.fake.setUnitOutput('db', 'db.service', []);
    h.commit({ ...THREE, 'db.container': containerSpec('localhost/db:2') });
    const second = (await h.pass()).result.items.find((i) => i.workload === 'db')!;
    expect(second.error).toBe(
      'db.service failed (Result=signal): main process killed by SIGKILL — db.service wrote nothing to the journal in its last run (journalctl _UID=1001 _SYSTEMD_USER_UNIT=db.service)',
    );
  });

  it('a unit that never settles times out at the configured bound, without real waiting', async () => {
    h.cleanup();
    h = new PassHarness({ config: { timeouts: { health: 20_000 } } });
    h.commit({ 'web.container': containerSpec() });
    // Started, but stuck activating (image pull that never ends).
    const fake = h.fake;
    const original = fake.run.bind(fake);
    fake.run = async (argv, options) => {
      const out = await original(argv, options);
      if (argv.includes('restart')) Object.assign(fake.unit('web', 'web.service')!, { activeState: 'activating', subState: 'start' });
      return out;
    };
    const t0 = h.clock.ms;
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items[0]!.error).toMatch(/health gate timed out: web\.service activating \(start\)/);
    expect(h.clock.ms - t0).toBeGreaterThanOrEqual(20_000);
    expect(h.clock.ms - t0).toBeLessThan(25_000);
  });

  it('an update that fails and whose previous version fails too keeps the old applied record, so the next pass retries the update', async () => {
    h.commit(THREE);
    await h.pass();
    const old = await (await h.openStore()).applied.read('db');
    h.commit({ ...THREE, 'db.container': containerSpec('localhost/db:2') });
    h.fake.failUnit('db', 'db.service');
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'failed' });
    expect(await (await h.openStore()).applied.read('db')).toEqual(old);
    clearFailure(h.fake, 'db', 'db.service');
    const next = await h.pass();
    expect(next.result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'ok' });
  });

  it('a unit the Quadlet generator rejects fails its item with the generator message', async () => {
    h.commit(THREE);
    h.fake.rejectFile('web', 'web.container', 'unsupported key "Frobnicate" in group "Container"');
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    const web = result.items.find((i) => i.workload === 'web')!;
    expect(web.result).toBe('failed');
    expect(web.error).toContain('not loaded after daemon-reload: web.service (from web.container, LoadState=not-found)');
    expect(web.error).toContain('unsupported key "Frobnicate"');
    expect(result.items.filter((i) => i.result === 'ok').map((i) => i.workload)).toEqual(['api', 'db']);
  });
});

describe('a workload whose own spec became invalid', () => {
  it('is left exactly as it runs (no stop, no userdel, no write), fails with file:line, the others proceed', async () => {
    h.commit(THREE);
    await h.pass();
    const webBefore = { ...h.fake.unit('web', 'web.service')! };
    const recordBefore = await (await h.openStore()).applied.read('web');

    h.commit({
      'api.container': containerSpec('localhost/api:2'),
      'db.container': containerSpec('localhost/db:1'),
      'web.container': '[Unit]\nDescription=web\n\n[Container]\nExec=/bin/web\n',
    });
    const { result, calls } = await h.pass();

    expect(result.exitCode).toBe(1);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'update', 'ok'],
      ['db', 'unchanged', 'ok'],
      ['web', 'skip', 'failed'],
    ]);
    const web = result.items[2]!;
    expect(web.error).toBe('web.container:4: web.container has no Image= or Rootfs= in [Container]');
    // Not one command for web: not even a lookup.
    expect(touches(calls, 'web')).toEqual([]);
    expect(h.fake.unit('web', 'web.service')).toEqual(webBefore);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(containerSpec('localhost/web:1'));
    expect(h.fake.passwd.has('web')).toBe(true);
    const store = await h.openStore();
    expect(await store.applied.read('web')).toEqual(recordBefore);
    expect(await store.ownedUsers.isOwned('web')).toBe(true);
    expect(h.fake.userFiles('api').get('.config/containers/systemd/api.container')?.content).toBe(containerSpec('localhost/api:2'));
    expect(result.generationState).toBe('failed');
    expect(h.itemLines('web').at(-1)).toMatch(/^<3>web: skip failed workload=web user=web uid=1002 action=skip result=failed .*generation=2 /);
    expect(web.uid).toBe(recordBefore!.uid);

    // It stays failed (and untouched) every pass until the spec is fixed.
    const again = await h.pass();
    expect(again.result.exitCode).toBe(1);
    expect(touches(again.calls, 'web')).toEqual([]);
    h.commit({ ...THREE, 'api.container': containerSpec('localhost/api:2') });
    const fixed = await h.pass();
    expect(fixed.result.exitCode).toBe(0);
    expect(fixed.result.items.find((i) => i.workload === 'web')?.action).toBe('unchanged');
  });

  it('an invalid spec never counts as a removal, even when every workload is invalid', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    await h.pass();
    h.commit({ 'web.container': '[Container]\n', 'api.container': '[Container]\n' });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items.map((i) => i.action)).toEqual(['skip', 'skip']);
    expect(calls.filter((c) => MUTATING.test(c))).toEqual([]);
    expect(h.fake.passwd.has('web') && h.fake.passwd.has('api')).toBe(true);
  });

  it('a tree-level problem (a group with no transform) fails the pass before anything changes', async () => {
    h.commit(THREE);
    await h.pass();
    h.commit({ ...THREE, 'web.container': containerSpec('localhost/web:2'), 'apps/x.container': containerSpec() });
    const before = h.fake.calls.length;
    const error = await h.pass().catch((e: unknown) => e);
    expect((error as Error).name).toBe('ValidationError');
    expect(h.fake.callLines().slice(before)).toEqual([]);
  });
});

describe('a spec the generator rejects on an update', () => {
  it('is rolled back: the previously applied files are put back, so the running service survives a reload', async () => {
    h.commit(THREE);
    await h.pass();
    const before = h.fake.userFiles('web').get('.config/containers/systemd/web.container')!.content;
    const invocation = h.fake.unit('web', 'web.service')!.invocationId;

    h.commit({ ...THREE, 'web.container': containerSpec('localhost/web:2', 'Frobnicate=yes') });
    h.fake.rejectFile('web', 'web.container', 'unsupported key "Frobnicate" in group "Container"', 'Frobnicate=yes');
    const { result } = await h.pass();

    const web = result.items.find((i) => i.workload === 'web')!;
    expect(web).toMatchObject({ action: 'update', result: 'rolled-back' });
    expect(web.error).toContain('not loaded after daemon-reload: web.service');
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')!.content).toBe(before);
    expect(h.fake.unit('web', 'web.service')!.activeState).toBe('active');
    // It never stopped: the old unit was not restarted, only confirmed healthy.
    expect(h.fake.unit('web', 'web.service')!.invocationId).toBe(invocation);
    expect((await (await h.openStore()).applied.read('web'))!.rolledBack?.error).toContain('unsupported key "Frobnicate"');
  });
});

describe('a workload that never applied successfully', () => {
  it('is removed with its user once it leaves the repo', async () => {
    h.commit(THREE);
    h.fake.rejectFile('web', 'web.container');
    const first = await h.pass();
    expect(first.result.items.find((i) => i.workload === 'web')!.result).toBe('failed');
    expect(first.result.items.find((i) => i.workload === 'web')!.uid).toBe(h.fake.passwd.get('web')!.uid);
    expect(h.fake.passwd.has('web')).toBe(true);

    const { ['web.container']: _gone, ...rest } = THREE;
    h.commit(rest);
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.find((i) => i.workload === 'web')).toMatchObject({ action: 'remove', result: 'ok' });
    expect(calls).toContain('userdel --remove web');
    expect(h.fake.passwd.has('web')).toBe(false);
    expect(h.fake.linger.has('web')).toBe(false);
  });
});

describe('back in step after a failed generation', () => {
  it('records a complete generation even though nothing needed applying', async () => {
    h.commit({ ...THREE, 'bad.container': '[Container]\nExec=/bin/x\n' });
    const first = await h.pass();
    expect(first.result.exitCode).toBe(1);
    expect(first.result.generationState).toBe('failed');

    h.commit(THREE);
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.generation).toBe(first.result.generation! + 1);
    expect(result.generationState).toBe('complete');
    expect(await (await h.openStore()).generations.current()).toBe(result.generation);

    const again = await h.pass();
    expect(again.result.generation).toBeUndefined();
  });
});
