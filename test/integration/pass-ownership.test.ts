// Ownership (docs/design.md §5): moor adopts no user it did not create, and removes a user only
// when the registry, the marker, UID_MIN and the protected list all agree.
import { afterEach, describe, expect, it } from 'vitest';
import type { PasswdEntry } from '../../daemon/core/parse/passwd';
import { FakeSystem } from '../fakes/fake-system';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
afterEach(() => h.cleanup());

const specs = (names: readonly string[]) => Object.fromEntries(names.map((n) => [`${n}.container`, containerSpec(`localhost/${n}:1`)]));
const touches = (calls: string[], user: string) => calls.filter((c) => new RegExp(`(^| )${user}( |$)|-u ${user} |user@${h.fake.passwd.get(user)?.uid ?? 'x'}\\.`).test(c));
const READ_ONLY = /^(getent |systemctl is-active |systemd-run .* -- systemctl --user show )/;

const person = (name: string, uid: number, gecos = 'A Person'): PasswdEntry => ({ name, uid, gid: uid, gecos, home: `/home/${name}`, shell: '/bin/bash' });

/** A user in the moor-managed group with the marker: what a careless check would take for moor's. */
function managedLooking(fake: FakeSystem, name: string): void {
  const group = fake.groups.get('moor-managed') ?? { name: 'moor-managed', gid: 990, members: [] };
  group.members.push(name);
  fake.groups.set('moor-managed', group);
}

