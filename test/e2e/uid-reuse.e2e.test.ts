// No uid or subordinate-id range is ever handed out twice (docs/design.md §5), against the real
// shadow-utils: a workload leaves a setuid copy of a shell in /var/tmp, is removed (userdel
// frees its uid and its /etc/subuid and /etc/subgid lines), and a workload added next must
// get neither its uid (which would own that shell) nor its range. The removed workload
// holds the highest uid, the one useradd alone would hand out next.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, type Guest, moorGuestForFile } from './guest';

const container = `[Container]
Image=${BUSYBOX_IMAGE}
Exec=${BUSYBOX_SERVE_FOREVER}

[Install]
WantedBy=default.target
`;
const repo = (names: readonly string[]) => Object.fromEntries(names.map((n) => [`${n}.container`, container]));
// Removal deletes what the uid owns in the places a workload can write to on every host
// (/tmp, /var/tmp, /dev/shm, the spools). A host may have others (a shared scratch
// directory of its own): there, only a uid that is never handed out again keeps the file
// from becoming the next workload's.
const SCRATCH = '/srv/scratch';
const LEFTOVER = `${SCRATCH}/leftover-shell`;

let guest: Guest;

moorGuestForFile((g) => (guest = g));

async function reconcile(): Promise<void> {
  const run = await guest.moor(['reconcile', '--once']);
  expect(run.code, `${describeExec(run)}\n${await guest.journal({ lines: 80 })}`).toBe(0);
}

/** The uid from `getent passwd`, or undefined when there is no such user. */
async function uidOf(user: string): Promise<number | undefined> {
  const r = await guest.exec(['getent', 'passwd', user]);
  return r.code === 0 ? Number(r.stdout.split(':')[2]) : undefined;
}

/** The user's line of /etc/subuid or /etc/subgid ("user:start:count"), or undefined. */
async function rangeOf(file: '/etc/subuid' | '/etc/subgid', user: string): Promise<string | undefined> {
  return (await guest.readFile(file)).split('\n').find((l) => l.startsWith(`${user}:`));
}

const span = (line: string) => {
  const [, start, count] = line.split(':').map(Number) as [number, number, number];
  return { start, end: start + count };
};

describe('a workload added after another was removed', () => {
  let victim: { uid: number; subuid: string; subgid: string };

  it('the first workloads get their own uid and range, chosen by moor', async () => {
    await guest.pushRepo(repo(['keep', 'spare', 'victim']), { message: 'three' });
    await reconcile();
    const uid = await uidOf('victim');
    const subuid = await rangeOf('/etc/subuid', 'victim');
    const subgid = await rangeOf('/etc/subgid', 'victim');
    expect(uid).toBeDefined();
    expect(subuid).toMatch(/^victim:\d+:65536$/);
    expect(subgid).toBe(subuid);
    victim = { uid: uid!, subuid: subuid!, subgid: subgid! };
    // Rootless Podman runs under the range moor added.
    expect((await guest.systemctlUser('victim', ['is-active', 'victim.service'])).stdout.trim()).toBe('active');
    const map = await guest.asUser('victim', ['podman', 'unshare', 'cat', '/proc/self/uid_map'], { cwd: '/' });
    expect(map.stdout, describeExec(map)).toContain(String(span(victim.subuid).start));
    // What a workload can leave behind: a setuid copy of a shell, owned by its uid.
    await guest.run(['install', '-d', '-m', '1777', SCRATCH]);
    await guest.run(['cp', '/bin/sh', LEFTOVER], { user: 'victim', cwd: '/' });
    await guest.run(['chmod', '4755', LEFTOVER], { user: 'victim', cwd: '/' });
  });

  it('removal frees the uid and the range on the host, and moor keeps a tombstone', async () => {
    await guest.pushRepo(repo(['keep', 'spare']), { message: 'victim leaves' });
    await reconcile();
    guest.forgetUsers();
    expect(await uidOf('victim')).toBeUndefined();
    expect(await rangeOf('/etc/subuid', 'victim')).toBeUndefined();
    expect(await rangeOf('/etc/subgid', 'victim')).toBeUndefined();
    // Outside the places removal cleans, the shell is still there, setuid, owned by the old uid.
    expect((await guest.run(['stat', '-c', '%u %A', LEFTOVER])).stdout.trim()).toBe(`${victim.uid} -rwsr-xr-x`);
    const registry = JSON.parse(await guest.readFile('/var/lib/moor/owned-users.json')) as {
      removed: Array<{ name: string; uid: number; subids: { start: number; count: number } }>;
    };
    expect(registry.removed).toMatchObject([{ name: 'victim', uid: victim.uid, subids: { start: span(victim.subuid).start, count: 65536 } }]);
  });

  it('the next workload gets a new uid and a range that does not overlap the removed one', async () => {
    await guest.pushRepo(repo(['keep', 'spare', 'new']), { message: 'new arrives' });
    await reconcile();
    const uid = await uidOf('new');
    expect(uid).toBeDefined();
    expect(uid).not.toBe(victim.uid);
    expect(uid!).toBeGreaterThan(victim.uid);
    const subuid = (await rangeOf('/etc/subuid', 'new'))!;
    expect(subuid).toMatch(/^new:\d+:65536$/);
    expect(await rangeOf('/etc/subgid', 'new')).toBe(subuid);
    expect(span(subuid).start).toBeGreaterThanOrEqual(span(victim.subuid).end);
    // The leftover shell belongs to no user: the new workload cannot run it as the old uid's owner.
    expect((await guest.exec(['getent', 'passwd', String(victim.uid)])).code).toBe(2);
    expect((await guest.run(['stat', '-c', '%U', LEFTOVER])).stdout.trim()).toBe('UNKNOWN');
    expect((await guest.systemctlUser('new', ['is-active', 'new.service'])).stdout.trim()).toBe('active');
  });
});
