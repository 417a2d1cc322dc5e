// The automatic rollback of a failed update (docs/design.md §6, step 7): the previous
// version's files go back and its units run again; the failing version is recorded and
// not tried again until the repo changes it or `moor redeploy` asks.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generationRows } from '../../daemon/state/reports';
import { PassHarness, asUserLine, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const V1 = {
  'api.container': containerSpec('localhost/api:1'),
  'db.container': containerSpec('localhost/db:1'),
};
const DB = '.config/containers/systemd/db.container';
const dbFile = () => h.fake.userFiles('db').get(DB)?.content;
const dbCalls = (calls: string[]) => calls.filter((c) => / db( |$)|--uid=db /.test(c));

/** v1 applied, then db:2 pushed whose service fails on start with the app's own line in its journal. */
async function failedUpdate() {
  h.commit(V1, 'v1');
  const first = await h.pass();
  expect(first.result.exitCode).toBe(0);
  const v1 = (await (await h.openStore()).applied.read('db'))!;
  const c2 = h.commit({ ...V1, 'db.container': containerSpec('localhost/db:2') }, 'v2');
  h.fake.failUnitWhenLoadedWith('db', 'db.service', 'localhost/db:2');
  h.fake.setUnitOutput('db', 'db.service', ['db[7]: starting', 'db[7]: FATAL: unknown option --frobnicate']);
  const run = await h.pass();
  return { v1, c2, ...run };
}

describe('an update that fails its health gate', () => {
  it('is rolled back: the previous files are back, its service runs again, the pass exits 1 and says so', async () => {
    const { v1, c2, result, calls } = await failedUpdate();

    expect(result.exitCode).toBe(1);
    const db = result.items.find((i) => i.workload === 'db')!;
    expect(db).toMatchObject({ action: 'update', result: 'rolled-back' });
    expect(db.error).toContain('db.service failed (Result=exit-code)');
    expect(db.error).toContain('FATAL: unknown option --frobnicate');
    expect(result.items.find((i) => i.workload === 'api')).toMatchObject({ action: 'unchanged', result: 'ok' });
    expect(result.summary).toContain('0 failed, 1 rolled back (db)');
    expect(result.generationState).toBe('failed');

    // The new file was written and started, then the old one went back and was restarted.
    const db2 = dbCalls(calls);
    const writes = db2.filter((c) => c.includes('__write-files'));
    expect(writes).toHaveLength(2);
    expect(db2.filter((c) => / restart db\.service/.test(c))).toHaveLength(2);
    expect(db2.filter((c) => c.includes('daemon-reload'))).toHaveLength(2);
    expect(dbFile()).toBe(containerSpec('localhost/db:1'));
    expect(h.fake.unit('db', 'db.service')).toMatchObject({ activeState: 'active', subState: 'running' });

    // The applied record still describes what runs, marked with the version that failed.
    const store = await h.openStore();
    const record = (await store.applied.read('db'))!;
    expect({ hash: record.hash, hashes: record.hashes, generation: record.generation, commit: record.commit }).toEqual({
      hash: v1.hash,
      hashes: v1.hashes,
      generation: v1.generation,
      commit: v1.commit,
    });
    expect(record.rolledBack).toMatchObject({ commit: c2, generation: result.generation });
    expect(record.rolledBack!.hash).not.toBe(v1.hash);
    expect(record.rolledBack!.error).toContain('FATAL: unknown option --frobnicate');
    expect(await store.generations.current()).toBe(1);
    const status = (await store.generations.info(result.generation!))?.status;
    expect(status?.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'rolled-back' });
    // `moor generations` says rolled back, not failed: the previous version ran on.
    expect((await generationRows(store)).find((g) => g.generation === result.generation)).toMatchObject({ failed: [], rolledBack: ['db'] });
  });

  it('is kept rolled back: a pass with the same desired content touches nothing, mints no generation, exits 1', async () => {
    const { c2 } = await failedUpdate();
    const invocation = h.fake.unit('db', 'db.service')!.invocationId;

    const plan = await h.pass({ dryRun: true });
    const planned = plan.result.items.find((i) => i.workload === 'db')!;
    expect(planned.action).toBe('keep');
    expect(planned.reason).toMatch(new RegExp(`^rolled back from ${c2.slice(0, 12)}: db\\.service failed \\(Result=exit-code\\)`));

    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.generation).toBeUndefined();
    expect(result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'keep', result: 'rolled-back' });
    expect(result.items.find((i) => i.workload === 'db')!.error).toContain(`still rolled back from ${c2.slice(0, 12)}`);
    expect(result.summary).toContain('1 rolled back (db)');
    expect(dbCalls(calls).filter((c) => /__write-files|daemon-reload| (re)?start /.test(c))).toEqual([]);
    expect(h.fake.unit('db', 'db.service')!.invocationId).toBe(invocation);
    expect((await (await h.openStore()).lastPass.read())).toMatchObject({ exitCode: 1 });
  });

  it('drift repair of a kept workload re-applies the version it runs, never the one that failed', async () => {
    const { v1, c2 } = await failedUpdate();
    await h.fake.run(asUserLine('db', h.fake.passwd.get('db')!.uid, 'systemctl --user stop db.service').split(' '), { timeoutMs: 1000, env: { PATH: '/usr/bin' } });
    expect(h.fake.unit('db', 'db.service')!.activeState).toBe('inactive');

    const { result, calls } = await h.pass();
    const db = result.items.find((i) => i.workload === 'db')!;
    expect(db).toMatchObject({ action: 'drift', result: 'rolled-back' });
    expect(db.reason).toContain('db.service is inactive');
    expect(db.reason).toContain(`rolled back from ${c2.slice(0, 12)}`);
    expect(dbCalls(calls).filter((c) => / restart db\.service/.test(c))).toHaveLength(1);
    expect(dbFile()).toBe(containerSpec('localhost/db:1'));
    expect(h.fake.unit('db', 'db.service')).toMatchObject({ activeState: 'active', subState: 'running' });
    const record = (await (await h.openStore()).applied.read('db'))!;
    expect(record).toMatchObject({ hash: v1.hash, generation: v1.generation, commit: v1.commit, rolledBack: { commit: c2 } });
    expect(result.exitCode).toBe(1);

    // Back to being kept.
    expect((await h.pass({ dryRun: true })).result.items.find((i) => i.workload === 'db')!.action).toBe('keep');
  });

  it('another workload changing does not retry it; its generation stays incomplete and names it kept', async () => {
    await failedUpdate();
    h.commit({ ...V1, 'api.container': containerSpec('localhost/api:2'), 'db.container': containerSpec('localhost/db:2') }, 'v3');
    const { result, calls } = await h.pass();
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'update', 'ok'],
      ['db', 'keep', 'rolled-back'],
    ]);
    expect(dbCalls(calls).filter((c) => /__write-files| (re)?start /.test(c))).toEqual([]);
    expect(result.generationState).toBe('failed');
  });

  it('moor redeploy tries the failing version again; a push that fixes it applies and clears the mark', async () => {
    await failedUpdate();
    const store = await h.openStore();
    await store.redeploy.request('db');
    const retry = await h.pass();
    expect(retry.result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'rolled-back' });
    expect(retry.result.items.find((i) => i.workload === 'db')!.reason).toContain('redeploy requested');
    expect(dbCalls(retry.calls).filter((c) => / restart db\.service/.test(c))).toHaveLength(2);
    expect(await store.redeploy.list()).toEqual([]);
    expect(dbFile()).toBe(containerSpec('localhost/db:1'));

    const c4 = h.commit({ ...V1, 'db.container': containerSpec('localhost/db:3') }, 'v4');
    const fixed = await h.pass();
    expect(fixed.result.exitCode).toBe(0);
    expect(fixed.result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'ok' });
    expect(fixed.result.generationState).toBe('complete');
    const record = (await store.applied.read('db'))!;
    expect(record.rolledBack).toBeUndefined();
    expect(record.commit).toBe(c4);
    expect(dbFile()).toBe(containerSpec('localhost/db:3'));
  });

  it('when the previous version does not come back either, the item fails naming both, and the next pass retries', async () => {
    h.commit(V1, 'v1');
    await h.pass();
    const old = await (await h.openStore()).applied.read('db');
    h.commit({ ...V1, 'db.container': containerSpec('localhost/db:2') }, 'v2');
    h.fake.failUnit('db', 'db.service');
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    const db = result.items.find((i) => i.workload === 'db')!;
    expect(db).toMatchObject({ action: 'update', result: 'failed' });
    expect(db.error).toMatch(/db\.service failed \(Result=exit-code\).*; rolling back to the previous version failed too: db\.service failed/);
    expect(dbFile()).toBe(containerSpec('localhost/db:1'));
    expect(await (await h.openStore()).applied.read('db')).toEqual(old);
    expect((await h.pass({ dryRun: true })).result.items.find((i) => i.workload === 'db')!.action).toBe('update');
  });

  it('a redeploy whose rollback fails too leaves the workload failed and unmarked, so the next pass tries again', async () => {
    await failedUpdate();
    const store = await h.openStore();
    await store.redeploy.request('db');
    h.fake.failUnit('db', 'db.service');
    const { result } = await h.pass();
    expect(result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'failed' });
    expect((await store.applied.read('db'))!.rolledBack).toBeUndefined();
    expect((await h.pass({ dryRun: true })).result.items.find((i) => i.workload === 'db')!.action).toBe('update');
  });

  it('a push that reverts to the version that runs is in step: the mark goes, the pass exits 0 and restarts nothing', async () => {
    const { v1 } = await failedUpdate();
    h.commit(V1, 'revert');
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'unchanged', result: 'ok' });
    expect(dbCalls(calls).filter((c) => /__write-files| (re)?start /.test(c))).toEqual([]);
    const record = (await (await h.openStore()).applied.read('db'))!;
    expect(record.rolledBack).toBeUndefined();
    expect(record.hash).toBe(v1.hash);
  });
});

