// moor's promises on a real host, one scenario after another on one guest: several
// workloads at once, a change restarting only its own service, a failure staying alone and
// reaching the journal, a removal leaving nothing behind, users moor did not make left
// alone, the pass lock, a pass killed half-way, and rollback with its pin. The steps build
// on each other, in order. Then, on a guest of its own, the shipped example repo with the
// shipped transforms, as scripts/demo shows it. Every assertion reads the guest's own
// state: getent, loginctl, systemctl (system and --user), podman, journalctl.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_BARE_REPO, GUEST_MOOR, GUEST_MOOR_CONFIG, GUEST_NODE, REPO_ROOT, bootGuest, describeExec, eventually, leftoverGuests, readHostTree, type ExecResult, type Guest, bootMoorGuest } from './guest';

const STATE_DIR = '/var/lib/moor';
const LOCK = '/run/moor/lock';

interface PassItem {
  workload: string;
  user: string;
  uid?: number;
  action: string;
  result: string;
  error?: string;
}

interface PassJson {
  exitCode: number;
  commit: string;
  generation?: number;
  generationState?: string;
  summary: string;
  items: PassItem[];
}

interface GenerationRow {
  generation: number;
  state: string;
  kind?: string;
  rollbackOf?: number;
  commit?: string;
  current: boolean;
  pinned: boolean;
}

interface StatusJson {
  live?: { generation: number; commit: string; kind: string };
  latest?: { generation: number; state: string };
  pinned?: { generation: number };
  lastPass?: { exitCode: number; summary: string };
  workloads: Array<{ workload: string; user: string; uid?: number; action?: string; result?: string; error?: string }>;
}

