// The guest itself, with no moor involved: systemd boots on the unified cgroup v2
// hierarchy, a rootless user gets a lingering user manager with a delegated cgroup subtree,
// a Quadlet container runs as that user with Quadlet's cgroup defaults, a plain timer fires.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, BUSYBOX_TAR, bootGuest, describeExec, eventually, leftoverGuests, type Guest } from './guest';

const USER = 'smoke';
let guest: Guest;
const timings: Record<string, string> = {};
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

beforeAll(async () => {
  guest = await bootGuest();
  const setup = inject('e2e');
  timings['guest tree'] = setup.treeBuilt ? `built in this run: ${secs(setup.treeBuildMs)}` : `cached (first build took ${secs(setup.treeBuildMs)})`;
  timings['boot (nspawn start → running)'] = secs(guest.timings.bootMs);
});

afterAll(async () => {
  await guest?.shutdown();
  if (guest) timings['shutdown'] = secs(guest.timings.shutdownMs ?? 0);
  console.log(`e2e smoke timings:\n${Object.entries(timings).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
  expect(await leftoverGuests()).toEqual([]);
});

describe('the systemd guest', () => {
  it('boots to a running system manager', async () => {
    const r = await guest.exec(['systemctl', 'is-system-running']);
    expect(r.stdout.trim(), describeExec(r)).toBe('running');
    expect((await guest.run(['systemctl', 'is-active', 'network-online.target'])).stdout.trim()).toBe('active');
    expect((await guest.run(['cat', '/proc/1/comm'])).stdout.trim()).toBe('systemd');
  });

  it('runs systemd on the unified cgroup v2 hierarchy, with the user bus installed', async () => {
    expect((await guest.run(['stat', '-fc', '%T', '/sys/fs/cgroup'])).stdout.trim()).toBe('cgroup2fs');
    expect((await guest.run(['cat', '/proc/1/cgroup'])).stdout).toMatch(/^0::\/init\.scope$/m);
    // dbus-user-session: every user manager gets a bus, which rootless Podman's systemd cgroup manager needs.
    expect((await guest.run(['systemctl', '--global', 'is-enabled', 'dbus.socket'])).stdout.trim()).toBe('static');
  });

  it('runs the host node binary', async () => {
    const r = await guest.run(['node', '--version']);
    expect(r.stdout.trim()).toBe(process.version);
  });

  it('gives a new user subordinate IDs, linger and a running user manager', async () => {
    await guest.run(['useradd', '-m', '-U', USER]);
    const uid = await guest.uid(USER);
    expect((await guest.run(['grep', `^${USER}:`, '/etc/subuid'])).stdout).toMatch(new RegExp(`^${USER}:\\d+:65536`));
    await guest.run(['loginctl', 'enable-linger', USER]);
    const started = Date.now();
    await guest.run(['systemctl', 'start', `user@${uid}.service`]);
    timings['user manager start'] = secs(Date.now() - started);
    expect((await guest.exec(['systemctl', 'is-active', `user@${uid}.service`])).stdout.trim()).toBe('active');
    expect((await guest.run(['loginctl', 'show-user', USER, '-p', 'Linger'])).stdout.trim()).toBe('Linger=yes');
    // The user's own scope answers through the manager's private socket.
    const running = await guest.systemctlUser(USER, ['is-system-running']);
    expect(['running', 'degraded'], describeExec(running)).toContain(running.stdout.trim());
    // The manager's cgroup subtree is delegated: owned by the user, with its app.slice.
    const managerCgroup = `/sys/fs/cgroup/user.slice/user-${uid}.slice/user@${uid}.service`;
    expect((await guest.run(['stat', '-c', '%U', managerCgroup, `${managerCgroup}/cgroup.procs`, `${managerCgroup}/app.slice`])).stdout.trim().split('\n')).toEqual([USER, USER, USER]);
    expect((await guest.run(['test', '-S', `/run/user/${uid}/bus`])).code, `no user bus at /run/user/${uid}/bus`).toBe(0);
  });

  it('runs a rootless Quadlet container from the shared busybox image', async () => {
    await guest.writeFile(
      `/home/${USER}/.config/containers/systemd/hello.container`,
      `[Container]
Image=${BUSYBOX_IMAGE}
Exec=${BUSYBOX_SERVE_FOREVER}
Network=none

[Install]
WantedBy=default.target
`,
      { user: USER },
    );
    // The image comes from the read-only store root prepared: nothing imported per user.
    // This first podman of the user also makes its user namespace before the first start,
    // as moor does (a start whose podman must make it can lose its READY=1).
    const images = await guest.asUser(USER, ['podman', 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ReadOnly}}'], { cwd: '/' });
    expect(images.stdout, describeExec(images)).toContain(`${BUSYBOX_IMAGE} true`);
    await guest.run(['systemctl', '--user', 'daemon-reload'], { user: USER, cwd: '/' });
    expect((await guest.systemctlUser(USER, ['show', '-p', 'LoadState', 'hello.service'])).stdout.trim()).toBe('LoadState=loaded');
    const started = Date.now();
    const start = await guest.systemctlUser(USER, ['start', 'hello.service']);
    timings['first container start (systemctl --user start)'] = secs(Date.now() - started);
    expect(start.code, `${describeExec(start)}\n${await guest.journal({ user: USER, unit: 'hello.service' })}`).toBe(0);
    expect((await guest.systemctlUser(USER, ['is-active', 'hello.service'])).stdout.trim()).toBe('active');
    const ps = await guest.asUser(USER, ['podman', 'ps', '--format', '{{.Names}} {{.Image}}'], { cwd: '/' });
    expect(ps.stdout, describeExec(ps)).toContain(`systemd-hello ${BUSYBOX_IMAGE}`);
    // Generated units cannot be enabled: the generator applies [Install] itself.
    const enable = await guest.systemctlUser(USER, ['enable', 'hello.service']);
    expect(enable.code).not.toBe(0);
    expect((await guest.systemctlUser(USER, ['is-enabled', 'hello.service'])).stdout.trim()).toBe('generated');
  });

  it("puts the container in the service's cgroup under app.slice (--cgroups=split, systemd cgroup manager)", async () => {
    const uid = await guest.uid(USER);
    const unit = await guest.systemctlUser(USER, ['cat', 'hello.service']);
    expect(unit.stdout).toMatch(/^ExecStart=.* --cgroups=split /m);
    const inspect = await guest.asUser(USER, ['podman', 'inspect', 'systemd-hello', '--format', '{{.HostConfig.CgroupManager}} {{.State.Pid}} {{.State.CgroupPath}}'], { cwd: '/' });
    const [manager, pid, cgroupPath] = inspect.stdout.trim().split(' ');
    expect(manager, describeExec(inspect)).toBe('systemd');
    expect(cgroupPath).toMatch(new RegExp(`^/user\\.slice/user-${uid}\\.slice/user@${uid}\\.service/app\\.slice/hello\\.service/libpod-payload-[0-9a-f]{64}$`));
    expect((await guest.run(['cat', `/proc/${pid}/cgroup`])).stdout.split('\n')).toContain(`0::${cgroupPath}`);
    // Rootless Podman's pause process (which holds the user namespace) lives in a scope of
    // the user's own manager, not in the cgroup of whoever ran the user's first podman.
    const pause = (await guest.run(['cat', `/run/user/${uid}/libpod/tmp/pause.pid`])).stdout.trim();
    expect((await guest.run(['cat', `/proc/${pause}/cgroup`])).stdout).toMatch(new RegExp(`^0::/user\\.slice/user-${uid}\\.slice/user@${uid}\\.service/user\\.slice/podman-pause-[0-9a-f]+\\.scope$`, 'm'));
  });

  it('also lets a user import the busybox tar itself', async () => {
    const imported = await guest.asUser(USER, ['podman', 'import', '--quiet', BUSYBOX_TAR, 'localhost/imported:latest'], { cwd: '/' });
    expect(imported.code, describeExec(imported)).toBe(0);
    const started = Date.now();
    const r = await guest.asUser(USER, ['podman', 'run', '--rm', '--network=none', 'localhost/imported:latest', 'echo', 'imported ok'], { cwd: '/' });
    timings['podman run --rm of an imported image'] = secs(Date.now() - started);
    expect(r.stdout.trim(), describeExec(r)).toBe('imported ok');
  });

  it('runs a plain user service from an enabled timer', async () => {
    const dir = `/home/${USER}/.config/systemd/user`;
    await guest.writeFile(`${dir}/tick.service`, `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo tick from $USER; date >> %h/ticks'\n`, { user: USER });
    await guest.writeFile(`${dir}/tick.timer`, `[Timer]\nOnActiveSec=1s\nOnUnitActiveSec=2s\nAccuracySec=100ms\n\n[Install]\nWantedBy=timers.target\n`, { user: USER });
    await guest.run(['systemctl', '--user', 'daemon-reload'], { user: USER, cwd: '/' });
    const enable = await guest.systemctlUser(USER, ['enable', '--now', 'tick.timer']);
    expect(enable.code, describeExec(enable)).toBe(0);
    expect((await guest.systemctlUser(USER, ['is-enabled', 'tick.timer'])).stdout.trim()).toBe('enabled');
    expect((await guest.systemctlUser(USER, ['is-active', 'tick.timer'])).stdout.trim()).toBe('active');
    await eventually('the timer to run tick.service', async () => ((await guest.exec(['test', '-s', `/home/${USER}/ticks`])).code === 0 ? true : undefined), 15_000);
    const result = await guest.systemctlUser(USER, ['show', '-p', 'Result', 'tick.service']);
    expect(result.stdout.trim()).toBe('Result=success');
  });

  it('journals user units where the user (journalctl --user) and root (by _UID) read them', async () => {
    const own = await guest.asUser(USER, ['journalctl', '--user', '-u', 'tick.service', '--no-pager', '-n', '50'], { cwd: '/' });
    expect(own.stdout, describeExec(own)).toContain(`tick from ${USER}`);
    // As root, --user-unit= means root's own user units: match the user's UID explicitly.
    const uid = await guest.uid(USER);
    const system = await guest.exec(['journalctl', '--no-pager', '-n', '50', `_UID=${uid}`, '_SYSTEMD_USER_UNIT=tick.service']);
    expect(system.stdout, describeExec(system)).toContain(`tick from ${USER}`);
  });
});
