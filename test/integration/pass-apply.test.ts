// A reconcile pass applying workloads: the exact host commands of a new workload, a pass
// that has nothing to do, drift repaired, and the per-item log lines.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassHarness, asUserLine, containerSpec, normLine } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const norm = normLine;

const USERADD = (u: string, uid: number) =>
  `useradd --create-home --user-group --uid ${uid} -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 --comment moor-managed --groups moor-managed --shell /usr/sbin/nologin ${u}`;
const MUTATING = /useradd|usermod|userdel|groupadd|enable-linger|disable-linger|terminate-user|__write-files|daemon-reload| (re)?start | stop |enable /;

function generationDir(id: number): string {
  return join(h.stateDir, 'generations', String(id).padStart(6, '0'));
}

describe('a new workload', () => {
  it('runs user → linger → user manager → Podman namespace → write → reload → verify → restart → health gate, in that order, then records it', async () => {
    h.commit({ 'web.container': containerSpec() });
    const { result, timeline, calls } = await h.pass();

    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([['web', 'create', 'ok']]);
    const lines = calls.map(norm);
    const gate = lines.slice(18);
    expect(lines.slice(0, 18)).toEqual([
      // Step 2: no group of that name may exist already (a user moor does not own yet).
      'getent group web',
      'getent passwd web',
      // Step 6b: the host's tools, before anything changes.
      'podman --version',
      'test -x /usr/lib/systemd/user-generators/podman-user-generator',
      'getent group moor-managed',
      'groupadd --system moor-managed',
      // Every uid in use, for the allocator to skip; then the user, with the uid and range
      // moor chose and reserved.
      'getent passwd',
      USERADD('web', 1000),
      'getent passwd web',
      'usermod --add-subuids 100000-165535 --add-subgids 100000-165535 web',
      'loginctl enable-linger web',
      'systemctl start user@1000.service',
      'systemctl is-active user@1000.service',
      // The user's Podman namespace, before any of its units starts (a Quadlet unit whose
      // podman had to create it could lose its READY=1).
      'as web(1000): podman unshare /bin/true',
      'as web(1000): moor __write-files',
      'as web(1000): systemctl --user daemon-reload',
      'as web(1000): systemctl --user show web.service',
      'as web(1000): systemctl --user restart web.service',
    ]);
    expect(calls).toContain(asUserLine('web', 1000, 'podman unshare /bin/true'));
    expect(h.fake.podmanNamespaces.has(1000)).toBe(true);
    expect(h.fake.startsWithoutNamespace).toEqual([]);
    // The health gate polls until the unit has stayed up for the settle time; only reads.
    expect(gate.length).toBeGreaterThan(0);
    expect(new Set(gate)).toEqual(new Set(['as web(1000): systemctl --user show web.service']));
    expect(calls.find((c) => c.includes('__write-files'))).toBe(asUserLine('web', 1000, 'moor __write-files'));

    // State: the ownership registry brackets useradd; the applied record and the generation's
    // completion come only after the last host command (the gate's last look).
    const events = timeline.events;
    const at = (label: string) => events.indexOf(label);
    const lastRun = events.map((e) => e.startsWith('run ')).lastIndexOf(true);
    expect(at('state ownedUsers.recordPending web')).toBeLessThan(at(`run ${USERADD('web', 1000)}`));
    expect(at('state ownedUsers.confirm web')).toBeGreaterThan(at('run usermod --add-subuids 100000-165535 --add-subgids 100000-165535 web'));
    expect(at('state applied.write web')).toBeGreaterThan(lastRun);
    expect(at('state generations.finish 1')).toBeGreaterThan(at('state applied.write web'));
    expect(at('state generations.markComplete 1')).toBeGreaterThan(at('state generations.finish 1'));

    // The host: user with marker, lingering, unit active; the file written as the user.
    const web = h.fake.passwd.get('web')!;
    expect(web).toMatchObject({ uid: 1000, gecos: 'moor-managed', home: '/home/web' });
    expect(h.fake.linger.has('web')).toBe(true);
    expect(h.fake.unit('web', 'web.service')).toMatchObject({ loadState: 'loaded', activeState: 'active', subState: 'running' });
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')).toEqual({ content: containerSpec(), mode: 0o644 });

    // The state store: applied record, registry, complete generation that current points at.
    const store = await h.openStore();
    const record = await store.applied.read('web');
    expect(record).toMatchObject({ workload: 'web', user: 'web', uid: 1000, generation: 1, commit: result.commit });
    expect(Object.keys(record!.hashes)).toEqual(['containers/systemd/web.container']);
    expect(await store.ownedUsers.get('web')).toMatchObject({ state: 'created', uid: 1000, subids: { start: 100000, count: 65536 } });
    expect(h.fake.subuid).toBe('web:100000:65536\n');
    expect(h.fake.subgid).toBe('web:100000:65536\n');
    expect(result.generation).toBe(1);
    expect(result.generationState).toBe('complete');
    expect(existsSync(join(generationDir(1), 'complete'))).toBe(true);
    expect(await store.generations.current()).toBe(1);
    expect((await store.generations.read(1)).workloads.web?.files['containers/systemd/web.container']).toBe(containerSpec());
  });

  it('starts (never restarts) volumes, restarts services, enables timers, and leaves timer-driven services to their timer', async () => {
    h.commit({
      'web.container': containerSpec('localhost/web:1', 'Volume=web-data.volume:/data'),
      'web-data.volume': '[Volume]\n',
      'web-nightly.service': '[Service]\nType=oneshot\nExecStart=/bin/true\n',
      'web-nightly.timer': '[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n',
      'web.env': 'MODE=prod\n',
    });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    const jobs = calls.map(norm).filter((l) => / (start|restart|enable) /.test(l) && l.startsWith('as '));
    expect(jobs).toEqual([
      'as web(1000): systemctl --user start web-data-volume.service',
      'as web(1000): systemctl --user restart web.service',
      'as web(1000): systemctl --user enable web-nightly.timer',
      'as web(1000): systemctl --user restart web-nightly.timer',
    ]);
    expect(h.fake.unit('web', 'web-data-volume.service')?.subState).toBe('exited');
    expect(h.fake.unit('web', 'web-nightly.timer')).toMatchObject({ activeState: 'active', unitFileState: 'enabled' });
    expect(h.fake.unit('web', 'web-nightly.service')?.activeState).toBe('inactive');
    expect([...h.fake.userFiles('web').keys()].sort()).toEqual([
      '.config/containers/systemd/web-data.volume',
      '.config/containers/systemd/web.container',
      '.config/moor/files/web.env',
      '.config/systemd/user/web-nightly.service',
      '.config/systemd/user/web-nightly.timer',
    ]);
  });

  it('creates several workloads in sorted order, each with its own user and uid', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1'), 'db.container': containerSpec('localhost/db:1') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.uid])).toEqual([
      ['api', 1000],
      ['db', 1001],
      ['web', 1002],
    ]);
    expect(calls.filter((c) => c.startsWith('useradd')).map((c) => c.split(' ').at(-1))).toEqual(['api', 'db', 'web']);
    expect(calls.filter((c) => c === 'groupadd --system moor-managed')).toHaveLength(1);
  });
});