/** A long-running rootless container; `extra` lines go into [Container], `service` into [Service]. */
function container(description: string, extra: string[] = [], service: string[] = []): string {
  return [
    '[Unit]',
    `Description=${description}`,
    '',
    '[Container]',
    `Image=${BUSYBOX_IMAGE}`,
    `Exec=${BUSYBOX_SERVE_FOREVER}`,
    ...extra,
    '',
    ...(service.length ? ['[Service]', ...service, ''] : []),
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

const db = (mode: string) => container('database', ['Volume=db-data.volume:/data', `Environment=DB_MODE=${mode}`]);

/** The desired state as it changes from step to step: path in the repo → content. */
const repo: Record<string, string> = {
  // Its stop takes half a second: the removal test follows web's journal while the user
  // and its journal files go, and a follower learns of new lines only at journald's change
  // notice (at most every 250 ms): a stop over in less, with the files removed right after,
  // could leave it nothing to read.
  'web.container': container('web front', [], ['ExecStopPost=/bin/sleep 0.5']),
  'jobs.container': container('job runner'),
  'jobs-report.service': `[Unit]
Description=hourly report of jobs

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo report for %u > %h/report'
`,
  // Fires once a second after it starts, then hourly: the test sees it run.
  'jobs-report.timer': `[Unit]
Description=run jobs-report.service

[Timer]
OnActiveSec=1s
OnUnitActiveSec=1h
AccuracySec=100ms

[Install]
WantedBy=timers.target
`,
  'db.container': db('one'),
  'db-data.volume': `[Volume]
Label=app=db
`,
};

/** Every unit moor starts for a workload, by user. */
const UNITS: Record<string, string[]> = {
  web: ['web.service'],
  jobs: ['jobs.service', 'jobs-report.timer'],
  db: ['db-data-volume.service', 'db.service'],
  slow: ['slow.service'],
  late: ['late.service'],
};

/** Users made by hand before any pass: moor must never touch them. */
const SQUATTER = 'squatter'; // also the name of a workload pushed later
const HANDMADE = 'handmade'; // put into the moor-managed group by hand

let guest: Guest;
let passNo = 0;

beforeAll(async () => {
  guest = await bootMoorGuest();
  // moor installed as on a real host: the shipped units, sysusers.d (the moor-managed
  // group) and tmpfiles.d entries; nothing enabled.
  await guest.run([GUEST_NODE, GUEST_MOOR, 'install-units', '--bundle']);
  await guest.run(['systemd-sysusers', '/etc/sysusers.d/moor.conf']);
  await guest.run(['systemd-tmpfiles', '--create', '/etc/tmpfiles.d/moor.conf']);
  await guest.run(['systemctl', 'daemon-reload']);
  // The hand-made users come first, so no uid of theirs was ever a workload's.
  await guest.run(['useradd', '--create-home', '--user-group', '--comment', 'made by hand', SQUATTER]);
  await guest.run(['loginctl', 'enable-linger', SQUATTER]);
  await guest.run(['systemctl', 'start', `user@${await guest.uid(SQUATTER)}.service`]);
  await guest.run(['useradd', '--create-home', '--user-group', HANDMADE]);
  await guest.run(['usermod', '--append', '--groups', 'moor-managed', HANDMADE]);
});

afterAll(async () => {
  // The guest is volatile: a short grace, then SIGKILL, loses nothing.
  await guest?.shutdown(10_000);
  if (guest) console.log(`scenarios guest: boot ${guest.timings.bootMs} ms, shutdown ${guest.timings.shutdownMs} ms`);
  expect(await leftoverGuests()).toEqual([]);
});

/** `moor reconcile --once --json ARGS`, with everything needed to explain a failure. */
async function reconcile(...args: string[]) {
  const cursor = await guest.journalCursor();
  const run = await guest.moor(['reconcile', '--once', '--json', ...args]);
  return withExplain(run, cursor);
}

function withExplain(run: ExecResult, cursor: string | undefined) {
  let pass: PassJson | undefined;
  try {
    pass = JSON.parse(run.stdout) as PassJson;
  } catch {
    pass = undefined;
  }
  const explain = async () => {
    const journal = await guest.journal({ lines: 120, ...(cursor ? { afterCursor: cursor } : {}) });
    return `${describeExec(run)}\n--- guest journal since the pass began ---\n${journal}`;
  };
  const item = (workload: string) => pass?.items.find((i) => i.workload === workload);
  return { run, pass, explain, item };
}

/** `moor ARGS --json`, parsed; `code` is the exit code expected (`moor status` exits 1 when a workload failed). */
async function moorJson<T>(args: string[], code = 0): Promise<T> {
  const r = await guest.moor([...args, '--json']);
  expect(r.code, describeExec(r)).toBe(code);
  return JSON.parse(r.stdout) as T;
}

/**
 * A pass run as a transient system service, its output going to the journal; returns
 * systemd-run's exit code (the pass's) and the unit name.
 */
async function reconcileUnderSystemd(env: Record<string, string> = {}): Promise<{ run: ExecResult; unit: string }> {
  const unit = `moor-pass-${++passNo}`;
  const run = await guest.exec(
    [
      'systemd-run',
      `--unit=${unit}`,
      '--wait',
      '--collect',
      '--quiet',
      '--property=StandardOutput=journal',
      '--property=StandardError=journal',
      ...Object.entries(env).map(([k, v]) => `--setenv=${k}=${v}`),
      GUEST_NODE,
      GUEST_MOOR,
      'reconcile',
      '--once',
    ],
    { timeoutMs: 600_000 },
  );
  return { run, unit };
}

/** The unit's journal; with `own`, only what its processes wrote (not systemd's lines about it). */
async function journalOf(unit: string, priority?: string, afterCursor?: string, own = false): Promise<string> {
  const r = await guest.exec([
    'journalctl',
    '--no-pager',
    '-o',
    'cat',
    ...(own ? [`_SYSTEMD_UNIT=${unit}`] : ['-u', unit]),
    ...(priority ? ['-p', priority] : []),
    ...(afterCursor ? [`--after-cursor=${afterCursor}`] : []),
  ]);
  return r.stdout;
}

/** Reads a journal until `pattern` shows up in it (bounded), and returns the last reading. */
async function journalUntil(read: () => Promise<string>, pattern: RegExp, timeoutMs = 5_000): Promise<string> {
  let text = '';
  await eventually(
    `${pattern} in the journal`,
    async () => {
      text = await read();
      return pattern.test(text) ? true : undefined;
    },
    timeoutMs,
    100,
  ).catch(() => undefined);
  return text;
}

async function activeState(user: string, unit: string): Promise<string> {
  return (await guest.systemctlUser(user, ['is-active', unit])).stdout.trim();
}

async function expectActive(user: string, units: readonly string[] = UNITS[user] ?? []): Promise<void> {
  for (const unit of units) {
    const state = await activeState(user, unit);
    expect(state, `${unit} of ${user}\n${await guest.journal({ user, unit, lines: 30 })}`).toBe('active');
  }
}

async function invocationIds(users: readonly string[]): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const user of users) {
    for (const unit of UNITS[user] ?? []) ids[`${user}/${unit}`] = (await guest.userUnit(user, unit, ['InvocationID'])).InvocationID ?? '';
  }
  return ids;
}