describe('the previous version of a failed update', () => {
  it('comes from the live generation once the generation that applied it was garbage-collected', async () => {
    h.commit(V1, 'v1');
    await h.pass();
    h.commit({ ...V1, 'api.container': containerSpec('localhost/api:2') }, 'api v2');
    expect((await h.pass()).result).toMatchObject({ generation: 2, generationState: 'complete' });
    const store = await h.openStore();
    expect((await store.applied.read('db'))!.generation).toBe(1);
    expect(await store.generations.delete(1)).toBe(true);

    h.commit({ ...V1, 'api.container': containerSpec('localhost/api:2'), 'db.container': containerSpec('localhost/db:2') }, 'db v2');
    h.fake.failUnitWhenLoadedWith('db', 'db.service', 'localhost/db:2');
    const { result } = await h.pass();
    expect(result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'rolled-back' });
    expect(dbFile()).toBe(containerSpec('localhost/db:1'));
    expect(h.fake.unit('db', 'db.service')!.activeState).toBe('active');
  });
});

describe('a first creation that fails', () => {
  it('has nothing to roll back to: it stays failed and the next pass tries it again', async () => {
    h.fake.failUnitWhenLoadedWith('db', 'db.service', 'localhost/db:1');
    h.commit(V1, 'v1');
    const { result, calls } = await h.pass();
    expect(result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'create', result: 'failed' });
    expect(dbCalls(calls).filter((c) => c.includes('__write-files'))).toHaveLength(1);
    expect(h.fake.unit('db', 'db.service')!.activeState).toBe('failed');
    expect(await (await h.openStore()).applied.read('db')).toBeUndefined();
    expect((await h.pass({ dryRun: true })).result.items.find((i) => i.workload === 'db')!.action).toBe('create');
  });
});