describe('an unchanged workload', () => {
  it('changes nothing on the next pass: reads only, no generation, exit 0', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    const first = await h.pass();
    expect(first.result.exitCode).toBe(0);
    const invocation = h.fake.unit('web', 'web.service')!.invocationId;
    const store = await h.openStore();
    const generationsBefore = (await store.generations.list()).map((g) => g.id);

    const { result, calls, timeline } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'unchanged', 'ok'],
      ['web', 'unchanged', 'ok'],
    ]);
    expect(result.generation).toBeUndefined();
    expect(result.counts).toEqual({ applied: 0, unchanged: 2, failed: 0, rolledBack: 0, removed: 0 });
    expect(calls.filter((c) => MUTATING.test(c))).toEqual([]);
    // Every user in one question, every user manager in another, then each workload's units, a few at a time.
    const lines = calls.map(norm);
    expect(lines.slice(0, 2)).toEqual(['getent passwd api web', 'systemctl is-active user@1000.service user@1001.service']);
    expect(lines.slice(2).sort()).toEqual(['as api(1000): systemctl --user show api.service', 'as web(1001): systemctl --user show web.service']);
    expect(timeline.events.filter((e) => e.startsWith('state ') && e !== 'state generations.recoverAborted')).toEqual([]);
    expect((await store.generations.list()).map((g) => g.id)).toEqual(generationsBefore);
    expect(h.fake.unit('web', 'web.service')!.invocationId).toBe(invocation);
    // The pass is still recorded for `moor status`.
    const last = JSON.parse(readFileSync(join(h.stateDir, 'last-pass.json'), 'utf8')) as { exitCode: number; summary: string };
    expect(last).toMatchObject({ exitCode: 0 });
    expect(last.summary).toContain('0 applied, 2 unchanged');
  });

  it('a new commit that leaves the rendered files as they were changes nothing either', async () => {
    h.commit({ 'web.container': containerSpec(), 'README.md': 'one\n' });
    await h.pass();
    h.commit({ 'web.container': containerSpec(), 'README.md': 'two\n' }, 'docs only');
    const { result, calls } = await h.pass();
    expect(result.items.map((i) => i.action)).toEqual(['unchanged']);
    expect(calls.filter((c) => MUTATING.test(c))).toEqual([]);
  });
});