async function containerEnv(user: string): Promise<string> {
  const r = await guest.asUser(user, ['podman', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', `systemd-${user}`], { cwd: '/' });
  expect(r.code, describeExec(r)).toBe(0);
  return r.stdout;
}

async function containerId(user: string): Promise<string> {
  return (await guest.asUser(user, ['podman', 'ps', '--filter', `name=^systemd-${user}$`, '--format', '{{.ID}}'], { cwd: '/' })).stdout.trim();
}

/** Users carrying moor's GECOS marker, sorted. */
async function markedUsers(): Promise<string[]> {
  const passwd = (await guest.run(['getent', 'passwd'])).stdout;
  return passwd
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f[4] === 'moor-managed')
    .map((f) => f[0]!)
    .sort();
}

/** Everything about a user an operator would notice changing. */
async function userFacts(user: string) {
  const passwd = (await guest.run(['getent', 'passwd', user])).stdout.trim();
  const groups = (await guest.run(['id', '-nG', user])).stdout.trim();
  const lingerFile = (await guest.exec(['test', '-e', `/var/lib/systemd/linger/${user}`])).code === 0;
  const linger = (await guest.exec(['loginctl', 'show-user', user, '-p', 'Linger', '--value'])).stdout.trim() || 'unknown';
  const home = (await guest.run(['stat', '-c', '%U:%G %a', `/home/${user}`])).stdout.trim();
  return { passwd, groups, lingerFile, linger, home };
}

async function expectUserGone(user: string, uid: number): Promise<void> {
  expect((await guest.exec(['getent', 'passwd', user])).code, `user ${user} still exists`).toBe(2);
  expect((await guest.exec(['test', '-e', `/home/${user}`])).code, `/home/${user} still exists`).not.toBe(0);
  expect((await guest.exec(['test', '-e', `/var/lib/systemd/linger/${user}`])).code, `${user} still lingers`).not.toBe(0);
  expect((await guest.exec(['systemctl', 'is-active', `user@${uid}.service`])).stdout.trim(), `user@${uid}.service of ${user}`).not.toBe('active');
  const ps = await guest.exec(['ps', '-o', 'pid,comm', '--no-headers', '-u', String(uid)]);
  expect(ps.stdout.trim(), `processes of ${user} (uid ${uid}) left`).toBe('');
}

async function lockHolderPid(): Promise<number | undefined> {
  const r = await guest.exec(['cat', LOCK]);
  const pid = /"pid":(\d+)/.exec(r.stdout)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/** Starts `moor reconcile --once --json` without waiting for it. */
function reconcileInBackground() {
  const cursor = guest.journalCursor();
  const done = guest.moor(['reconcile', '--once', '--json']);
  return { done: done.then(async (run) => withExplain(run, await cursor)) };
}

/** Resolves once `unit` of `user` is activating: its start is under way (ExecStartPre sleeps). */
async function untilActivating(user: string, unit: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    `${unit} of ${user} to be activating`,
    async () => {
      if ((await guest.exec(['id', '-u', user])).code !== 0) return undefined;
      const r = await guest.exec(['systemctl', '--user', 'show', '-p', 'ActiveState', '--value', unit], { user, cwd: '/' }).catch(() => undefined);
      return r?.stdout.trim() === 'activating' ? true : undefined;
    },
    timeoutMs,
    100,
  );
}

const generationDir = (id: number) => `${STATE_DIR}/generations/${String(id).padStart(6, '0')}`;

describe('moor on a real host: the scenarios', () => {
  const handmadeBefore: Record<string, Awaited<ReturnType<typeof userFacts>>> = {};

  it('three workloads: a container, a service + timer pair, a container with a volume', async () => {
    handmadeBefore[SQUATTER] = await userFacts(SQUATTER);
    handmadeBefore[HANDMADE] = await userFacts(HANDMADE);
    expect(handmadeBefore[SQUATTER]!.linger).toBe('yes');

    await guest.pushRepo(repo, { message: 'web, jobs with a timer, db with a volume' });
    const { run, pass, explain } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(pass!.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['db', 'create', 'ok'],
      ['jobs', 'create', 'ok'],
      ['web', 'create', 'ok'],
    ]);
    expect(pass!.generationState).toBe('complete');

    for (const user of ['web', 'jobs', 'db']) {
      const passwd = (await guest.run(['getent', 'passwd', user])).stdout.trim().split(':');
      expect(passwd[4], `GECOS of ${user}`).toBe('moor-managed');
      expect(passwd[5]).toBe(`/home/${user}`);
      expect((await guest.run(['id', '-nG', user])).stdout.trim().split(' ')).toContain('moor-managed');
      expect((await guest.run(['loginctl', 'show-user', user, '-p', 'Linger', '-p', 'State'])).stdout.trim().split('\n').sort()).toEqual([
        'Linger=yes',
        'State=lingering',
      ]);
      const uid = await guest.uid(user);
      expect(pass!.items.find((i) => i.workload === user)!.uid).toBe(uid);
      expect((await guest.exec(['systemctl', 'is-active', `user@${uid}.service`])).stdout.trim(), `user@${uid}.service`).toBe('active');
      await expectActive(user);
      const ps = await guest.asUser(user, ['podman', 'ps', '--format', '{{.Names}} {{.Image}}'], { cwd: '/' });
      expect(ps.stdout, describeExec(ps)).toContain(`systemd-${user} ${BUSYBOX_IMAGE}`);
    }

    // The companions: a plain service driven by an enabled timer, under jobs.
    const timer = await guest.userUnit('jobs', 'jobs-report.timer', ['ActiveState', 'UnitFileState', 'Triggers']);
    expect(timer).toEqual({ ActiveState: 'active', UnitFileState: 'enabled', Triggers: 'jobs-report.service' });
    expect((await guest.userUnit('jobs', 'jobs-report.service', ['FragmentPath'])).FragmentPath).toBe('/home/jobs/.config/systemd/user/jobs-report.service');
    await eventually('jobs-report.timer to run jobs-report.service', async () => {
      const s = await guest.userUnit('jobs', 'jobs-report.service', ['Result', 'ExecMainStatus', 'ExecMainExitTimestampMonotonic']);
      return s.ExecMainExitTimestampMonotonic !== '0' && s.Result === 'success' ? true : undefined;
    }, 15_000);
    // It ran as jobs, in its home.
    expect((await guest.run(['stat', '-c', '%U', '/home/jobs/report'])).stdout.trim()).toBe('jobs');
    expect((await guest.readFile('/home/jobs/report')).trim()).toBe('report for jobs');

    // The volume: Quadlet's volume unit ran, and db's container has it mounted.
    expect(await guest.userUnit('db', 'db-data-volume.service', ['ActiveState', 'Result'])).toEqual({ ActiveState: 'active', Result: 'success' });
    const volumes = await guest.asUser('db', ['podman', 'volume', 'ls', '--format', '{{.Name}}'], { cwd: '/' });
    expect(volumes.stdout.trim()).toBe('systemd-db-data');
    const mounts = await guest.asUser('db', ['podman', 'inspect', '--format', '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}', 'systemd-db'], { cwd: '/' });
    expect(mounts.stdout.trim()).toBe('systemd-db-data:/data');
    expect(await containerEnv('db')).toContain('DB_MODE=one');
  });

  it('a changed spec restarts its own service only (InvocationIDs)', async () => {
    const before = await invocationIds(['web', 'jobs', 'db']);
    const dbContainer = await containerId('db');
    repo['db.container'] = db('two');
    await guest.pushRepo(repo, { message: 'db: mode two' });
    const { run, pass, explain, item } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(item('db')).toMatchObject({ action: 'update', result: 'ok' });
    expect(item('web')).toMatchObject({ action: 'unchanged', result: 'ok' });
    expect(item('jobs')).toMatchObject({ action: 'unchanged', result: 'ok' });
    expect(pass!.generationState).toBe('complete');

    const after = await invocationIds(['web', 'jobs', 'db']);
    expect(after['db/db.service'], 'db.service restarted').not.toBe(before['db/db.service']);
    // The volume did not change: its unit is not started again.
    const { ['db/db.service']: _db, ...othersAfter } = after;
    const { ['db/db.service']: _dbBefore, ...othersBefore } = before;
    expect(othersAfter).toEqual(othersBefore);
    expect(Object.values(after).every((id) => /^[0-9a-f]{32}$/.test(id)), JSON.stringify(after)).toBe(true);

    expect(await guest.readFile('/home/db/.config/containers/systemd/db.container')).toContain('Environment=DB_MODE=two');
    const newContainer = await containerId('db');
    expect(newContainer).not.toBe('');
    expect(newContainer).not.toBe(dbContainer);
    expect(await containerEnv('db')).toContain('DB_MODE=two');
    await expectActive('db');
  });

  it('a container that cannot start fails alone: exit 1, status and journalctl -p err name it', async () => {
    repo['broken.container'] = container('cannot start', [], ['Restart=no']).replace(`Exec=${BUSYBOX_SERVE_FOREVER}`, 'Exec=/no/such/binary');
    await guest.pushRepo(repo, { message: 'broken: its binary does not exist' });
    // The pass runs as the shipped moor-reconcile.service (what moor-reconcile.timer starts):
    // a system service whose lines go to the journal with their priority.
    const unit = 'moor-reconcile.service';
    const cursor = await guest.journalCursor();
    const start = await guest.exec(['systemctl', 'start', unit], { timeoutMs: 600_000 });
    const journal = await journalOf(unit, undefined, cursor);
    const result = await guest.run(['systemctl', 'show', unit, '-p', 'ExecMainStatus', '-p', 'Result']);
    const why = `${describeExec(start)}\n${result.stdout}--- journalctl -u ${unit} ---\n${journal}`;
    expect(result.stdout.split('\n').sort().join(' ').trim(), why).toBe('ExecMainStatus=1 Result=exit-code');
    expect(start.code, why).not.toBe(0);

    for (const user of ['web', 'jobs', 'db']) await expectActive(user);
    expect(await activeState('broken', 'broken.service')).not.toBe('active');

    const failureLine = /^broken: create failed .*error=.*broken\.service failed \(Result=exit-code\)/m;
    // journald takes a service's output in its own time, even after the service ended.
    const errors = await journalUntil(() => journalOf(unit, 'err', cursor, true), failureLine);
    expect(errors, `journalctl -u ${unit} -p err; the whole unit's journal:\n${await journalOf(unit, undefined, cursor)}`).toMatch(failureLine);
    // Nothing else moor wrote in that pass is an error, but the pass's own end: partial, it says so at error priority.
    expect(errors.trim().split('\n').filter((l) => !l.startsWith('broken:') && !/^pass ended with exit 1: .* 1 failed \(broken\)/.test(l))).toEqual([]);

    const status = await moorJson<StatusJson>(['status'], 1);
    const row = status.workloads.find((w) => w.workload === 'broken');
    expect(row, JSON.stringify(status, null, 2)).toMatchObject({ user: 'broken', action: 'create', result: 'failed' });
    expect(row!.error).toContain('broken.service failed');
    expect(status.workloads.filter((w) => w.workload !== 'broken').map((w) => [w.workload, w.result])).toEqual([
      ['db', 'ok'],
      ['jobs', 'ok'],
      ['web', 'ok'],
    ]);
    expect(status.latest?.state).toBe('failed');
    expect(status.lastPass?.exitCode).toBe(1);
    const text = await guest.moor(['status']);
    expect(text.code, describeExec(text)).toBe(1);
    expect(text.stdout).toMatch(/is FAILED/);
    expect(text.stdout).toMatch(/^broken +broken +\d+ +- +create +failed +never +broken\.service failed/m);
  });

  it('a pass with no HOME in its environment (as systemd starts a system service) fetches the local bare repo', async () => {
    // systemd-run sets no HOME, as for any system service without User=. Expected: the same
    // partial apply as above (broken fails again), exit 1.
    const { run, unit } = await reconcileUnderSystemd();
    const journal = await journalUntil(() => journalOf(unit), /Deactivated successfully|Failed with result/);
    expect(run.code, `exit ${run.code} of \`systemd-run ... node moor.mjs reconcile --once\` with no HOME; journalctl -u ${unit}:\n${journal}`).toBe(1);
    expect(journal).not.toMatch(/SourceError/);
  });

  it('a workload removed from the repo: services stopped, linger off, user, home and manager gone', async () => {
    const uid = await guest.uid('web');
    const brokenUid = await guest.uid('broken');
    const before = await invocationIds(['jobs', 'db']);
    const cursor = await guest.journalCursor();
    // Removal deletes the user's journal files with the user: follow web.service's journal
    // while the pass runs, into a file of root's.
    const follow = '/root/web-service-journal.txt';
    await guest.run(['sh', '-c', `journalctl --no-pager -o cat -f --after-cursor="$1" _UID=${uid} USER_UNIT=web.service > ${follow} 2>&1 & echo $! > ${follow}.pid`, 'sh', cursor ?? '']);
    delete repo['web.container'];
    delete repo['broken.container'];
    await guest.pushRepo(repo, { message: 'web and broken go' });
    const { run, explain, item } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(item('web')).toMatchObject({ action: 'remove', result: 'ok', uid });
    expect(item('broken')).toMatchObject({ action: 'remove', result: 'ok' });

    // Its service was stopped by its manager before the user went (not killed with the
    // user's other processes). The follower may lose the last lines when the journal file
    // goes: the manager starting the stop is the evidence; no process left (below) the end.
    const stopped = await journalUntil(async () => guest.readFile(follow), /^Stopp(ing|ed) web\.service/m);
    await guest.run(['sh', '-c', `kill "$(cat ${follow}.pid)"`]);
    expect(stopped, `the journal of web.service (uid ${uid}) during the pass`).toMatch(/^Stopp(ing|ed) web\.service/m);
    // Removal deleted the user's journal files with the user.
    expect((await guest.exec(['sh', '-c', `ls /var/log/journal/*/user-${uid}*.journal /run/log/journal/*/user-${uid}*.journal 2>/dev/null`])).stdout.trim()).toBe('');
    await expectUserGone('web', uid);
    await expectUserGone('broken', brokenUid);
    expect((await guest.exec(['loginctl', 'show-user', 'web'])).code, 'logind still knows web').not.toBe(0);
    guest.forgetUsers();

    expect(await invocationIds(['jobs', 'db'])).toEqual(before);
    expect(await markedUsers()).toEqual(['db', 'jobs']);
  });

  it('users moor did not make stay untouched: a same-named user fails its workload, a hand-made group member is ignored', async () => {
    repo[`${SQUATTER}.container`] = container('wants an existing user');
    await guest.pushRepo(repo, { message: 'a workload named like an existing user' });
    for (let i = 0; i < 2; i++) {
      const { run, explain, item } = await reconcile();
      expect(run.code, await explain()).toBe(1);
      expect(item(SQUATTER)).toMatchObject({ action: 'create', result: 'failed' });
      expect(item(SQUATTER)!.error).toBe(
        `user ${SQUATTER} already exists and was not created by moor (it is not in moor's ownership registry); moor adopts no existing user: rename the workload or remove the user`,
      );
      expect(item('db')).toMatchObject({ action: 'unchanged', result: 'ok' });
      expect(item('jobs')).toMatchObject({ action: 'unchanged', result: 'ok' });
    }
    expect(await userFacts(SQUATTER)).toEqual(handmadeBefore[SQUATTER]);
    expect(await userFacts(HANDMADE)).toEqual(handmadeBefore[HANDMADE]);
    // moor wrote nothing into the existing home.
    expect((await guest.exec(['test', '-e', `/home/${SQUATTER}/.config/containers/systemd`])).code).not.toBe(0);

    delete repo[`${SQUATTER}.container`];
    await guest.pushRepo(repo, { message: 'the conflicting workload goes' });
    const { run, explain, item } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(item(SQUATTER)).toBeUndefined();
    expect(await userFacts(SQUATTER)).toEqual(handmadeBefore[SQUATTER]);
    expect(await userFacts(HANDMADE)).toEqual(handmadeBefore[HANDMADE]);
    expect((await guest.run(['getent', 'group', 'moor-managed'])).stdout.trim().split(':')[3]!.split(',').sort()).toEqual(['db', 'handmade', 'jobs']);
  });

  it('after the conflicting workload left the repo, moor status reports no failure', async () => {
    const status = await moorJson<StatusJson>(['status']);
    expect(status.lastPass?.exitCode).toBe(0);
    const failed = status.workloads.filter((w) => w.result === 'failed');
    expect(failed, `moor status --json after a pass that exited 0 with "${status.lastPass?.summary}":\n${JSON.stringify(status, null, 2)}`).toEqual([]);
  });

  it('two concurrent passes: one applies, the other exits 3 naming the holder', async () => {
    // The first pass is slow for certain: its new workload's start sleeps 3 s
    // (ExecStartPre), and the second starts only once that start is under way.
    repo['slow.container'] = container('slow to start', [], ['ExecStartPre=/bin/sleep 3']);
    await guest.pushRepo(repo, { message: 'slow: a 3 s start' });
    const first = reconcileInBackground();
    await untilActivating('slow', 'slow.service');
    const holder = await lockHolderPid();
    expect(holder, `${LOCK} names no holder`).toBeDefined();

    const second = await guest.moor(['reconcile', '--once']);
    expect(second.code, describeExec(second)).toBe(3);
    expect(second.stderr).toContain(`another moor pass holds ${LOCK} (pid ${holder} (moor.mjs reconcile --once --json)`);
    expect(second.stdout).toBe('');

    const { run, explain, item } = await first.done;
    expect(run.code, await explain()).toBe(0);
    expect(item('slow')).toMatchObject({ action: 'create', result: 'ok' });
    await expectActive('slow');
    // The lock is free again: a pass now runs (and has nothing to do).
    const again = await reconcile();
    expect(again.run.code, await again.explain()).toBe(0);
    expect(again.pass!.generation).toBeUndefined();
  });

  it('SIGKILL in the middle of applying: the next pass converges', async () => {
    const before = (await moorJson<{ generations: GenerationRow[] }>(['generations'])).generations;
    repo['late.container'] = container('killed while it starts', [], ['ExecStartPre=/bin/sleep 4']);
    await guest.pushRepo(repo, { message: 'late: a 4 s start' });
    const killed = reconcileInBackground();
    // late's user, linger, files and start are done; moor waits for the start job.
    await untilActivating('late', 'late.service');
    const pid = await lockHolderPid();
    expect(pid).toBeDefined();
    await guest.run(['kill', '-KILL', String(pid)]);
    const { run } = await killed.done;
    expect(run.code, describeExec(run)).not.toBe(0);

    const gens = (await moorJson<{ generations: GenerationRow[] }>(['generations'])).generations;
    const interrupted = gens.find((g) => !before.some((b) => b.generation === g.generation));
    expect(interrupted, JSON.stringify(gens, null, 2)).toMatchObject({ state: 'in-progress', current: false });
    expect((await guest.exec(['test', '-e', `${generationDir(interrupted!.generation)}/complete`])).code, 'the killed generation is marked complete').not.toBe(0);
    expect(gens.find((g) => g.current)!.generation).toBe(before.find((g) => g.current)!.generation);

    const next = await reconcile();
    expect(next.run.code, await next.explain()).toBe(0);
    expect(next.run.stderr).toContain(`marked generations of interrupted passes as aborted generations=[${interrupted!.generation}]`);
    expect(next.item('late')).toMatchObject({ action: 'create', result: 'ok' });
    expect(next.pass!.generationState).toBe('complete');

    for (const user of ['db', 'jobs', 'slow', 'late']) await expectActive(user);
    expect(await markedUsers()).toEqual(['db', 'jobs', 'late', 'slow']);
    const after = (await moorJson<{ generations: GenerationRow[] }>(['generations'])).generations;
    // Aborted generations are garbage: it is gone, or says aborted; never complete.
    const was = after.find((g) => g.generation === interrupted!.generation);
    if (was) expect(was.state).toBe('aborted');
    expect((await guest.exec(['test', '-e', `${generationDir(interrupted!.generation)}/complete`])).code).not.toBe(0);
    expect(after.find((g) => g.current)).toMatchObject({ generation: next.pass!.generation, state: 'complete' });
  });

  it('a user created by a killed pass whose workload then leaves the repo is removed', async () => {
    repo['gone.container'] = container('killed, then dropped', [], ['ExecStartPre=/bin/sleep 4']);
    await guest.pushRepo(repo, { message: 'gone: a 4 s start' });
    const killed = reconcileInBackground();
    await untilActivating('gone', 'gone.service');
    const uid = await guest.uid('gone');
    await guest.run(['kill', '-KILL', String(await lockHolderPid())]);
    expect((await killed.done).run.code).not.toBe(0);

    delete repo['gone.container'];
    await guest.pushRepo(repo, { message: 'gone goes before it ever applied' });
    const { run, explain, item } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(item('gone')).toMatchObject({ action: 'remove', result: 'ok', uid });
    await expectUserGone('gone', uid);
    guest.forgetUsers();
    expect(await markedUsers()).toEqual(['db', 'jobs', 'late', 'slow']);
    for (const user of ['db', 'jobs', 'slow', 'late']) await expectActive(user);
  });

  it('rollback to the previous generation brings the earlier spec back, pinned until resume', async () => {
    const unitFile = '/home/db/.config/containers/systemd/db.container';
    repo['db.container'] = db('three');
    await guest.pushRepo(repo, { message: 'db: mode three' });
    const three = await reconcile();
    expect(three.run.code, await three.explain()).toBe(0);
    expect(await containerEnv('db')).toContain('DB_MODE=three');

    const gens = (await moorJson<{ generations: GenerationRow[] }>(['generations'])).generations;
    const complete = gens.filter((g) => g.state === 'complete');
    const current = complete.at(-1)!;
    expect(current).toMatchObject({ generation: three.pass!.generation, current: true });
    const previous = complete.at(-2)!;

    const others = await invocationIds(['jobs', 'slow', 'late']);
    const rollback = await guest.moor(['rollback', String(previous.generation), '--json']);
    expect(rollback.code, describeExec(rollback)).toBe(0);
    const rolled = JSON.parse(rollback.stdout) as PassJson & { kind: string };
    expect(rolled.kind).toBe('rollback');
    expect(rolled.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'update', result: 'ok' });
    expect(await guest.readFile(unitFile)).toContain('Environment=DB_MODE=two');
    const env = await containerEnv('db');
    expect(env).toContain('DB_MODE=two');
    expect(env).not.toContain('DB_MODE=three');
    await expectActive('db');
    expect(await invocationIds(['jobs', 'slow', 'late'])).toEqual(others);

    const status = await moorJson<StatusJson>(['status']);
    expect(status.pinned?.generation).toBe(previous.generation);
    expect(status.live?.kind).toBe('rollback');
    expect((await guest.run([GUEST_NODE, GUEST_MOOR, 'status'])).stdout).toContain(`PINNED to generation ${previous.generation}`);
    const afterRollback = (await moorJson<{ generations: GenerationRow[] }>(['generations'])).generations;
    expect(afterRollback.find((g) => g.current)).toMatchObject({ kind: 'rollback', rollbackOf: previous.generation, state: 'complete' });
    expect(afterRollback.find((g) => g.generation === previous.generation)!.pinned).toBe(true);

    // A push while pinned changes nothing.
    repo['db.container'] = db('four');
    await guest.pushRepo(repo, { message: 'db: mode four' });
    const dbContainer = await containerId('db');
    const pinned = await reconcile();
    expect(pinned.run.code, await pinned.explain()).toBe(0);
    expect(pinned.item('db')).toMatchObject({ action: 'unchanged', result: 'ok' });
    expect(pinned.pass!.summary).toContain('pinned until moor resume');
    expect(await guest.readFile(unitFile)).toContain('Environment=DB_MODE=two');
    expect(await containerId('db')).toBe(dbContainer);

    // resume ends the pin and runs the pass that follows the repository.
    const resume = await guest.moor(['resume']);
    expect(resume.code, describeExec(resume)).toBe(0);
    expect(resume.stdout).toContain(`unpinned generation ${previous.generation}: running a pass that follows the repo again`);
    expect(await guest.readFile(unitFile)).toContain('Environment=DB_MODE=four');
    expect(await containerEnv('db')).toContain('DB_MODE=four');
    const unpinned = await moorJson<StatusJson>(['status']);
    expect(unpinned.pinned).toBeUndefined();
    expect(unpinned.live).toMatchObject({ kind: 'pass', generation: afterRollback.at(-1)!.generation + 1 });
    const follows = await reconcile();
    expect(follows.run.code, await follows.explain()).toBe(0);
    expect(follows.item('db')).toMatchObject({ action: 'unchanged', result: 'ok' });
  });
});

