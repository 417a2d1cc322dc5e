// A removal ends every process of the uid and its subordinate range, wherever it runs,
// archives the home first (or purges it), deletes what the uid and its range own outside
// the home, and refuses early when the range is not the user's alone (docs/design.md §5, §6).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
afterEach(() => h.cleanup());

const specs = (names: readonly string[]) => Object.fromEntries(names.map((n) => [`${n}.container`, containerSpec(`localhost/${n}:1`)]));

/** alpha and web deployed; returns web's uid and subordinate range. */
async function deployWeb(config = {}) {
  h = new PassHarness({ config });
  h.commit(specs(['alpha', 'web']));
  expect((await h.pass()).result.exitCode).toBe(0);
  const uid = h.fake.passwd.get('web')!.uid;
  const range = h.fake.subuidRange('web')!;
  return { uid, start: range.start, count: range.count };
}

async function removeWeb() {
  h.commit(specs(['alpha']), 'web goes');
  return h.pass();
}

const item = (run: Awaited<ReturnType<typeof removeWeb>>, workload = 'web') => run.result.items.find((i) => i.workload === workload)!;

describe('a removal ends every process of the user', () => {
  it('kills processes outside the user manager (runuser, a pause process, a setuid program, a container of the range): userdel succeeds', async () => {
    const { uid, start } = await deployWeb();
    const runuser = h.fake.spawn(uid); // runuser -u web -- sleep 1000, in root's session
    const pause = h.fake.spawn(uid); // podman's pause process from `runuser -u web podman ps`
    const setuid = h.fake.spawn(0, { euid: uid }); // root ran web's setuid copy of a shell
    const container = h.fake.spawn(start + 999); // a container process of the range
    const inSlice = h.fake.spawn(uid, { inSlice: true });
    const other = h.fake.spawn(h.fake.passwd.get('alpha')!.uid);
    const run = await removeWeb();
    expect(item(run), item(run).error).toMatchObject({ action: 'remove', result: 'ok' });
    for (const pid of [runuser, pause, setuid, container, inSlice]) expect(h.fake.processes.has(pid), `pid ${pid}`).toBe(false);
    expect(h.fake.processes.has(other)).toBe(true);
    expect(h.fake.passwd.has('web')).toBe(false);
    // The slice went first (its processes end cleanly), then the kill, then userdel.
    const calls = run.calls;
    expect(calls.indexOf(`systemctl stop user-${uid}.slice`)).toBeLessThan(calls.findIndex((c) => c.startsWith('kill -s KILL')));
    const kill = calls.find((c) => c.startsWith('kill -s KILL'))!;
    expect(kill.split(' -- ')[1]!.split(' ').map(Number).sort()).toEqual([runuser, pause, setuid, container].sort());
    expect(calls.findIndex((c) => c.startsWith('kill -s KILL'))).toBeLessThan(calls.indexOf('userdel --remove web'));
    expect(h.logs.some((l) => l.includes('killed 4 process(es) of web running outside its user manager'))).toBe(true);
  });
});