describe('an updated workload', () => {
  it('rewrites the changed files and restarts only the units they feed', async () => {
    h.commit({ 'web.container': containerSpec('localhost/web:1'), 'web-nightly.service': '[Service]\nExecStart=/bin/true\n', 'api.container': containerSpec('localhost/api:1') });
    await h.pass();
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'web-nightly.service': '[Service]\nExecStart=/bin/true\n', 'api.container': containerSpec('localhost/api:1') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action])).toEqual([
      ['api', 'unchanged'],
      ['web', 'update'],
    ]);
    expect(result.items[1]!.changed).toEqual(['containers/systemd/web.container']);
    // The user moor owns is found (registry, then getent with the marker) and not added
    // again: no useradd, so no "failed adding user" in the journal on every update. Its
    // linger, manager and Podman namespace are ensured again (idempotent), then only the
    // changed file's unit restarts.
    const lines = calls.map(norm);
    expect(lines.filter((l) => /^(getent|useradd|usermod|loginctl|systemctl (start|is-active) user@)|podman/.test(l) && / web$|user@1001|web\(1001\)/.test(l))).toEqual([
      'getent passwd api web',
      'getent passwd web',
      'loginctl enable-linger web',
      'systemctl start user@1001.service',
      'systemctl is-active user@1001.service',
      'as web(1001): podman unshare /bin/true',
    ]);
    expect(lines.some((l) => l.startsWith('useradd'))).toBe(false);
    const jobs = lines.filter((l) => MUTATING.test(l));
    expect(jobs).toEqual([
      'loginctl enable-linger web',
      'systemctl start user@1001.service',
      'as web(1001): moor __write-files',
      'as web(1001): systemctl --user daemon-reload',
      'as web(1001): systemctl --user restart web.service',
    ]);
    expect(h.fake.startsWithoutNamespace).toEqual([]);
    expect(calls.filter((c) => / api( |$)|--uid=api /.test(c) && MUTATING.test(c))).toEqual([]);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(containerSpec('localhost/web:2'));
  });

  it('stops and deletes the files of a companion removed from the repo', async () => {
    h.commit({ 'web.container': containerSpec(), 'web-cache.service': '[Service]\nExecStart=/bin/cache\n' });
    await h.pass();
    expect(h.fake.unit('web', 'web-cache.service')?.activeState).toBe('active');
    h.commit({ 'web.container': containerSpec() });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items[0]).toMatchObject({ action: 'update', removed: ['systemd/user/web-cache.service'] });
    expect(calls.map(norm)).toContain('as web(1000): systemctl --user stop web-cache.service');
    expect(h.fake.userFiles('web').has('.config/systemd/user/web-cache.service')).toBe(false);
    expect(h.fake.unit('web', 'web-cache.service')).toBeUndefined();
    expect(Object.keys((await (await h.openStore()).applied.read('web'))!.hashes)).toEqual(['containers/systemd/web.container']);
  });
});

