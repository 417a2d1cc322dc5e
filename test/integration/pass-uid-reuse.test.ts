// No uid or subordinate-id range is ever handed out twice (docs/design.md §5). A removed
// workload leaves files behind that its uid owns (in /var/tmp, a setuid copy of a shell,
// its journal); a new workload given that uid, or that range, would own them.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunOptions } from '../../daemon/core/ports';
import { FakeSystem } from '../fakes/fake-system';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
afterEach(() => h.cleanup());

const specs = (names: readonly string[]) => Object.fromEntries(names.map((n) => [`${n}.container`, containerSpec(`localhost/${n}:1`)]));
const subuidOf = (fake: FakeSystem, user: string) => fake.subuid?.split('\n').find((l) => l.startsWith(`${user}:`));
const subgidOf = (fake: FakeSystem, user: string) => fake.subgid?.split('\n').find((l) => l.startsWith(`${user}:`));

describe('a workload created after another was removed', () => {
  it('gets a uid and a subuid/subgid range the removed one never had', async () => {
    h = new PassHarness();
    h.commit(specs(['keep', 'old']));
    expect((await h.pass()).result.exitCode).toBe(0);
    const old = h.fake.passwd.get('old')!;
    const oldRange = subuidOf(h.fake, 'old');
    expect(old.uid).toBe(1001);
    expect(oldRange).toBe('old:165536:65536');
    expect(subgidOf(h.fake, 'old')).toBe('old:165536:65536');

    h.commit(specs(['keep']));
    expect((await h.pass()).result.items.find((i) => i.workload === 'old')).toMatchObject({ action: 'remove', result: 'ok' });
    // userdel freed the uid and the range: shadow-utils alone would hand them out again.
    expect(h.fake.passwd.has('old')).toBe(false);
    expect(subuidOf(h.fake, 'old')).toBeUndefined();

    h.commit(specs(['keep', 'new']));
    expect((await h.pass()).result.exitCode).toBe(0);
    const created = h.fake.passwd.get('new')!;
    expect(created.uid).toBe(1002);
    expect(subuidOf(h.fake, 'new')).toBe('new:231072:65536');
    expect(subgidOf(h.fake, 'new')).toBe('new:231072:65536');

    // The registry keeps the removed user's numbers, and the marks above them.
    const store = await h.openStore();
    expect(await store.ownedUsers.removed()).toEqual([
      { name: 'old', uid: 1001, subids: { start: 165536, count: 65536 }, removedAt: expect.any(String) },
    ]);
    expect(await store.ownedUsers.highWater()).toEqual({ uid: 1002, subidEnd: 231072 + 65536 });
    expect(await store.ownedUsers.isOwned('old')).toBe(false);
  });

  it('a workload re-added under the removed name is a new user with new numbers too', async () => {
    h = new PassHarness();
    h.commit(specs(['keep', 'web']));
    await h.pass();
    h.commit(specs(['keep']));
    await h.pass();
    h.commit(specs(['keep', 'web']));
    expect((await h.pass()).result.exitCode).toBe(0);
    expect(h.fake.passwd.get('web')!.uid).toBe(1002);
    expect(subuidOf(h.fake, 'web')).toBe('web:231072:65536');
  });

  it('skips uids and ranges held outside moor, and stays above the marks when lower ones are free', async () => {
    const fake = new FakeSystem({
      users: [{ name: 'alice', uid: 1000, gid: 1000, gecos: 'Alice', home: '/home/alice', shell: '/bin/bash' }],
      subuid: 'alice:100000:65536\n',
      subgid: 'alice:100000:65536\nbob:165536:1000\n',
    });
    h = new PassHarness({ fake });
    h.commit(specs(['a', 'b']));
    expect((await h.pass()).result.exitCode).toBe(0);
    expect([h.fake.passwd.get('a')!.uid, h.fake.passwd.get('b')!.uid]).toEqual([1001, 1002]);
    expect([subuidOf(h.fake, 'a'), subuidOf(h.fake, 'b')]).toEqual(['a:166536:65536', 'b:232072:65536']);
    // alice leaves: her uid and range are free, but below what moor has handed out.
    h.fake.passwd.delete('alice');
    h.fake.subuid = '';
    h.commit(specs(['a', 'b', 'c']));
    await h.pass();
    expect(h.fake.passwd.get('c')!.uid).toBe(1003);
    expect(subuidOf(h.fake, 'c')).toBe('c:297608:65536');
  });

  it('uses the [users] bounds, and says so clearly when they are used up rather than reuse a uid', async () => {
    h = new PassHarness({ config: { users: { uid_min: 20000, uid_max: 20001, subid_min: 1000000, subid_max: 1999999, subid_count: 1000 } } });
    h.commit(specs(['a', 'b']));
    expect((await h.pass()).result.exitCode).toBe(0);
    expect([h.fake.passwd.get('a')!.uid, subuidOf(h.fake, 'a')]).toEqual([20000, 'a:1000000:1000']);
    expect([h.fake.passwd.get('b')!.uid, subuidOf(h.fake, 'b')]).toEqual([20001, 'b:1001000:1000']);
    h.commit(specs(['b']));
    await h.pass();
    h.commit(specs(['b', 'c']));
    const { result } = await h.pass();
    const c = result.items.find((i) => i.workload === 'c')!;
    expect(c.result).toBe('failed');
    expect(c.error).toMatch(/^no uid left to hand out: every uid in 20000\.\.20001 above the highest one moor ever used \(20001\) is taken; uids are never reused, so raise users\.uid_max/);
    expect(h.fake.passwd.has('c')).toBe(false);
    expect(await (await h.openStore()).ownedUsers.isOwned('c')).toBe(false);
  });

  it('refuses [users] bounds outside UID_MIN..UID_MAX of login.defs', async () => {
    h = new PassHarness({ config: { users: { uid_min: 500 } } });
    h.commit(specs(['a']));
    const { result } = await h.pass();
    expect(result.items[0]!.error).toMatch(/users\.uid_min\.\.uid_max \(500\.\.60000\) must lie within UID_MIN\.\.UID_MAX of \/etc\/login\.defs \(1000\.\.60000\)/);
    expect(h.fake.passwd.has('a')).toBe(false);
  });
});

