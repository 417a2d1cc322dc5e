import { describe, expect, it } from 'vitest';
import { asUserLine } from '../helpers/pass-harness';
import { FakeSystem } from '../fakes/fake-system';
import { hasManagedMarker, MANAGED_GROUP, UserAccounts } from '../../daemon/host/users';
import { Logind } from '../../daemon/host/logind';
import { SystemManager, UserManager, type UserRef } from '../../daemon/host/systemd';
import { writeUserFiles } from '../../daemon/host/user-files';
import { CommandError, HostError } from '../../daemon/core/errors';

const SELF = ['/usr/bin/node', '/usr/lib/moor/moor.mjs'];
const noSleep = async () => {};

function host(fake = new FakeSystem()) {
  return {
    fake,
    users: new UserAccounts(fake, { readFile: fake.readFile, sleep: noSleep, busyRetryDelayMs: 1 }),
    logind: new Logind(fake),
    system: new SystemManager(fake, { sleep: noSleep }),
    user: new UserManager(fake),
  };
}

const webContainer = '[Container]\nImage=localhost/web:latest\n\n[Install]\nWantedBy=default.target\n';

/** create user → linger → user manager → write files → reload: the first half of an apply. */
async function deployWeb(h: ReturnType<typeof host>): Promise<UserRef & { home: string }> {
  await h.users.ensureGroup(MANAGED_GROUP);
  expect(await h.users.createUser('web', { uid: 1000 })).toEqual({ status: 'created' });
  const entry = await h.users.lookupUser('web');
  if (!entry) throw new Error('web not created');
  await h.logind.enableLinger('web');
  await h.system.startUserManager(entry.uid);
  const who = { user: 'web', uid: entry.uid, home: entry.home };
  await writeUserFiles(
    h.fake,
    {
      ...who,
      files: [
        { path: 'containers/systemd/web.container', content: webContainer, mode: 0o644 },
        { path: 'containers/systemd/web-cache.volume', content: '[Volume]\n', mode: 0o644 },
        { path: 'systemd/user/web-nightly.service', content: '[Service]\nType=oneshot\nExecStart=/bin/true\n', mode: 0o644 },
        { path: 'systemd/user/web-nightly.timer', content: '[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n', mode: 0o644 },
      ],
    },
    SELF,
  );
  await h.user.daemonReload(who);
  return who;
}