describe('a drifted workload (spec unchanged)', () => {
  const as = (user: string, uid: number, ...argv: string[]) => asUserLine(user, uid, argv.join(' ')).split(' ');
  const byHand = (argv: string[]) => h.fake.run(argv, { timeoutMs: 1000, env: { PATH: '/usr/bin' } });

  beforeEach(async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    expect((await h.pass()).result.exitCode).toBe(0);
  });

  async function expectRepaired(reason: RegExp) {
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    const web = result.items.find((i) => i.workload === 'web')!;
    expect(web).toMatchObject({ action: 'drift', result: 'ok' });
    expect(web.reason).toMatch(reason);
    expect(result.items.find((i) => i.workload === 'api')?.action).toBe('unchanged');
    const lines = calls.map(norm);
    const uid = h.fake.passwd.get('web')!.uid;
    const write = lines.indexOf(`as web(${uid}): moor __write-files`);
    const reload = lines.indexOf(`as web(${uid}): systemctl --user daemon-reload`);
    const restart = lines.indexOf(`as web(${uid}): systemctl --user restart web.service`);
    expect(write).toBeGreaterThanOrEqual(0);
    expect(reload).toBeGreaterThan(write);
    expect(restart).toBeGreaterThan(reload);
    // The other workload is not touched.
    expect(calls.filter((c) => MUTATING.test(c) && / api( |$)|--uid=api /.test(c))).toEqual([]);
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(containerSpec());
    expect(h.itemLines('web').at(-1)).toMatch(/^<6>web: drift ok .*action=drift result=ok/);
    // Repaired: the pass after that has nothing to do.
    const again = await h.pass();
    expect(again.result.items.map((i) => i.action)).toEqual(['unchanged', 'unchanged']);
  }

  it('re-applies a service stopped by hand', async () => {
    await byHand(as('web', 1001, 'systemctl', '--user', 'stop', 'web.service'));
    await expectRepaired(/web\.service is inactive/);
  });

  it('re-applies a service that failed', async () => {
    Object.assign(h.fake.unit('web', 'web.service')!, { activeState: 'failed', subState: 'failed', result: 'exit-code' });
    await expectRepaired(/web\.service is failed \(Result=exit-code\)/);
  });

  it('re-applies when the user manager is gone', async () => {
    await byHand(['systemctl', 'stop', 'user@1001.service']);
    await expectRepaired(/user@1001\.service is inactive/);
  });

  it('re-applies when the unit file was deleted and the manager reloaded (a reboot)', async () => {
    h.fake.files.get('web')!.delete('.config/containers/systemd/web.container');
    await byHand(as('web', 1001, 'systemctl', '--user', 'stop', 'web.service'));
    await byHand(as('web', 1001, 'systemctl', '--user', 'daemon-reload'));
    await expectRepaired(/web\.service is (not loaded|inactive)/);
  });

  it('re-applies when the unit file was deleted while the service still runs', async () => {
    h.fake.files.get('web')!.delete('.config/containers/systemd/web.container');
    await expectRepaired(/web\.service/);
  });

  it('re-applies when the unit file was edited by hand', async () => {
    h.fake.files.get('web')!.set('.config/containers/systemd/web.container', { content: containerSpec('evil/image'), mode: 0o644 });
    await expectRepaired(/web\.service/);
  });

  it('re-creates a user deleted by hand', async () => {
    await byHand(['loginctl', 'disable-linger', 'web']);
    await byHand(['userdel', '--remove', 'web']);
    expect(h.fake.passwd.has('web')).toBe(false);
    await expectRepaired(/user web is missing/);
    expect(h.fake.passwd.get('web')?.gecos).toBe('moor-managed');
  });

  it('re-applies on a redeploy request, and clears only that request', async () => {
    await (await h.openStore()).redeploy.request('web');
    const { result, calls } = await h.pass();
    expect(result.items.find((i) => i.workload === 'web')).toMatchObject({ action: 'redeploy', result: 'ok' });
    expect(calls.map(norm)).toContain('as web(1001): systemctl --user restart web.service');
    expect(await (await h.openStore()).redeploy.list()).toEqual([]);
  });
});