/** A host where another tool creates a user with the uid moor is about to use, just before useradd runs. */
class RacingSystem extends FakeSystem {
  races = 0;
  override async run(argv: readonly string[], options: RunOptions) {
    const uid = argv[0] === 'useradd' ? argv[argv.indexOf('--uid') + 1] : undefined;
    if (uid !== undefined && this.races > 0) {
      this.races--;
      await super.run(['useradd', '--create-home', '--user-group', '--uid', uid, `racer${this.races}`], options);
    }
    return super.run(argv, options);
  }
}

describe('a uid taken between choosing it and useradd', () => {
  it('moves on to the next free uid, each one reserved before useradd', async () => {
    const fake = new RacingSystem();
    fake.races = 2;
    h = new PassHarness({ fake });
    h.commit(specs(['web']));
    const { result, calls, timeline } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(calls.filter((c) => c.startsWith('useradd') && c.endsWith(' web')).map((c) => c.split(' ')[4])).toEqual(['1000', '1001', '1002']);
    expect(h.fake.passwd.get('web')!.uid).toBe(1002);
    expect(timeline.events.filter((e) => e === 'state ownedUsers.recordPending web')).toHaveLength(3);
    expect(await (await h.openStore()).ownedUsers.highWater()).toMatchObject({ uid: 1002 });
  });

  it('gives up after a bounded number of tries with a clear error', async () => {
    const fake = new RacingSystem();
    fake.races = 100;
    h = new PassHarness({ fake });
    h.commit(specs(['web']));
    const { result } = await h.pass();
    expect(result.items[0]!.error).toMatch(/^user web was not created: useradd found each of 10 uids taken \(last: useradd: UID 1009 is not unique\); moor tries again next pass$/);
  });
});

describe('a registry written by an earlier version', () => {
  it('reads fine, records the existing user\'s numbers, and never hands them out again', async () => {
    // An earlier moor: useradd chose the uid and the range (the lowest free ones).
    const fake = new FakeSystem();
    h = new PassHarness({ fake });
    await fake.run(['groupadd', '--system', 'moor-managed'], { timeoutMs: 1000 });
    for (const name of ['keep', 'old']) {
      await fake.run(['useradd', '--create-home', '--user-group', '--comment', 'moor-managed', '--groups', 'moor-managed', '--shell', '/usr/sbin/nologin', name], { timeoutMs: 1000 });
    }
    expect([fake.passwd.get('old')!.uid, subuidOf(fake, 'old')]).toEqual([1001, 'old:165536:65536']);
    await fs.mkdir(h.stateDir, { recursive: true });
    await fs.writeFile(
      join(h.stateDir, 'owned-users.json'),
      JSON.stringify({
        users: {
          keep: { uid: 1000, createdAt: '2025-01-01T00:00:00.000Z', state: 'created' },
          old: { uid: 1001, createdAt: '2025-01-01T00:00:00.000Z', state: 'created' },
        },
      }),
      { mode: 0o600 },
    );
    h.commit(specs(['keep', 'old']));
    const first = await h.pass();
    expect(first.result.exitCode).toBe(0);
    // The existing users keep their uids and ranges (no second range is added); the registry now knows them.
    expect(first.calls.filter((c) => c.startsWith('usermod'))).toEqual([]);
    const store = await h.openStore();
    expect(await store.ownedUsers.get('old')).toMatchObject({ state: 'created', uid: 1001, subids: { start: 165536, count: 65536 } });

    h.commit(specs(['keep']));
    await h.pass();
    h.commit(specs(['keep', 'new']));
    expect((await h.pass()).result.exitCode).toBe(0);
    const created = h.fake.passwd.get('new')!;
    expect(created.uid).toBeGreaterThan(1001);
    const [, start] = subuidOf(h.fake, 'new')!.split(':');
    expect(Number(start)).toBeGreaterThanOrEqual(165536 + 65536);
    expect((await (await h.openStore()).ownedUsers.removed()).map((r) => [r.name, r.uid, r.subids])).toEqual([['old', 1001, { start: 165536, count: 65536 }]]);
  });
});