describe('FakeSystem driven by the host modules', () => {
  it('runs create-user → linger → user manager → write → daemon-reload → start → show', async () => {
    const h = host();
    const who = await deployWeb(h);
    expect(who.uid).toBe(1000);
    expect(h.fake.groups.get(MANAGED_GROUP)?.members).toContain('web');
    const entry = await h.users.lookupUser('web');
    expect(entry && hasManagedMarker(entry)).toBe(true);
    expect(entry?.shell).toBe('/usr/sbin/nologin');
    expect(h.fake.linger.has('web')).toBe(true);

    const units = ['web-cache-volume.service', 'web.service', 'web-nightly.timer'];
    let shown = await h.user.show(who, units);
    expect(shown.get('web.service')).toMatchObject({ loadState: 'loaded', activeState: 'inactive', unitFileState: 'generated', invocationId: '' });
    expect(shown.get('web-nightly.timer')).toMatchObject({ loadState: 'loaded', unitFileState: 'disabled' });

    await h.user.start(who, ['web-cache-volume.service']);
    await h.user.restart(who, ['web.service']);
    await h.user.enable(who, ['web-nightly.timer'], { now: true });
    shown = await h.user.show(who, units);
    expect(shown.get('web-cache-volume.service')).toMatchObject({ activeState: 'active', subState: 'exited' });
    expect(shown.get('web.service')).toMatchObject({ activeState: 'active', subState: 'running', result: 'success' });
    expect(shown.get('web-nightly.timer')).toMatchObject({ activeState: 'active', subState: 'waiting', unitFileState: 'enabled' });
    const firstInvocation = shown.get('web.service')?.invocationId ?? '';
    expect(firstInvocation).toMatch(/^[0-9a-f]{32}$/);

    await h.user.start(who, ['web.service']);
    expect((await h.user.show(who, ['web.service'])).get('web.service')?.invocationId).toBe(firstInvocation);
    await h.user.restart(who, ['web.service']);
    expect((await h.user.show(who, ['web.service'])).get('web.service')?.invocationId).not.toBe(firstInvocation);
    expect([...(await h.user.show(who, ['web.service', 'nope.service'])).values()].map((s) => s.activeState)).toEqual(
      ['active', 'inactive'],
    );
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')).toEqual({ content: webContainer, mode: 0o644 });
  });

  it('records the exact argv forms the host modules emit', async () => {
    const h = host();
    const who = await deployWeb(h);
    await h.user.start(who, ['web.service']);
    await h.user.show(who, ['web.service'], ['ActiveState']);
    await h.user.unitOutput(who, ['web.service'], 20);
    await h.user.generatorMessages(who, 'web.container');
    const as = (command: string) => asUserLine('web', who.uid, command);
    expect(h.fake.callLines()).toEqual([
      'getent group moor-managed',
      'groupadd --system moor-managed',
      'useradd --create-home --user-group --uid 1000 -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 --comment moor-managed --groups moor-managed --shell /usr/sbin/nologin web',
      'getent passwd web',
      'loginctl enable-linger web',
      'systemctl start user@1000.service',
      'systemctl is-active user@1000.service',
      as('/usr/bin/node /usr/lib/moor/moor.mjs __write-files'),
      as('systemctl --user daemon-reload'),
      as('systemctl --user start web.service'),
      as('systemctl --user show -p Id,ActiveState web.service'),
      'journalctl --no-pager --quiet --output=json --output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,CONTAINER_NAME,PODMAN_EVENT,_COMM,_TRANSPORT,_SYSTEMD_USER_UNIT,_SYSTEMD_INVOCATION_ID --lines=20 _UID=1000 _SYSTEMD_USER_UNIT=web.service',
      as('/usr/lib/systemd/user-generators/podman-user-generator -dryrun'),
    ]);
  });

  it('reports an existing name as "exists" without touching it, and never adopts', async () => {
    const h = host(new FakeSystem({ users: [{ name: 'alice', uid: 1000, gid: 1000, gecos: 'Alice', home: '/home/alice', shell: '/bin/bash' }] }));
    await h.users.ensureGroup(MANAGED_GROUP);
    expect(await h.users.ensureGroup(MANAGED_GROUP)).toBe('exists');
    const r = await h.users.createUser('alice', { uid: 1500 });
    expect(r).toEqual({ status: 'exists', message: "useradd: user 'alice' already exists" });
    const alice = await h.users.lookupUser('alice');
    expect(alice && hasManagedMarker(alice)).toBe(false);
    expect(h.fake.groups.get(MANAGED_GROUP)?.members ?? []).not.toContain('alice');
    // A new user gets the uid moor asked for; one held by another user is reported as such.
    expect(await h.users.createUser('web', { uid: 1000 })).toEqual({ status: 'uid-taken', message: 'useradd: UID 1000 is not unique' });
    expect(await h.users.createUser('web', { uid: 1001 })).toEqual({ status: 'created' });
    expect((await h.users.lookupUser('web'))?.uid).toBe(1001);
    // With -K SUB_UID_COUNT=0, useradd gives no range; usermod adds moor's.
    expect(await h.users.subidFiles()).toEqual({ subuid: [], subgid: [] });
    await h.users.addSubids('web', { start: 100000, count: 65536 });
    await h.users.addSubids('web', { start: 100000, count: 65536 });
    expect(h.fake.subuid).toBe('web:100000:65536\n');
    expect(await h.users.subidFiles()).toEqual({ subuid: [{ owner: 'web', start: 100000, count: 65536 }], subgid: [{ owner: 'web', start: 100000, count: 65536 }] });
    expect(await h.users.listUids()).toEqual([0, 65534, 1000, 1001]);
    expect(await h.users.lookupUser('ghost')).toBeNull();
  });

  it('looks up many users in one getent, answering as the real getent does (tested against it in users-lookup.test.ts)', async () => {
    const h = host(new FakeSystem({ users: [{ name: 'alice', uid: 1000, gid: 1000, gecos: 'Alice', home: '/home/alice', shell: '/bin/bash' }] }));
    const found = await h.users.lookupUsers(['alice', 'ghost', 'root', '1000']);
    expect([...found.keys()].sort()).toEqual(['alice', 'root']);
    expect(found.get('alice')).toMatchObject({ uid: 1000, home: '/home/alice' });
    expect(h.fake.callLines().filter((l) => l.startsWith('getent passwd'))).toEqual(['getent passwd alice ghost root 1000']);
    expect((await h.users.lookupUsers([])).size).toBe(0);
  });

  it('tolerates a group created by someone else between lookup and groupadd', async () => {
    const fake = new FakeSystem();
    const racing = {
      run: async (argv: readonly string[], o: Parameters<FakeSystem['run']>[1]) => {
        if (argv[0] === 'groupadd') await fake.run(['groupadd', '--system', 'moor-managed'], o);
        return fake.run(argv, o);
      },
    };
    expect(await new UserAccounts(racing).ensureGroup('moor-managed')).toBe('exists');
  });

  it('reads UID_MIN through login.defs, and homes from getent, not a /home guess', async () => {
    const h = host(new FakeSystem({ loginDefs: 'UID_MIN 5000\n', homeBase: '/var/home' }));
    expect(await h.users.uidMin()).toBe(5000);
    await h.users.ensureGroup(MANAGED_GROUP);
    await h.users.createUser('web', { uid: 5000 });
    expect(await h.users.lookupUser('web')).toMatchObject({ uid: 5000, home: '/var/home/web' });
  });

  it('removes a workload: stop, disable-linger, terminate-user, userdel retried while busy', async () => {
    const h = host();
    const who = await deployWeb(h);
    await h.user.start(who, ['web.service']);
    h.fake.makeUserBusy('web', 2);
    await h.user.stop(who, ['web.service']);
    await h.logind.disableLinger('web');
    expect(await h.logind.terminateUser('web')).toBe('not-logged-in');
    expect(await h.users.removeUser('web')).toBe('removed');
    expect(h.fake.callLines().filter((c) => c.startsWith('userdel'))).toHaveLength(3);
    expect(await h.users.lookupUser('web')).toBeNull();
    expect(h.fake.groups.get(MANAGED_GROUP)?.members ?? []).not.toContain('web');
    expect(h.fake.userFiles('web').size).toBe(0);
    expect(await h.users.removeUser('web')).toBe('absent');
  });

  it('gives up on a user that stays busy (its manager still runs), with the CommandError', async () => {
    const h = host();
    await deployWeb(h);
    const err = await h.users.removeUser('web').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).exitCode).toBe(8);
    expect(h.fake.callLines().filter((c) => c.startsWith('userdel'))).toHaveLength(11);
    expect(await h.logind.terminateUser('web')).toBe('terminated');
    expect(await h.users.removeUser('web')).toBe('removed');
  });

  it('explains a unit the generator rejected', async () => {
    const h = host();
    h.fake.rejectFile('web', 'web.container', 'no Image or Rootfs key specified');
    const who = await deployWeb(h);
    expect((await h.user.show(who, ['web.service'])).get('web.service')).toMatchObject({ loadState: 'not-found' });
    expect(await h.user.generatorMessages(who, 'web.container')).toEqual(['converting "web.container": no Image or Rootfs key specified']);
    const err = await h.user.start(who, ['web.service']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).exitCode).toBe(5);
    expect((err as Error).message).toContain('Unit web.service not found.');
  });

  it('reports a unit that fails to start, with its own output in the journal (root reads it by uid and unit)', async () => {
    const h = host();
    h.fake.failUnit('web', 'web.service', { status: 3 });
    h.fake.setUnitOutput('web', 'web.service', ['line 1', 'FATAL: no config']);
    const who = await deployWeb(h);
    const err = await h.user.start(who, ['web.service']).catch((e: unknown) => e);
    expect((err as CommandError).exitCode).toBe(1);
    const status = (await h.user.show(who, ['web.service'], ['Result', 'ExecMainCode', 'ExecMainStatus'])).get('web.service');
    expect(status).toMatchObject({ result: 'exit-code', properties: { ExecMainCode: '1', ExecMainStatus: '3' } });
    const messages = async (units: string[], n: number) => {
      const read = await h.user.unitOutput(who, units, n);
      return 'lines' in read ? read.lines.map((l) => l.message) : read.problem;
    };
    expect(await messages(['web.service'], 200)).toEqual(['line 1', 'FATAL: no config']);
    // -n counts entries before the noise is dropped: the last two are the last line and Podman's "died" event.
    expect(await messages(['web.service'], 2)).toEqual(['FATAL: no config']);
    expect(await messages(['other.service'], 200)).toEqual([]);
    // Everything the run left, the manager's lines and Podman's included, is in the journal.
    expect(h.fake.journal.map((e) => e.MESSAGE)).toEqual(expect.arrayContaining(['web.service: Killing process 4242 (podman pause) with signal SIGKILL.', 'line 1\n']));
  });

  it('answers over its user bus exactly what systemctl --user show answers, and not while the manager is down', async () => {
    const h = host();
    h.fake.failUnit('web', 'web.service', { status: 3 });
    const who = await deployWeb(h);
    await h.user.start(who, ['web.service']).catch(() => undefined);
    const units = ['web.service', 'web-cache-volume.service', 'missing.timer', 'default.target'];
    const props = ['Id', 'LoadState', 'ActiveState', 'SubState', 'Result', 'InvocationID', 'ExecMainStatus', 'NeedDaemonReload'];
    const bus = h.fake.userBus();
    const calls = h.fake.calls.length;
    const overBus = await bus.show(who.uid, units, props);
    expect(h.fake.calls.length).toBe(calls);
    expect(h.fake.busQuestions).toBe(1);
    expect(overBus).toEqual(await h.user.show(who, units, props));
    expect(overBus.get('web.service')).toMatchObject({ activeState: 'failed', result: 'exit-code' });
    // Through UserManager: the bus answers, and no command runs.
    const viaBus = new UserManager(h.fake, { bus });
    const before = h.fake.calls.length;
    expect(await viaBus.show(who, units, props)).toEqual(overBus);
    expect(h.fake.calls.length).toBe(before);
    await h.system.stopUserManager(who.uid);
    await expect(bus.show(who.uid, units, props)).rejects.toThrow(/no user manager/);
  });

  it('refuses to enable a generated unit, as systemd does', async () => {
    const h = host();
    const who = await deployWeb(h);
    await expect(h.user.enable(who, ['web.service'])).rejects.toThrow(/transient or generated/);
    await expect(h.user.enable(who, ['missing.timer'])).rejects.toThrow(/does not exist/);
  });

  it('keeps a running unit whose file is gone as not-found until it stops', async () => {
    const h = host();
    const who = await deployWeb(h);
    await h.user.start(who, ['web.service']);
    await writeUserFiles(h.fake, { ...who, files: [], remove: ['containers/systemd/web.container'] }, SELF);
    await h.user.daemonReload(who);
    expect((await h.user.show(who, ['web.service'])).get('web.service')).toMatchObject({ loadState: 'not-found', activeState: 'active' });
    await h.user.stop(who, ['web.service']);
    await h.user.daemonReload(who);
    expect(h.fake.unit('web', 'web.service')).toBeUndefined();
  });

  it('cannot reach a user manager that is not running', async () => {
    const h = host();
    await h.users.ensureGroup(MANAGED_GROUP);
    await h.users.createUser('web', { uid: 1000 });
    const entry = await h.users.lookupUser('web');
    const who = { user: 'web', uid: entry?.uid ?? -1 };
    await expect(h.user.daemonReload(who)).rejects.toThrow(/Failed to connect to user scope bus/);
    expect(h.fake.linger.has('web')).toBe(false);
    await h.system.startUserManager(who.uid);
    await h.user.daemonReload(who);
    await h.system.stopUserManager(who.uid);
    await expect(h.user.daemonReload(who)).rejects.toThrow(CommandError);
  });

  it('fails the bounded wait when a user manager cannot start', async () => {
    const h = host();
    await expect(h.system.startUserManager(4242)).rejects.toThrow(CommandError);
    // A manager that starts but never reports active exhausts the bounded confirmation.
    const stuck = new SystemManager(
      { run: async (argv, o) => (argv[1] === 'is-active' ? { ...(await h.fake.run(argv, o)), exitCode: 3, stdout: 'activating\n' } : h.fake.run(argv, o)) },
      { sleep: noSleep, readyTimeoutMs: 1_000, pollMs: 100 },
    );
    await h.users.ensureGroup(MANAGED_GROUP);
    await h.users.createUser('web', { uid: 1000 });
    await expect(stuck.startUserManager(1000)).rejects.toThrow(HostError);
    expect(h.fake.callLines().filter((c) => c === 'systemctl is-active user@1000.service')).toHaveLength(10);
  });

  it('refuses a write payload addressed to another uid or home', async () => {
    const h = host();
    const who = await deployWeb(h);
    await expect(writeUserFiles(h.fake, { ...who, uid: who.uid + 1, files: [] }, SELF)).rejects.toThrow(/payload is for uid/);
    await expect(writeUserFiles(h.fake, { ...who, home: '/home/other', files: [] }, SELF)).rejects.toThrow(HostError);
    const again = await writeUserFiles(h.fake, { ...who, files: [{ path: 'containers/systemd/web.container', content: webContainer, mode: 0o644 }] }, SELF);
    expect(again).toMatchObject({ written: [], unchanged: ['containers/systemd/web.container'] });
  });

  it('answers unknown commands with exit 127 so a new argv form is noticed', async () => {
    const r = await new FakeSystem().run(['podman', 'ps'], { timeoutMs: 1 });
    expect(r.exitCode).toBe(127);
  });
});