describe('log lines', () => {
  const FIELDS = ['workload', 'user', 'uid', 'action', 'result', 'duration_ms', 'generation', 'commit'];
  const fields = (line: string) => Object.fromEntries([...line.matchAll(/ ([a-z_]+)=("(?:[^"\\]|\\.)*"|\S+)/g)].map((m) => [m[1]!, m[2]!]));

  it('one line per item with workload, user, uid, action, result, duration_ms, generation and commit', async () => {
    const commit = h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    await h.pass();
    const lines = h.itemLines();
    expect(lines).toHaveLength(2);
    for (const [line, workload, uid] of [[lines[0]!, 'api', '1000'], [lines[1]!, 'web', '1001']] as const) {
      expect(line.startsWith(`<6>${workload}: create ok `)).toBe(true);
      const f = fields(line);
      for (const key of FIELDS) expect(f, `${key} in ${line}`).toHaveProperty(key);
      expect(f).toMatchObject({ workload, user: workload, uid, action: 'create', result: 'ok', generation: '1', commit: commit.slice(0, 12) });
      expect(Number(f.duration_ms)).toBeGreaterThanOrEqual(0);
    }
  });

  it('a pass that changes nothing still logs every field for each workload', async () => {
    const commit = h.commit({ 'web.container': containerSpec() });
    await h.pass();
    h.logs.length = 0;
    await h.pass();
    const lines = h.itemLines();
    expect(lines).toHaveLength(1);
    const f = fields(lines[0]!);
    for (const key of FIELDS) expect(f, `${key} in ${lines[0]}`).toHaveProperty(key);
    expect(f).toMatchObject({ workload: 'web', uid: '1000', action: 'unchanged', result: 'ok', generation: '1', commit: commit.slice(0, 12) });
  });

  it('failures are logged at error priority (<3>) with the error, successes at info (<6>)', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    h.fake.failUnit('api', 'api.service');
    await h.pass();
    const [api, web] = h.itemLines();
    expect(api).toMatch(/^<3>api: create failed /);
    expect(fields(api!)).toMatchObject({ workload: 'api', result: 'failed', action: 'create' });
    expect(fields(api!).error).toContain('api.service');
    expect(web).toMatch(/^<6>web: create ok /);
    // Nothing but failures is at error priority.
    expect(h.logs.filter((l) => l.startsWith('<3>'))).toEqual([api]);
  });
});

describe('a profiled pass (moor reconcile --once --profile)', () => {
  it('times each step, each part of applying a workload and each kind of host command, and logs every span at debug level', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    const { result, profile, calls } = await h.profiledPass();
    expect(result.exitCode).toBe(0);
    const steps = profile.steps.map((s) => s.name);
    expect(steps.filter((s) => /^\d/.test(s))).toEqual(['1 recover', '2 desired state', '3 render for host', '4 observe', '5 plan', '6 record no change', '6b host tools', '7 apply', '8 finish']);
    for (const part of ['apply.user', 'apply.linger', 'apply.user manager', 'apply.podman namespace', 'apply.write files', 'apply.daemon-reload', 'apply.verify', 'apply.start', 'apply.health gate', 'apply.record']) {
      expect(profile.steps.find((s) => s.name === part), part).toMatchObject({ count: 2 });
    }
    // Every host command is counted once, under its kind.
    expect(profile.commands.reduce((n, c) => n + c.count, 0)).toBe(calls.length);
    expect(profile.commands.find((c) => c.name === 'useradd')).toMatchObject({ count: 2 });
    expect(profile.commands.find((c) => c.name === 'as user: systemctl --user daemon-reload')).toMatchObject({ count: 2 });
    expect(profile.totalMs).toBeGreaterThanOrEqual(profile.steps.find((s) => s.name === '7 apply')!.ms);
    expect(h.logs.some((l) => /span apply\.health gate: [\d.]+ ms/.test(l))).toBe(true);
  });
});

