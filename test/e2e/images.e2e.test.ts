// Images reaching a host without a registry, both documented routes:
// - `moor load-image`: root saves an image to an archive only root can read; a workload
//   whose spec names it fails its first start (Pull=never, no such image) but has its user;
//   `moor load-image` loads the archive into that user's own store (podman load as the
//   user, in a scope of its slice), no process of the user is left outside its own
//   manager, and the next pass starts the workload on it. A workload moor has no user
//   for is refused (exit 2), naming it.
// - a Quadlet `.image` unit pulling `docker-archive:` from a world-readable file, with
//   `ImageTag=`: the first pass runs it, no command needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_SERVE_FOREVER, BUSYBOX_TAR, describeExec, leftoverGuests, type Guest, bootMoorGuest } from './guest';

const WORKLOAD = 'offline';
const IMAGE = 'localhost/offline-image:1';
const ARCHIVE = '/root/offline-image.tar';
const SHARED_ARCHIVE = '/srv/images/offline-image.tar';

function spec(image: string): string {
  return `[Container]
Image=${image}
Pull=never
Exec=${BUSYBOX_SERVE_FOREVER}

[Install]
WantedBy=default.target
`;
}

const imageUnit = `[Image]
Image=docker-archive:${SHARED_ARCHIVE}
ImageTag=${IMAGE}
`;

let guest: Guest;

beforeAll(async () => {
  guest = await bootMoorGuest();
  // Root's archive (0600) and a world-readable copy for the .image route.
  await guest.run(['sh', '-c', [
    `podman import --quiet --change CMD=/bin/sh ${BUSYBOX_TAR} ${IMAGE} >/dev/null`,
    `podman save --quiet -o ${ARCHIVE} ${IMAGE}`,
    `chmod 0600 ${ARCHIVE}`,
    `podman rmi --force ${IMAGE} >/dev/null`,
    `install -d -m 0755 /srv/images`,
    `install -m 0644 ${ARCHIVE} ${SHARED_ARCHIVE}`,
  ].join(' && ')]);
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

const reconcile = () => guest.reconcileJson();

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

async function imageOf(user: string): Promise<string> {
  const r = await guest.exec(['podman', 'inspect', `systemd-${user}`, '--format', '{{.ImageName}}'], { user, cwd: '/' });
  expect(r.code, describeExec(r)).toBe(0);
  return r.stdout.trim();
}

describe('moor load-image in a real guest', () => {
  let uid: number;

  it('refuses a workload moor has no user for, naming it (exit 2)', async () => {
    const r = await guest.moor(['load-image', WORKLOAD, ARCHIVE]);
    expect(r.code, describeExec(r)).toBe(2);
    expect(r.stderr).toContain(`workload ${WORKLOAD} is not applied on this host and moor created no user for it`);
  });

  it('a workload whose image is not on the host fails its first start, and has its user', async () => {
    await guest.pushRepo({ [`${WORKLOAD}.container`]: spec(IMAGE) }, { message: 'offline' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(1);
    expect(item(WORKLOAD)).toMatchObject({ action: 'create', result: 'failed' });
    uid = await guest.uid(WORKLOAD);
  });

  it("loads root's archive into the workload's image store as its user, leaving nothing outside its manager", async () => {
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

  it('the next pass starts the workload on the loaded image', async () => {
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item(WORKLOAD)).toMatchObject({ result: 'ok' });
    expect(await imageOf(WORKLOAD)).toBe(IMAGE);
  });
});

describe('a Quadlet .image unit pulling a docker-archive', () => {
  it('runs on the first pass, from a world-readable archive, under the name ImageTag= gives', async () => {
    await guest.pushRepo(
      { [`${WORKLOAD}.container`]: spec(IMAGE), 'archived.container': spec('archived.image'), 'archived.image': imageUnit },
      { message: 'archived via .image' },
    );
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('archived')).toMatchObject({ action: 'create', result: 'ok' });
    expect(await imageOf('archived')).toBe(IMAGE);
  });
});