describe('a removal deletes what the uid and its range own outside the home', () => {
  it('temp dirs, /dev/shm, the crontab and the journal files go; nothing of anyone else is touched', async () => {
    const { uid, start, count } = await deployWeb();
    const alpha = h.fake.passwd.get('alpha')!.uid;
    const mine = {
      '/tmp/web-cache': { uid },
      '/tmp/web-dir': { uid, dir: true },
      '/tmp/web-dir/inner': { uid },
      '/var/tmp/sh': { uid }, // a setuid copy of a shell
      '/dev/shm/podman-lock': { uid: start },
      '/dev/shm/last-of-range': { uid: start + count - 1 },
      '/var/spool/cron/crontabs/web': { uid },
      '/var/spool/cron/atjobs/a0001': { uid },
      [`/var/log/journal/m1/user-${uid}.journal`]: { uid: 0 },
      [`/var/log/journal/m1/user-${uid}@0001-0002.journal`]: { uid: 0 },
    };
    const others = {
      '/tmp/root-file': { uid: 0 },
      '/tmp/alpha-file': { uid: alpha },
      '/dev/shm/below-range': { uid: start - 1 },
      '/dev/shm/above-range': { uid: start + count },
      [`/var/log/journal/m1/user-${uid}0.journal`]: { uid: 0 },
      [`/var/log/journal/m1/user-${alpha}.journal`]: { uid: 0 },
      '/var/log/journal/m1/system.journal': { uid: 0 },
      '/home/elsewhere/file': { uid },
    };
    for (const [path, f] of Object.entries({ ...mine, ...others })) h.fake.hostFiles.set(path, f);
    const run = await removeWeb();
    expect(item(run), item(run).error).toMatchObject({ result: 'ok' });
    expect([...h.fake.hostFiles.keys()].sort()).toEqual(Object.keys(others).sort());
  });

  it('a directory of the user holding a file of someone else fails the removal loudly, and the next pass finishes once it is gone', async () => {
    const { uid } = await deployWeb();
    h.fake.hostFiles.set('/tmp/web-dir', { uid, dir: true });
    h.fake.hostFiles.set('/tmp/web-dir/root-owned', { uid: 0 });
    const run = await removeWeb();
    expect(item(run)).toMatchObject({ result: 'failed' });
    expect(item(run).error).toContain('files of user web (uid');
    expect(item(run).error).toContain('/tmp/web-dir');
    expect(h.fake.hostFiles.has('/tmp/web-dir/root-owned')).toBe(true);
    expect(h.fake.passwd.has('web')).toBe(true);
    expect(await (await h.openStore()).ownedUsers.isOwned('web')).toBe(true);
    h.fake.hostFiles.delete('/tmp/web-dir/root-owned');
    const next = await h.pass();
    expect(item(next)).toMatchObject({ action: 'remove', result: 'ok' });
    expect(h.fake.hostFiles.size).toBe(0);
    expect(h.fake.passwd.has('web')).toBe(false);
  });
});