describe('the settle time of the health gate', () => {
  it('ends with one more look at each workload, and items still finish in plan order', async () => {
    // One workload applied at a time (pass-parallel.test.ts covers more).
    h.config = h.makeConfig({ apply: { parallel: 1 } });
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1'), 'db.container': containerSpec('localhost/db:1') });
    const { result, calls } = await h.pass({ settleMs: 1_000 });
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => i.workload)).toEqual(['api', 'db', 'web']);
    const lines = calls.map(norm).filter((l) => / restart | show (api|db|web)\.service/.test(l));
    const up = (w: string, uid: number) => [
      `as ${w}(${uid}): systemctl --user show ${w}.service`,
      `as ${w}(${uid}): systemctl --user restart ${w}.service`,
      `as ${w}(${uid}): systemctl --user show ${w}.service`,
    ];
    // Applied one after the other; each gets one more look once its settle time passed
    // (with the fake clock, that time passes at once: pass-parallel.test.ts shows the overlap).
    expect(lines.filter((l) => / restart /.test(l))).toEqual(['api', 'db', 'web'].map((w, i) => `as ${w}(${1000 + i}): systemctl --user restart ${w}.service`));
    for (const [i, w] of ['api', 'db', 'web'].entries()) {
      expect(lines.filter((l) => l.startsWith(`as ${w}(`))).toEqual([...up(w, 1000 + i), `as ${w}(${1000 + i}): systemctl --user show ${w}.service`]);
    }
    expect(h.itemLines().map((l) => /workload=(\w+)/.exec(l)?.[1])).toEqual(['api', 'db', 'web']);
  });

  it('is apply.settle: waited out on the clock as configured, and with "0s" the units being up is enough', async () => {
    h.config = h.makeConfig({ apply: { settle: 5_000 } });
    h.commit({ 'web.container': containerSpec() });
    const startedAt = h.clock.ms;
    const slow = await h.pass();
    expect(slow.result.exitCode).toBe(0);
    expect(h.clock.ms - startedAt).toBeGreaterThanOrEqual(5_000);
    const looks = (calls: string[]) => calls.map(norm).filter((l) => / show web\.service/.test(l)).length;
    // Up (one look after the restart), then the look once its settle time passed.
    expect(looks(slow.calls)).toBe(3);

    h.config = h.makeConfig({ apply: { settle: 0 } });
    h.commit({ 'web.container': containerSpec('localhost/web:2') });
    const at = h.clock.ms;
    const quick = await h.pass();
    expect(quick.result.exitCode).toBe(0);
    expect(h.clock.ms - at).toBeLessThan(1_000);
    expect(looks(quick.calls)).toBe(2);
  });
});

describe('a pass asked to stop', () => {
  it('finishes and reports the workload in hand before it says it stops, and leaves the rest', async () => {
    h.config = h.makeConfig({ apply: { parallel: 1 } });
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    // Asked once api, the first workload, was begun.
    const { result } = await h.pass({ settleMs: 1_000, shouldStop: () => h.fake.callLines().some((l) => /^useradd .* api$/.test(l)) });
    expect(result.items.map((i) => [i.workload, i.result])).toEqual([['api', 'ok']]);
    const api = h.logs.findIndex((l) => /api: create ok/.test(l));
    const stopping = h.logs.findIndex((l) => l.includes('stopping: the remaining workloads are left for the next pass'));
    expect(api).toBeGreaterThanOrEqual(0);
    expect(stopping).toBeGreaterThan(api);
    expect(h.fake.unit('api', 'api.service')?.activeState).toBe('active');
    expect(h.fake.callLines().some((l) => /^useradd .* web$/.test(l))).toBe(false);
  });
});
