// Rollback (docs/design.md §7): a pin makes passes re-apply a generation's rendered state instead
// of the branch tip, reported as a rollback, until it is lifted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassHarness, asUserLine, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const content = (user: string, file: string) => h.fake.userFiles(user).get(`.config/containers/systemd/${file}`)?.content;
const MUTATING = /useradd|userdel|enable-linger|disable-linger|terminate-user|__write-files|daemon-reload| (re)?start | stop |enable /;

describe('rollback by pin', () => {
  it('re-applies the pinned generation, stays on it while pinned, and follows the repo after unpin', async () => {
    const c1 = h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:1') }, 'v1');
    expect((await h.pass()).result).toMatchObject({ generation: 1, generationState: 'complete' });
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'api.container': containerSpec('localhost/api:1') }, 'v2');
    expect((await h.pass()).result).toMatchObject({ generation: 2, generationState: 'complete' });
    h.commit({ 'web.container': containerSpec('localhost/web:3'), 'api.container': containerSpec('localhost/api:1') }, 'v3');
    expect((await h.pass()).result).toMatchObject({ generation: 3, generationState: 'complete' });
    expect(content('web', 'web.container')).toBe(containerSpec('localhost/web:3'));
    const invocation = h.fake.unit('web', 'web.service')!.invocationId;

    await (await h.openStore()).pin.pin(1);
    const rollback = await h.pass();
    const r = rollback.result;
    expect(r.exitCode).toBe(0);
    expect(r.kind).toBe('rollback');
    expect(r.rollbackOf).toBe(1);
    expect(r.pinned).toBe(1);
    expect(r.commit).toBe(c1);
    expect(r.summary).toMatch(/^gen 4 @[0-9a-f]{7}: 1 applied, 1 unchanged, 0 failed, 0 removed \[rollback to gen 1, pinned until moor resume\]$/);
    expect(r.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'unchanged', 'ok'],
      ['web', 'update', 'ok'],
    ]);
    // The earlier spec is written and the service restarted.
    expect(content('web', 'web.container')).toBe(containerSpec('localhost/web:1'));
    expect(rollback.calls).toContain(asUserLine('web', 1001, 'moor __write-files'));
    expect(rollback.calls).toContain(asUserLine('web', 1001, 'systemctl --user restart web.service'));
    expect(h.fake.unit('web', 'web.service')!.invocationId).not.toBe(invocation);
    // No fetch while pinned: the pass did not depend on the source.
    const store = await h.openStore();
    const gen4 = await store.generations.read(4);
    expect(gen4.manifest).toMatchObject({ kind: 'rollback', rollbackOf: 1, commit: c1 });
    expect(gen4.state).toBe('complete');
    expect(await store.generations.current()).toBe(4);
    expect((await store.applied.read('web'))?.generation).toBe(4);
    const last = JSON.parse(readFileSync(join(h.stateDir, 'last-pass.json'), 'utf8')) as { kind: string; summary: string };
    expect(last.kind).toBe('rollback');
    expect(last.summary).toContain('rollback to gen 1');

    // A push while pinned moves nothing.
    h.commit({ 'web.container': containerSpec('localhost/web:4'), 'api.container': containerSpec('localhost/api:2') }, 'v4');
    const pinned = await h.pass();
    expect(pinned.result.exitCode).toBe(0);
    expect(pinned.result.kind).toBe('rollback');
    expect(pinned.result.items.map((i) => i.action)).toEqual(['unchanged', 'unchanged']);
    expect(pinned.calls.filter((c) => MUTATING.test(c))).toEqual([]);
    expect(pinned.result.summary).toContain('[rollback to gen 1, pinned until moor resume]');
    expect(content('web', 'web.container')).toBe(containerSpec('localhost/web:1'));

    // A pinned state is still kept as it runs: drift is repaired towards the pin.
    await h.fake.run(asUserLine('web', 1001, 'systemctl --user stop web.service').split(' '), { timeoutMs: 1000, env: { PATH: '/usr/bin' } });
    const repaired = await h.pass();
    expect(repaired.result.items.find((i) => i.workload === 'web')).toMatchObject({ action: 'drift', result: 'ok' });
    expect(content('web', 'web.container')).toBe(containerSpec('localhost/web:1'));

    await (await h.openStore()).pin.unpin();
    const resumed = await h.pass();
    expect(resumed.result.kind).toBe('pass');
    expect(resumed.result.pinned).toBeUndefined();
    expect(resumed.result.summary).not.toContain('rollback');
    expect(resumed.result.items.map((i) => [i.workload, i.action])).toEqual([
      ['api', 'update'],
      ['web', 'update'],
    ]);
    expect(content('web', 'web.container')).toBe(containerSpec('localhost/web:4'));
    expect(content('api', 'api.container')).toBe(containerSpec('localhost/api:2'));
  });

  it('a rollback to a generation that had a workload since removed brings it back; one it lacked is removed', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1'), 'db.container': containerSpec('localhost/db:1') }, 'v1');
    await h.pass();
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1'), 'cache.container': containerSpec('localhost/cache:1') }, 'v2');
    const second = await h.pass();
    expect(second.result.counts).toMatchObject({ applied: 1, removed: 1 });
    expect(h.fake.passwd.has('db')).toBe(false);

    await (await h.openStore()).pin.pin(1);
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'unchanged', 'ok'],
      ['db', 'create', 'ok'],
      ['web', 'unchanged', 'ok'],
      ['cache', 'remove', 'ok'],
    ]);
    expect(h.fake.unit('db', 'db.service')?.activeState).toBe('active');
    expect(h.fake.passwd.has('cache')).toBe(false);
  });

  it('the pinned generation survives garbage collection while pinned', async () => {
    h.cleanup();
    h = new PassHarness({ config: { gc: { keep_min: 1, keep_max: 1, min_age: 0, max_age: 0 } } });
    for (let v = 1; v <= 4; v++) {
      h.commit({ 'web.container': containerSpec(`localhost/web:${v}`) }, `v${v}`);
      await h.pass();
    }
    const store = await h.openStore();
    expect((await store.generations.list()).map((g) => g.id)).toEqual([4]);
    await store.pin.pin(4);
    // A pass under the pin that records a generation (drift repaired) runs GC: 4 stays.
    await h.fake.run(asUserLine('web', 1000, 'systemctl --user stop web.service').split(' '), { timeoutMs: 1000, env: { PATH: '/usr/bin' } });
    const { result } = await h.pass();
    expect(result).toMatchObject({ kind: 'rollback', generation: 5, generationState: 'complete' });
    expect((await store.generations.list()).map((g) => g.id)).toEqual([4, 5]);
    await store.pin.unpin();
    h.commit({ 'web.container': containerSpec('localhost/web:5') }, 'v5');
    await h.pass();
    expect((await store.generations.list()).map((g) => g.id)).toEqual([6]);
    expect(content('web', 'web.container')).toBe(containerSpec('localhost/web:5'));
  });
});