describe('a removal keeps the home unless told otherwise', () => {
  it('archives the home (0600 in a 0700 dir), ids recorded as inside the user namespace, before anything is deleted', async () => {
    const { uid, start } = await deployWeb();
    const run = await removeWeb();
    expect(item(run)).toMatchObject({ result: 'ok' });
    const dir = join(h.stateDir, 'archives');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const names = readdirSync(dir);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(new RegExp(`^web-${uid}-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
    expect(statSync(join(dir, names[0]!)).mode & 0o777).toBe(0o600);
    const archive = JSON.parse(readFileSync(join(dir, names[0]!), 'utf8')) as { home: string; ownerMap: string[]; files: Record<string, unknown> };
    expect(archive.home).toBe('/home/web');
    expect(archive.ownerMap).toEqual([`+${uid} +0`, `+${start} +1`]);
    expect(Object.keys(archive.files)).toContain('.config/containers/systemd/web.container');
    const tar = run.calls.findIndex((c) => c.startsWith('tar --create'));
    expect(tar).toBeGreaterThan(run.calls.findIndex((c) => c.startsWith('ps -e')));
    expect(tar).toBeLessThan(run.calls.findIndex((c) => c.startsWith('find ')));
    expect(h.logs.some((l) => l.includes('home of web archived to'))).toBe(true);
  });

  it('an archive that fails fails the removal, and nothing is deleted', async () => {
    const { uid } = await deployWeb();
    h.fake.hostFiles.set('/tmp/web-cache', { uid });
    h.fake.archiveFailure = 'No space left on device';
    const run = await removeWeb();
    expect(item(run)).toMatchObject({ action: 'remove', result: 'failed' });
    expect(item(run).error).toContain('archiving the home /home/web failed');
    expect(item(run).error).toContain('No space left on device');
    expect(item(run).error).toContain('removal.home = "purge"');
    expect(run.calls.filter((c) => c.startsWith('find ') || c.startsWith('userdel'))).toEqual([]);
    expect(h.fake.passwd.has('web')).toBe(true);
    expect(h.fake.userFiles('web').size).toBeGreaterThan(0);
    expect(h.fake.hostFiles.has('/tmp/web-cache')).toBe(true);
    expect(readdirSync(join(h.stateDir, 'archives'))).toEqual([]);
    h.fake.archiveFailure = undefined;
    expect(item(await h.pass())).toMatchObject({ action: 'remove', result: 'ok' });
    expect(readdirSync(join(h.stateDir, 'archives'))).toHaveLength(1);
  });

  it('removal.home = "purge" deletes the home with the user and makes no archive', async () => {
    await deployWeb({ removal: { home: 'purge' } });
    const run = await removeWeb();
    expect(item(run)).toMatchObject({ result: 'ok' });
    expect(run.calls.some((c) => c.startsWith('tar'))).toBe(false);
    expect(h.fake.files.has('web')).toBe(false);
    expect(readdirSync(join(h.stateDir, 'archives'))).toEqual([]);
  });
});

describe('a subordinate range that is not the user alone', () => {
  it('refuses the removal before anything is touched', async () => {
    const { start } = await deployWeb();
    h.fake.subuid += `intruder:${start + 10}:5\n`;
    const run = await removeWeb();
    expect(item(run)).toMatchObject({ result: 'failed' });
    expect(item(run).error).toContain('its subordinate ids are not its own');
    expect(item(run).error).toContain(`overlaps intruder's ${start + 10}+5`);
    expect(run.calls.filter((c) => c.includes('web') || c.startsWith('ps') || c.startsWith('kill'))).toEqual(['getent passwd web']);
    expect(h.fake.linger.has('web')).toBe(true);
  });
});

describe('restore', () => {
  it('unpacks the archive as the re-added user inside its namespace (podman unshare), the archive on stdin', async () => {
    await deployWeb();
    h.fake.files.get('web')!.set('.local/share/containers/storage/volumes/systemd-web-data/_data/kept', { content: 'data', mode: 0o644 });
    // Podman's database, which records the old uid's runtime dir.
    h.fake.files.get('web')!.set('.local/share/containers/storage/db.sql', { content: 'runroot=/run/user/old', mode: 0o644 });
    await removeWeb();
    const [name] = readdirSync(join(h.stateDir, 'archives'));
    h.commit(specs(['alpha', 'web']), 'web is back');
    expect((await h.pass()).result.exitCode).toBe(0);
    const web = h.fake.passwd.get('web')!;
    expect(h.fake.userFiles('web').has('.local/share/containers/storage/volumes/systemd-web-data/_data/kept')).toBe(false);
    const before = h.fake.calls.length;
    await h.host(h.fake).restoreHome({ user: 'web', uid: web.uid }, join(h.stateDir, 'archives', name!), web.home);
    expect(h.fake.userFiles('web').get('.local/share/containers/storage/volumes/systemd-web-data/_data/kept')?.content).toBe('data');
    expect(h.fake.callLines().slice(before)).toEqual([
      `systemd-run --scope --quiet --collect --slice=user-${web.uid}.slice --uid=web --setenv=XDG_RUNTIME_DIR=/run/user/${web.uid} --setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${web.uid}/bus -- podman unshare tar --extract --gzip --numeric-owner --same-owner --same-permissions --file=- --directory=/home/web`,
      `systemd-run --scope --quiet --collect --slice=user-${web.uid}.slice --uid=web --setenv=XDG_RUNTIME_DIR=/run/user/${web.uid} --setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${web.uid}/bus -- rm -f -- /home/web/.local/share/containers/storage/db.sql /home/web/.local/share/containers/storage/libpod/bolt_state.db`,
    ]);
    // The data is back; Podman's database of the old uid is not (it would refuse to start).
    expect(h.fake.userFiles('web').has('.local/share/containers/storage/db.sql')).toBe(false);
  });
});
