// A removal on a real host leaves nothing behind and keeps the data: processes of the
// workload's uid outside its user manager (started by root with runuser, a rootless Podman
// pause process from `runuser -u W podman ps`), files in /var/tmp and /dev/shm (a setuid
// copy of a shell among them), files of its subordinate range and its journal files all
// go; the volume's data comes back from the archive into the re-added workload, its old
// uid and range mapped to the new ones; purge mode keeps nothing.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, describeExec, eventually, type Guest, GUEST_MOOR_CONFIG, moorGuestForFile } from './guest';

const VOLUME_DATA = '/home/store/.local/share/containers/storage/volumes/systemd-store-data/_data';

// The container runs as uid 1000 inside (a uid of the subordinate range outside); `:U`
// gives it the volume. It writes its data once, then serves forever.
const store = `[Container]
Image=${BUSYBOX_IMAGE}
User=1000
Volume=store-data.volume:/data:U
Exec=/bin/sh -c 'echo kept > /data/kept; trap "exit 0" TERM; while true; do sleep 1; done'

[Install]
WantedBy=default.target
`;
const keep = `[Container]
Image=${BUSYBOX_IMAGE}
Exec=/bin/sh -c 'trap "exit 0" TERM; while true; do sleep 1; done'

[Install]
WantedBy=default.target
`;
const withStore = { 'keep.container': keep, 'store.container': store, 'store-data.volume': '[Volume]\n' };
const withoutStore = { 'keep.container': keep };

let guest: Guest;

moorGuestForFile((g) => (guest = g), { graceMs: 10_000 });

const reconcile = () => guest.reconcileJson();

async function subuidStart(user: string): Promise<number> {
  const line = (await guest.run(['grep', `^${user}:`, '/etc/subuid'])).stdout.trim();
  return Number(line.split(':')[1]);
}

/** Everything of the uid and of its range on every file system a user can write to. */
async function ownedFiles(uid: number, start: number): Promise<string> {
  const roots = ['/', '/tmp', '/var/tmp', '/dev/shm', '/run', '/home'];
  const r = await guest.exec(['find', ...roots, '-xdev', '(', '-uid', String(uid), '-o', '(', '-uid', `+${start - 1}`, '-uid', `-${start + 65536}`, ')', ')', '-print']);
  return r.stdout.trim();
}

async function processesOf(uid: number, start: number): Promise<string> {
  const ps = await guest.run(['ps', '-e', '-o', 'pid=', '-o', 'ruid=', '-o', 'euid=', '-o', 'args=']);
  return ps.stdout
    .split('\n')
    .filter((l) => {
      const [, r, e] = l.trim().split(/\s+/).map(Number);
      return [r, e].some((id) => id === uid || (id !== undefined && id >= start && id < start + 65536));
    })
    .join('\n');
}

describe('removing a workload in a real guest', () => {
  let uid: number;
  let start: number;

  it('a workload with a volume runs and writes its data as a uid of its range', async () => {
    await guest.pushRepo(withStore, { message: 'store and keep' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('store')).toMatchObject({ result: 'ok' });
    uid = await guest.uid('store');
    start = await subuidStart('store');
    const owner = await eventually('the container wrote its data', async () => {
      const r = await guest.exec(['stat', '-c', '%u', `${VOLUME_DATA}/kept`]);
      return r.code === 0 ? Number(r.stdout.trim()) : undefined;
    });
    expect(owner).toBe(start + 999);
  });

  it('removal kills what runs outside the manager and deletes what the uid and its range left, keeping the home in an archive', async () => {
    // Started by root, in root's own session: outside user-UID.slice.
    await guest.run(['sh', '-c', 'setsid -f runuser -u store -- sleep 1000 </dev/null >/dev/null 2>&1']);
    await guest.exec(['runuser', '-u', 'store', '--', 'env', `XDG_RUNTIME_DIR=/run/user/${uid}`, 'podman', 'ps'], { cwd: '/' });
    await guest.run(['runuser', '-u', 'store', '--', 'sh', '-c', 'echo x > /var/tmp/store-file; echo y > /dev/shm/store-shm; cp /bin/sh /var/tmp/store-sh; chmod 4755 /var/tmp/store-sh'], { cwd: '/' });
    await guest.run(['sh', '-c', `echo z > /dev/shm/range-file && chown ${start + 5}:${start + 5} /dev/shm/range-file`]);
    await guest.run(['runuser', '-u', 'store', '--', 'logger', 'a line in the journal of store'], { cwd: '/' });
    expect(await processesOf(uid, start), 'the test left no process of store').toMatch(/sleep 1000/);

    await guest.pushRepo(withoutStore, { message: 'store goes' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('store')).toMatchObject({ action: 'remove', result: 'ok' });

    expect((await guest.exec(['getent', 'passwd', 'store'])).code).toBe(2);
    expect(await processesOf(uid, start)).toBe('');
    expect(await ownedFiles(uid, start)).toBe('');
    const journals = await guest.exec(['find', '/var/log/journal', '/run/log/journal', '-name', `user-${uid}*`]);
    expect(journals.stdout.trim()).toBe('');
    expect((await guest.exec(['test', '-e', '/var/tmp/store-sh'])).code).not.toBe(0);
    guest.forgetUsers();
  });

  it('moor archives lists the home; restore into the re-added workload brings the volume data back under the new ids', async () => {
    const listed = await guest.moor(['archives', '--json']);
    expect(listed.code, describeExec(listed)).toBe(0);
    const list = (JSON.parse(listed.stdout) as { archives: Array<{ name: string; path: string; workload: string; uid: number; bytes: number }> }).archives;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ workload: 'store', uid });
    const mode = (await guest.run(['stat', '-c', '%a %U', list[0]!.path, '/var/lib/moor/archives'])).stdout.trim().split('\n');
    expect(mode).toEqual(['600 root', '700 root']);

    await guest.pushRepo(withStore, { message: 'store is back' });
    const back = await reconcile();
    expect(back.run.code, describeExec(back.run)).toBe(0);
    const newStart = await subuidStart('store');
    const restored = await guest.moor(['restore', list[0]!.name]);
    expect(restored.code, describeExec(restored)).toBe(0);
    expect((await guest.run(['cat', `${VOLUME_DATA}/kept`])).stdout.trim()).toBe('kept');
    expect(Number((await guest.run(['stat', '-c', '%u', `${VOLUME_DATA}/kept`])).stdout.trim())).toBe(newStart + 999);
    const after = await reconcile();
    expect(after.run.code, describeExec(after.run)).toBe(0);
    expect(after.item('store')).toMatchObject({ action: 'redeploy', result: 'ok' });
  });

  it('removal.home = "purge" keeps nothing', async () => {
    const uidNow = await guest.uid('store');
    const startNow = await subuidStart('store');
    await guest.writeFile('/etc/moor/config.toml', `${GUEST_MOOR_CONFIG}\n[removal]\nhome = "purge"\n`);
    await guest.pushRepo(withoutStore, { message: 'store goes for good' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('store')).toMatchObject({ action: 'remove', result: 'ok' });
    expect(await ownedFiles(uidNow, startNow)).toBe('');
    expect((await guest.exec(['test', '-e', '/home/store'])).code).not.toBe(0);
    const list = (JSON.parse((await guest.moor(['archives', '--json'])).stdout) as { archives: unknown[] }).archives;
    expect(list).toHaveLength(1); // only the first removal's
    guest.forgetUsers();
  });
});