describe('the shipped example repo with the shipped transforms (scripts/demo)', () => {
  let example: Guest;
  const workTree = `${GUEST_BARE_REPO.replace(/\.git$/, '')}-work`;

  beforeAll(async () => {
    example = await bootGuest();
    await example.writeFile('/etc/moor/config.toml', GUEST_MOOR_CONFIG);
    // transforms/ as shipped, the guest-only lines appended to its _base.container.
    await example.installTransforms(join(REPO_ROOT, 'transforms'));
    await example.initBareRepo(GUEST_BARE_REPO);
    await example.pushRepo(readHostTree(join(REPO_ROOT, 'examples', 'repo')), { message: 'the example desired state', workTree });
  });

  afterAll(async () => {
    // Its containers' shells ignore SIGTERM: no point waiting out their stop timeouts.
    await example?.shutdown(3_000);
  });

  it('checks, applies and runs: web with its volume, data file and timer; api with its group transform; hello from its YAML', async () => {
    const check = await example.moor(['check', workTree, '--transforms', '/etc/moor/transforms']);
    expect(check.code, describeExec(check)).toBe(0);
    const run = await example.moor(['reconcile', '--once', '--json']);
    expect(run.code, `${describeExec(run)}\n${await example.journal({ lines: 80 })}`).toBe(0);
    const pass = JSON.parse(run.stdout) as PassJson;
    expect(pass.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'create', 'ok'],
      ['hello', 'create', 'ok'],
      ['web', 'create', 'ok'],
    ]);
    // hello.kube played hello.yaml, deployed beside it: the pod and its container run.
    expect((await example.systemctlUser('hello', ['is-active', 'hello.service'])).stdout.trim()).toBe('active');
    const pods = await example.asUser('hello', ['podman', 'pod', 'ps', '--format', '{{.Name}} {{.Status}}'], { cwd: '/' });
    expect(pods.stdout.trim(), describeExec(pods)).toBe('hello Running');
    const greeter = await example.asUser('hello', ['podman', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', 'hello-greeter'], { cwd: '/' });
    expect(greeter.stdout, describeExec(greeter)).toContain('GREETING=hello from a pod');

    for (const [user, units] of Object.entries({ web: ['web.service', 'web-data-volume.service', 'web-nightly.timer'], api: ['api.service'] })) {
      expect((await example.run(['getent', 'passwd', user])).stdout.split(':')[4]).toBe('moor-managed');
      expect((await example.run(['loginctl', 'show-user', user, '-p', 'Linger', '--value'])).stdout.trim()).toBe('yes');
      for (const unit of units) expect((await example.systemctlUser(user, ['is-active', unit])).stdout.trim(), `${unit} of ${user}`).toBe('active');
      const ps = await example.asUser(user, ['podman', 'ps', '--format', '{{.Names}} {{.Image}}'], { cwd: '/' });
      expect(ps.stdout.trim(), describeExec(ps)).toBe(`systemd-${user} ${BUSYBOX_IMAGE}`);
      // LogDriver=journald (the base transform): the container's output is in the journal.
      await eventually(`${user}'s container to log`, async () => {
        const logs = await example.asUser(user, ['podman', 'logs', `systemd-${user}`], { cwd: '/' });
        return logs.stdout.includes(`${user} alive`) ? true : undefined;
      }, 15_000);
    }
    expect((await example.systemctlUser('web', ['is-enabled', 'web-nightly.timer'])).stdout.trim()).toBe('enabled');

    const env = async (user: string) =>
      (await example.asUser(user, ['podman', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', `systemd-${user}`], { cwd: '/' })).stdout;
    // web.env reached the container through ~/.config/moor/files/.
    expect(await env('web')).toContain('GREETING=hello from moor');
    const apiEnv = await env('api');
    for (const line of ['DEPLOYED_BY=moor', 'WORKLOAD_HOME=/home/api', 'MODE=production', 'API_TOKEN_FILE=/run/secrets/api-token']) expect(apiEnv).toContain(line);
    // apps.container forced Pull=never over the spec's Pull=always, and removed PublishPort.
    const apiUnit = await example.readFile('/home/api/.config/containers/systemd/api.container');
    expect(apiUnit).toMatch(/^Pull=never$/m);
    expect(apiUnit).not.toMatch(/PublishPort|Pull=always/);
    const mounts = await example.asUser('web', ['podman', 'inspect', '--format', '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}', 'systemd-web'], { cwd: '/' });
    expect(mounts.stdout.trim()).toBe('systemd-web-data:/data');
  });
});
