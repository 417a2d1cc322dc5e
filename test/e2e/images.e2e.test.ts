// An image reaching a host without a registry: root saves an image to an archive only root
// can read, `moor load-image` loads it into an applied workload's own image store (podman
// load as the user, in a scope of its slice), the workload's next spec runs it, and no
// process of the user is left outside its own manager. A workload that is not applied is
// refused (exit 2), naming it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, BUSYBOX_TAR, describeExec, leftoverGuests, type Guest, bootMoorGuest } from './guest';

const WORKLOAD = 'offline';
const IMAGE = 'localhost/offline-image:1';
const ARCHIVE = '/root/offline-image.tar';

function spec(image: string): string {
  return `[Container]
Image=${image}
Pull=never
Exec=${BUSYBOX_SERVE_FOREVER}

[Install]
WantedBy=default.target
`;
}

let guest: Guest;

beforeAll(async () => {
  guest = await bootMoorGuest();
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

async function reconcile() {
  const run = await guest.moor(['reconcile', '--once', '--json']);
  const pass = JSON.parse(run.stdout || '{}') as { exitCode?: number; items?: Array<{ workload: string; result: string; error?: string }> };
  return { run, item: pass.items?.find((i) => i.workload === WORKLOAD) };
}

/** Every process of the uid, with its cgroup. */
async function processesOf(uid: number): Promise<{ pid: string; cgroup: string; args: string }[]> {
  const ps = await guest.run(['ps', '-e', '-o', 'pid=', '-o', 'ruid=', '-o', 'args=']);
  const out: { pid: string; cgroup: string; args: string }[] = [];
  for (const line of ps.stdout.split('\n')) {
    const [pid, ruid, ...args] = line.trim().split(/\s+/);
    if (!pid || Number(ruid) !== uid) continue;
    const cgroup = (await guest.exec(['cat', `/proc/${pid}/cgroup`])).stdout.trim();
    if (cgroup) out.push({ pid, cgroup, args: args.join(' ') });
  }
  return out;
}

describe('moor load-image in a real guest', () => {
  let uid: number;

  it('a workload on the shared test image is applied', async () => {
    await guest.pushRepo({ [`${WORKLOAD}.container`]: spec(BUSYBOX_IMAGE) }, { message: 'offline on busybox' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item).toMatchObject({ result: 'ok' });
    uid = await guest.uid(WORKLOAD);
  });

  it('refuses a workload that is not applied, naming it (exit 2)', async () => {
    await guest.run(['sh', '-c', `podman import --quiet --change CMD=/bin/sh ${BUSYBOX_TAR} ${IMAGE} >/dev/null && podman save --quiet -o ${ARCHIVE} ${IMAGE} && chmod 0600 ${ARCHIVE}`]);
    const r = await guest.moor(['load-image', 'nosuch', ARCHIVE]);
    expect(r.code, describeExec(r)).toBe(2);
    expect(r.stderr).toContain('workload nosuch is not applied on this host');
  });

  it("loads root's archive into the workload's image store as its user, leaving nothing outside its manager", async () => {
    expect((await guest.exec(['podman', 'image', 'exists', IMAGE], { user: WORKLOAD, cwd: '/' })).code, 'not in the user store before').not.toBe(0);
    const started = Date.now();
    const r = await guest.moor(['load-image', WORKLOAD, ARCHIVE, '--json']);
    console.log(`moor load-image of a ${(await guest.run(['stat', '-c', '%s', ARCHIVE])).stdout.trim()}-byte archive: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(r.code, describeExec(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ workload: WORKLOAD, user: WORKLOAD, uid, images: [IMAGE] });

    // Every process of the user is in its own manager's tree: podman load's scope is gone.
    const procs = await processesOf(uid);
    expect(procs.length).toBeGreaterThan(0);
    const outside = procs.filter((p) => !p.cgroup.split('\n').some((l) => l.startsWith(`0::/user.slice/user-${uid}.slice/user@${uid}.service/`)));
    expect(outside, JSON.stringify(procs, null, 2)).toEqual([]);

    const exists = await guest.exec(['podman', 'image', 'exists', IMAGE], { user: WORKLOAD, cwd: '/' });
    expect(exists.code, describeExec(exists)).toBe(0);
  });

  it('the next spec runs the loaded image with Pull=never', async () => {
    await guest.pushRepo({ [`${WORKLOAD}.container`]: spec(IMAGE) }, { message: 'offline on the loaded image' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item).toMatchObject({ result: 'ok' });
    const image = await guest.exec(['podman', 'inspect', `systemd-${WORKLOAD}`, '--format', '{{.ImageName}}'], { user: WORKLOAD, cwd: '/' });
    expect(image.stdout.trim(), describeExec(image)).toBe(IMAGE);
  });
});