describe('the fake Podman secret store', () => {
  it('takes a value only through a pipe, replaces it, removes it once, as podman does', async () => {
    const h = host();
    const who = await deployWeb(h);
    const { PodmanSecrets } = await import('../../daemon/host/secrets');
    const { runAsUser } = await import('../../daemon/host/as-user');
    const secrets = new PodmanSecrets(h.fake, { timeoutMs: 1_000 });
    // Straight from Node, stdin is a socket: podman refuses "-".
    const direct = await runAsUser(h.fake, who, ['podman', 'secret', 'create', 'web-db', '-'], { timeoutMs: 1_000, input: 'v1' });
    expect([direct.exitCode, direct.stderr.trim()]).toEqual([125, 'Error: if `-` is used, data must be passed into stdin']);
    const value = Buffer.from('v1');
    await secrets.create(who, 'web-db', value);
    expect(h.fake.podmanSecrets.get('web')?.get('web-db')?.toString()).toBe('v1');
    // The caller's buffer is zeroed once handed over.
    expect([...value]).toEqual([0, 0]);
    await secrets.create(who, 'web-db', Buffer.from('v2'));
    expect(h.fake.podmanSecrets.get('web')?.get('web-db')?.toString()).toBe('v2');
    await secrets.remove(who, 'web-db');
    // Gone already: fine.
    await secrets.remove(who, 'web-db');
    expect(h.fake.podmanSecrets.get('web')?.size).toBe(0);
  });
});