describe('a user moor did not create', () => {
  it('fails the workload of the same name with a clear error and leaves the user untouched', async () => {
    h = new PassHarness({ fake: new FakeSystem({ users: [person('web', 1500)] }) });
    h.commit(specs(['api', 'web']));
    const { result, calls, timeline } = await h.pass();

    expect(result.exitCode).toBe(1);
    const web = result.items.find((i) => i.workload === 'web')!;
    expect(web.result).toBe('failed');
    expect(web.error).toBe(
      "user web already exists and was not created by moor (it is not in moor's ownership registry); moor adopts no existing user: rename the workload or remove the user",
    );
    expect(result.items.find((i) => i.workload === 'api')?.result).toBe('ok');
    // useradd is how moor asks (no check-then-act); it answered "exists", and nothing followed.
    expect(touches(calls, 'web')).toEqual([
      // Its group exists, but so does the user: ensureUser's refusal says more.
      'getent group web',
      'getent passwd web',
      'getent passwd api web',
      'useradd --create-home --user-group --uid 1001 -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 --comment moor-managed --groups moor-managed --shell /usr/sbin/nologin web',
      'getent passwd web',
    ]);
    expect(h.fake.passwd.get('web')).toEqual(person('web', 1500));
    expect(h.fake.linger.has('web')).toBe(false);
    expect(h.fake.managers.has(1500)).toBe(false);
    expect(h.fake.userFiles('web').size).toBe(0);
    const store = await h.openStore();
    expect(await store.ownedUsers.isOwned('web')).toBe(false);
    expect(await store.applied.read('web')).toBeUndefined();
    // The pending entry written before useradd was taken back.
    expect(timeline.events.filter((e) => e.endsWith(' web') && e.startsWith('state ownedUsers'))).toEqual([
      'state ownedUsers.recordPending web',
      'state ownedUsers.withdraw web',
    ]);

    // Every later pass says the same and touches nothing; dropping the spec removes nothing.
    const again = await h.pass();
    expect(again.result.items.find((i) => i.workload === 'web')?.result).toBe('failed');
    expect(touches(again.calls, 'web').filter((c) => !READ_ONLY.test(c) && !c.startsWith('useradd'))).toEqual([]);
    h.commit(specs(['api']));
    const dropped = await h.pass();
    expect(dropped.result.exitCode).toBe(0);
    expect(touches(dropped.calls, 'web')).toEqual([]);
    expect(h.fake.passwd.get('web')).toEqual(person('web', 1500));
  });

  it('is not adopted even when it carries the marker and is in the moor-managed group', async () => {
    const fake = new FakeSystem({ users: [person('web', 1500, 'moor-managed')] });
    managedLooking(fake, 'web');
    h = new PassHarness({ fake });
    h.commit(specs(['web']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items[0]!.error).toContain('already exists and was not created by moor');
    expect(touches(calls, 'web').filter((c) => !READ_ONLY.test(c) && !c.startsWith('useradd'))).toEqual([]);
    expect(await (await h.openStore()).ownedUsers.isOwned('web')).toBe(false);
  });

  it('a group of the workload name held by someone else makes it invalid before useradd, claiming nothing', async () => {
    const fake = new FakeSystem();
    fake.groups.set('web', { name: 'web', gid: 1700, members: [] });
    h = new PassHarness({ fake });
    h.commit(specs(['web']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items[0]).toMatchObject({ workload: 'web', action: 'skip', result: 'failed' });
    expect(result.items[0]!.error).toBe(
      'web.container: a group named "web" already exists on this host; moor creates each workload user with a group of its own name, and adopts no existing group',
    );
    expect(calls.some((c) => c.startsWith('useradd'))).toBe(false);
    expect(h.fake.passwd.has('web')).toBe(false);
    expect(await (await h.openStore()).ownedUsers.isOwned('web')).toBe(false);
  });
});

describe('names that cannot reach privilege', () => {
  it('never creates a user or group named for a privileged group, even while the group is free', async () => {
    h = new PassHarness();
    h.commit(specs(['docker', 'wheel', 'systemd-x', 'web']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    const refused = result.items.filter((i) => i.action === 'skip').map((i) => [i.workload, i.error]);
    expect(refused).toEqual([
      ['docker', 'docker.container: workload name "docker" is reserved (a name that can carry privilege on a host); moor would create a user and a group of that name'],
      ['systemd-x', 'systemd-x.container: workload name "systemd-x" is reserved ("systemd-*": a name that can carry privilege on a host); moor would create a user and a group of that name'],
      ['wheel', 'wheel.container: workload name "wheel" is reserved (a name that can carry privilege on a host); moor would create a user and a group of that name'],
    ]);
    expect(result.items.find((i) => i.workload === 'web')?.result).toBe('ok');
    expect(calls.filter((c) => /^(useradd|groupadd)/.test(c))).toEqual([
      'groupadd --system moor-managed',
      'useradd --create-home --user-group --uid 1000 -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 --comment moor-managed --groups moor-managed --shell /usr/sbin/nologin web',
    ]);
    for (const name of ['docker', 'wheel', 'systemd-x']) expect(h.fake.groups.has(name)).toBe(false);
  });

  it('refuses a name from reserved_names in the config, and allows one a user_prefix moves away', async () => {
    h = new PassHarness({ config: { reserved_names: ['ops'] } });
    h.commit(specs(['ops']));
    expect((await h.pass()).result.items[0]).toMatchObject({ workload: 'ops', action: 'skip' });
    const prefixed = h.makeConfig({ user_prefix: 'app-' });
    h.commit(specs(['docker']));
    const { result } = await h.pass({}, undefined, prefixed);
    expect(result.items.map((i) => [i.workload, i.user, i.result])).toEqual([['docker', 'app-docker', 'ok']]);
  });
});

describe('users that must never be removed, whatever the state says', () => {
  /** Three real workloads, plus crafted applied records that tempt a removal. */
  async function setup(fake: FakeSystem, tempt: (store: Awaited<ReturnType<PassHarness['openStore']>>) => Promise<void>) {
    h = new PassHarness({ fake });
    h.commit(specs(['alpha', 'bravo', 'charlie']));
    expect((await h.pass()).result.exitCode).toBe(0);
    await tempt(await h.openStore());
    // The repo no longer lists the crafted workloads (it never did).
    return h.pass({ allowMassRemoval: true });
  }

  const record = (workload: string, user: string, uid: number) => ({
    workload,
    user,
    uid,
    hash: 'f'.repeat(64),
    hashes: { [`containers/systemd/${workload}.container`]: 'e'.repeat(64) },
    generation: 1,
    commit: 'c'.repeat(40),
  });

  it('a marked user in the moor-managed group but not in the registry', async () => {
    const fake = new FakeSystem({ users: [person('stray', 1600, 'moor-managed')] });
    managedLooking(fake, 'stray');
    const { result, calls } = await setup(fake, async (store) => {
      await store.applied.write(record('stray', 'stray', 1600));
    });
    expect(result.exitCode).toBe(1);
    const stray = result.items.find((i) => i.workload === 'stray')!;
    expect(stray).toMatchObject({ action: 'remove', result: 'failed' });
    expect(stray.error).toBe("refusing to remove user stray: it is not in moor's ownership registry; nothing was changed");
    expect(touches(calls, 'stray')).toEqual(['getent passwd stray']);
    expect(h.fake.passwd.get('stray')).toEqual(person('stray', 1600, 'moor-managed'));
    // The record stays, so the refusal is repeated (loudly) every pass until an operator acts.
    expect(await (await h.openStore()).applied.read('stray')).toBeDefined();
  });

  it('root, even in the registry, with the marker, and named by an applied record', async () => {
    const fake = new FakeSystem();
    fake.passwd.get('root')!.gecos = 'moor-managed';
    managedLooking(fake, 'root');
    const { result, calls } = await setup(fake, async (store) => {
      await store.ownedUsers.recordPending('root', { uid: 0, subids: { start: 100000, count: 65536 } });
      await store.ownedUsers.confirm('root', 0);
      await store.applied.write(record('sys', 'root', 0));
    });
    const sys = result.items.find((i) => i.workload === 'sys')!;
    expect(sys).toMatchObject({ action: 'remove', result: 'failed' });
    expect(sys.error).toBe('refusing to remove user root: it is a protected user, its uid 0 is below UID_MIN 1000; nothing was changed');
    expect(calls.filter((c) => / root( |$)|-u root |user@0\./.test(c))).toEqual(['getent passwd root']);
    expect(h.fake.passwd.has('root')).toBe(true);
    expect(calls.some((c) => c.startsWith('userdel'))).toBe(false);
  });

  it('a user below UID_MIN, or on protected_users, even when everything else says moor owns it', async () => {
    const fake = new FakeSystem({ users: [person('legacy', 500, 'moor-managed'), person('admin', 1800, 'moor-managed')] });
    managedLooking(fake, 'legacy');
    managedLooking(fake, 'admin');
    h = new PassHarness({ fake, config: { protected_users: ['admin'] } });
    h.commit(specs(['alpha', 'bravo', 'charlie', 'delta']));
    expect((await h.pass()).result.exitCode).toBe(0);
    const store = await h.openStore();
    for (const [name, uid] of [['legacy', 500], ['admin', 1800]] as const) {
      await store.ownedUsers.recordPending(name, { uid, subids: { start: 100000 + uid * 65536, count: 65536 } });
      await store.ownedUsers.confirm(name, uid);
      await store.applied.write(record(name, name, uid));
    }
    const { result, calls } = await h.pass({ allowMassRemoval: true });
    expect(result.items.find((i) => i.workload === 'legacy')?.error).toBe('refusing to remove user legacy: its uid 500 is below UID_MIN 1000; nothing was changed');
    expect(result.items.find((i) => i.workload === 'admin')?.error).toBe('refusing to remove user admin: it is a protected user; nothing was changed');
    expect(calls.filter((c) => !READ_ONLY.test(c) && /legacy|admin|user@(500|1800)\./.test(c))).toEqual([]);
    expect(h.fake.passwd.has('legacy') && h.fake.passwd.has('admin')).toBe(true);
  });

  it('a user whose marker was taken off by an operator', async () => {
    h = new PassHarness();
    h.commit(specs(['alpha', 'bravo', 'charlie']));
    await h.pass();
    h.fake.passwd.get('bravo')!.gecos = 'Bravo, taken over by ops';
    h.commit(specs(['alpha', 'charlie']));
    const { result, calls } = await h.pass();
    expect(result.items.find((i) => i.workload === 'bravo')?.error).toBe('refusing to remove user bravo: it lacks the moor-managed marker; nothing was changed');
    expect(calls.filter((c) => !READ_ONLY.test(c) && /bravo/.test(c))).toEqual([]);
    expect(h.fake.passwd.has('bravo')).toBe(true);
  });
});

describe('protected users as workloads', () => {
  it('a workload named root is refused at validation: no command touches root', async () => {
    h = new PassHarness();
    h.commit(specs(['root', 'web']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    const root = result.items.find((i) => i.workload === 'root')!;
    expect(root).toMatchObject({ action: 'skip', result: 'failed' });
    expect(root.error).toContain('root.container: workload "root" would run as the protected user root');
    expect(calls.filter((c) => / root( |$)|-u root |user@0\./.test(c))).toEqual([]);
    expect(result.items.find((i) => i.workload === 'web')?.result).toBe('ok');
    expect(await (await h.openStore()).ownedUsers.isOwned('root')).toBe(false);
  });

  it('so is a workload whose user is on protected_users', async () => {
    h = new PassHarness({ config: { protected_users: ['admin'] } });
    h.commit(specs(['admin']));
    const { result, calls } = await h.pass();
    expect(result.items[0]).toMatchObject({ workload: 'admin', action: 'skip', result: 'failed' });
    expect(calls.filter((c) => /admin/.test(c))).toEqual([]);
  });
});
