// moor against a real host: a bare repo in the guest, `moor reconcile --once` as root, and
// the guest's own users, logind, systemd user managers and rootless Podman as the judges.
// One workload through its life: created, left alone, repaired, beside a broken one,
// refused and then allowed to go. A changed spec is in scenarios.e2e.test.ts (only its own
// service restarts).
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, type ExecResult, type Guest, GUEST_MOOR, GUEST_NODE, moorGuestForFile } from './guest';

const WORKLOAD = 'hello';

function container(greeting: string): string {
  return `[Unit]
Description=moor end-to-end workload

[Container]
Image=${BUSYBOX_IMAGE}
Exec=${BUSYBOX_SERVE_FOREVER}
Environment=GREETING=${greeting}

[Install]
WantedBy=default.target
`;
}

interface PassJson {
  exitCode: number;
  commit: string;
  generation?: number;
  summary: string;
  items: Array<{ workload: string; user: string; uid?: number; action: string; result: string; error?: string }>;
}

let guest: Guest;

moorGuestForFile((g) => (guest = g));

/** `moor reconcile --once --json ARGS`, with everything needed to explain a failure. */
async function reconcile(...args: string[]): Promise<{ run: ExecResult; pass: PassJson | undefined; explain: () => Promise<string> }> {
  const cursor = await guest.journalCursor();
  const run = await guest.moor(['reconcile', '--once', '--json', ...args]);
  let pass: PassJson | undefined;
  try {
    pass = JSON.parse(run.stdout) as PassJson;
  } catch {
    pass = undefined;
  }
  const explain = async () => {
    const journal = await guest.journal({ lines: 120, ...(cursor ? { afterCursor: cursor } : {}) });
    return `${describeExec(run)}\n--- guest journal during the pass ---\n${journal}`;
  };
  return { run, pass, explain };
}

async function containerId(user: string): Promise<string> {
  const r = await guest.asUser(user, ['podman', 'ps', '--filter', `name=systemd-${WORKLOAD}`, '--format', '{{.ID}}'], { cwd: '/' });
  return r.stdout.trim();
}

async function expectUserGone(user: string, uid: number): Promise<void> {
  expect((await guest.exec(['getent', 'passwd', user])).code, `user ${user} still exists`).toBe(2);
  expect((await guest.exec(['test', '-e', `/home/${user}`])).code, `/home/${user} still exists`).not.toBe(0);
  expect((await guest.exec(['test', '-e', `/var/lib/systemd/linger/${user}`])).code, `${user} still lingers`).not.toBe(0);
  expect((await guest.exec(['systemctl', 'is-active', `user@${uid}.service`])).stdout.trim(), `user@${uid}.service of ${user}`).not.toBe('active');
  expect((await guest.exec(['pgrep', '-u', String(uid)])).stdout.trim(), `processes of ${user} left`).toBe('');
  guest.forgetUsers();
}

describe('moor reconcile --once in a real systemd guest', () => {
  it('the workload user can read the bundle moor re-runs itself from', async () => {
    const r = await guest.exec(['runuser', '-u', 'nobody', '--', 'test', '-r', GUEST_MOOR]);
    expect(r.code, `${GUEST_MOOR} must be readable by workload users`).toBe(0);
  });

  it('creates the user, lingers, starts its manager and runs the container', async () => {
    const commit = await guest.pushRepo({ [`${WORKLOAD}.container`]: container('one'), 'README.md': '# desired state\n' }, { message: 'hello, one' });
    const { run, pass, explain } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(pass, `stdout is not the pass as JSON:\n${run.stdout}`).toBeDefined();
    expect(pass!.commit).toBe(commit);
    expect(pass!.items).toMatchObject([{ workload: WORKLOAD, user: WORKLOAD, result: 'ok' }]);

    const passwd = (await guest.run(['getent', 'passwd', WORKLOAD])).stdout.trim().split(':');
    expect(passwd[4]).toBe('moor-managed');
    expect(passwd[5]).toBe(`/home/${WORKLOAD}`);
    expect((await guest.run(['id', '-nG', WORKLOAD])).stdout.trim().split(' ')).toContain('moor-managed');
    expect((await guest.run(['loginctl', 'show-user', WORKLOAD, '-p', 'Linger'])).stdout.trim()).toBe('Linger=yes');
    const uid = await guest.uid(WORKLOAD);
    expect(pass!.items[0]!.uid).toBe(uid);
    expect((await guest.exec(['systemctl', 'is-active', `user@${uid}.service`])).stdout.trim()).toBe('active');
    const active = await guest.systemctlUser(WORKLOAD, ['is-active', `${WORKLOAD}.service`]);
    expect(active.stdout.trim(), `${describeExec(active)}\n${await guest.journal({ user: WORKLOAD, unit: `${WORKLOAD}.service` })}`).toBe('active');
    const ps = await guest.asUser(WORKLOAD, ['podman', 'ps', '--format', '{{.Names}} {{.Image}}'], { cwd: '/' });
    expect(ps.stdout).toContain(`systemd-${WORKLOAD} ${BUSYBOX_IMAGE}`);

    // The spec merged with the host transform, written as the user.
    const unitPath = `/home/${WORKLOAD}/.config/containers/systemd/${WORKLOAD}.container`;
    const unit = await guest.readFile(unitPath);
    expect(unit).toContain('Environment=GREETING=one');
    expect(unit).toContain('Network=none');
    // Quadlet's own cgroup defaults, as on a real host: nothing in the transform changes them.
    expect(unit).not.toMatch(/--cgroups|--cgroup-manager/);
    expect((await guest.run(['stat', '-c', '%U:%G', unitPath])).stdout.trim()).toBe(`${WORKLOAD}:${WORKLOAD}`);
    // README.md is ignored, never deployed.
    expect((await guest.exec(['find', `/home/${WORKLOAD}/.config`, '-name', 'README.md'])).stdout.trim()).toBe('');
  });

  it("runs the container with Quadlet's --cgroups=split and the systemd cgroup manager, under the user's app.slice", async () => {
    const uid = await guest.uid(WORKLOAD);
    const inspect = await guest.asUser(WORKLOAD, ['podman', 'inspect', `systemd-${WORKLOAD}`, '--format', '{{.HostConfig.CgroupManager}}|{{.State.Pid}}|{{.State.CgroupPath}}|{{json .Config.CreateCommand}}'], { cwd: '/' });
    expect(inspect.code, describeExec(inspect)).toBe(0);
    const [manager, pid, cgroupPath, createJson] = inspect.stdout.trim().split('|');
    expect(manager).toBe('systemd');
    expect(JSON.parse(createJson!) as string[]).toContain('--cgroups=split');
    const unitCgroup = `/user.slice/user-${uid}.slice/user@${uid}.service/app.slice/${WORKLOAD}.service`;
    expect(cgroupPath).toMatch(new RegExp(`^${unitCgroup.replace(/[.@]/g, '\\$&')}/libpod-payload-[0-9a-f]{64}$`));
    // The kernel's word, not Podman's: the container's PID 1 as the guest's root sees it.
    const procCgroup = (await guest.run(['cat', `/proc/${pid}/cgroup`])).stdout;
    expect(procCgroup.split('\n')).toContain(`0::${cgroupPath}`);
    // The user manager owns its subtree (delegation): Podman made the payload cgroup as the user.
    expect((await guest.run(['stat', '-c', '%U', `/sys/fs/cgroup${unitCgroup}`])).stdout.trim()).toBe(WORKLOAD);
  });

  it('moor doctor reports the cgroup v2 hierarchy, the user bus and delegation as the guest has them', async () => {
    const r = await guest.moor(['doctor', '--json']);
    const checks = Object.fromEntries((JSON.parse(r.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks.map((c) => [c.name, c]));
    expect(checks['cgroup v2'], describeExec(r)).toMatchObject({ ok: true, detail: 'unified hierarchy (cgroup2fs at /sys/fs/cgroup)' });
    expect(checks['user bus']).toMatchObject({ ok: true, detail: 'dbus.socket of user managers is static' });
    // Delegation is as good as the controllers this guest's hierarchy offers (on a host that
    // keeps them on cgroup v1, none of cpu, memory, pids): doctor must say so, not guess.
    const offered = (await guest.readFile('/sys/fs/cgroup/cgroup.controllers')).trim().split(/\s+/);
    const all = ['cpu', 'memory', 'pids'].every((c) => offered.includes(c));
    expect(checks['delegation']!.ok, checks['delegation']!.detail).toBe(all);
    if (!all) expect(checks['delegation']!.detail).toMatch(/^the cgroup v2 hierarchy has no /);
    expect(r.code).toBe(all ? 0 : 2);
  });

  it('a second pass over the same commit changes nothing and restarts nothing', async () => {
    const before = await containerId(WORKLOAD);
    expect(before).not.toBe('');
    const { run, pass, explain } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(pass!.items).toMatchObject([{ workload: WORKLOAD, action: 'unchanged', result: 'ok' }]);
    expect(await containerId(WORKLOAD)).toBe(before);
  });

  it('re-applies a workload whose service was stopped by hand (drift)', async () => {
    await guest.run(['systemctl', '--user', 'stop', `${WORKLOAD}.service`], { user: WORKLOAD, cwd: '/' });
    const { run, pass, explain } = await reconcile();
    expect(run.code, await explain()).toBe(0);
    expect(pass!.items).toMatchObject([{ workload: WORKLOAD, action: 'drift', result: 'ok' }]);
    expect((await guest.systemctlUser(WORKLOAD, ['is-active', `${WORKLOAD}.service`])).stdout.trim()).toBe('active');
  });

  it('a spec the Quadlet generator rejects fails alone, with the generator\'s message', async () => {
    const broken = container('three').replace('[Container]\n', '[Container]\nNoSuchKey=1\n');
    await guest.pushRepo({ [`${WORKLOAD}.container`]: container('one'), 'broken.container': broken }, { message: 'one good, one broken' });
    const { run, pass, explain } = await reconcile();
    expect(run.code, await explain()).toBe(1);
    expect(pass!.items).toMatchObject([
      { workload: 'broken', result: 'failed' },
      { workload: WORKLOAD, action: 'unchanged', result: 'ok' },
    ]);
    expect(pass!.items[0]!.error).toContain("unsupported key 'NoSuchKey'");
    expect((await guest.systemctlUser(WORKLOAD, ['is-active', `${WORKLOAD}.service`])).stdout.trim()).toBe('active');
  });

  it('refuses to remove every workload, then removes it when allowed', async () => {
    await guest.pushRepo({ 'README.md': '# nothing deployed here\n' }, { message: 'remove everything' });
    const refused = await reconcile();
    expect(refused.run.code, await refused.explain()).toBe(5);
    expect((await guest.exec(['getent', 'passwd', WORKLOAD])).code).toBe(0);
    expect(await containerId(WORKLOAD)).not.toBe('');

    const uid = await guest.uid(WORKLOAD);
    // "broken" failed on its first pass (generator error), so it has no applied record,
    // but moor created its user, enabled linger and started its manager: it goes too.
    const brokenUid = await guest.uid('broken');
    const removed = await reconcile('--allow-mass-removal');
    expect(removed.run.code, await removed.explain()).toBe(0);
    expect(removed.pass!.items).toContainEqual(expect.objectContaining({ workload: WORKLOAD, action: 'remove', result: 'ok' }));
    expect(removed.pass!.items).toContainEqual(expect.objectContaining({ workload: 'broken', action: 'remove', result: 'ok' }));
    await expectUserGone(WORKLOAD, uid);
    await expectUserGone('broken', brokenUid);
  });

  it('a pass run as a system service leaves no process in its own cgroup', async () => {
    // The workload is back after its removal: the pass creates its user, enables linger,
    // starts the user manager, writes files as the user and starts a first container, every
    // kind of command moor runs as a workload user. RemainAfterExit keeps the unit (and its
    // cgroup) after the pass exits, so whatever the pass left there stays to be seen rather
    // than being killed when the unit stops.
    await guest.pushRepo({ [`${WORKLOAD}.container`]: container('again') }, { message: 'hello again' });
    const unit = 'moor-e2e-pass.service';
    const cursor = await guest.journalCursor();
    const run = await guest.exec(['systemd-run', `--unit=${unit}`, '--quiet', '--service-type=oneshot', '-p', 'RemainAfterExit=yes', GUEST_NODE, GUEST_MOOR, 'reconcile', '--once']);
    const explain = async () => `${describeExec(run)}\n${await guest.journal({ lines: 120, ...(cursor ? { afterCursor: cursor } : {}) })}`;
    expect(run.code, await explain()).toBe(0);
    const state = await guest.run(['systemctl', 'show', unit, '-p', 'ActiveState', '-p', 'ExecMainStatus']);
    expect(state.stdout, await explain()).toContain('ExecMainStatus=0');
    expect(state.stdout).toContain('ActiveState=active');
    expect((await guest.systemctlUser(WORKLOAD, ['is-active', `${WORKLOAD}.service`])).stdout.trim()).toBe('active');
    // Each process still in the service's cgroup, with its uid and command line. systemd
    // removes the cgroup of an active unit once it is empty, so no directory means none.
    const left = await guest.run([
      'sh',
      '-c',
      '[ -d "$1" ] || exit 0; for p in $(cat "$1/cgroup.procs"); do printf "%s uid=%s %s\\n" "$p" "$(awk \'/^Uid:/ { print $2 }\' /proc/$p/status)" "$(tr "\\0" " " < /proc/$p/cmdline)"; done',
      'sh',
      `/sys/fs/cgroup/system.slice/${unit}`,
    ]);
    expect(left.stdout.trim(), `processes left in ${unit} after the pass`).toBe('');
    // The user's Podman user namespace, made by the pass before the first start: its pause
    // process lives in a scope of the user's own manager, not in the pass's cgroup nor in
    // the scope moor ran podman in (none of which is left: see above, and below).
    const uid = await guest.uid(WORKLOAD);
    const pause = (await guest.run(['cat', `/run/user/${uid}/libpod/tmp/pause.pid`])).stdout.trim();
    expect((await guest.run(['cat', `/proc/${pause}/cgroup`])).stdout).toMatch(
      new RegExp(`^0::/user\\.slice/user-${uid}\\.slice/user@${uid}\\.service/user\\.slice/podman-pause-[0-9a-f]+\\.scope$`, 'm'),
    );
    const scopes = await guest.run(['systemctl', 'list-units', '--all', '--plain', '--no-legend', 'run-*.scope']);
    expect(scopes.stdout.trim(), 'scopes of commands moor ran as a workload user, still loaded').toBe('');
    await guest.run(['systemctl', 'stop', unit]);
  });

  it('an update and a pass with nothing to do open no PAM session and run no useradd', async () => {
    // Both passes run as system services, so `journalctl -u` of each is what an operator
    // reads for `-u moor`; the whole journal since is searched too.
    await guest.pushRepo({ [`${WORKLOAD}.container`]: container('updated') }, { message: 'hello, updated' });
    const cursor = await guest.journalCursor();
    const passes = [
      { unit: 'moor-e2e-update.service', item: `${WORKLOAD}: update ok` },
      { unit: 'moor-e2e-noop.service', item: `${WORKLOAD}: unchanged ok` },
    ];
    for (const { unit } of passes) {
      const run = await guest.exec(['systemd-run', `--unit=${unit}`, '--quiet', '--wait', '--service-type=oneshot', GUEST_NODE, GUEST_MOOR, 'reconcile', '--once']);
      expect(run.code, `${describeExec(run)}\n${await guest.journal({ unit, lines: 60 })}`).toBe(0);
    }
    for (const { unit, item } of passes) {
      const lines = (await guest.run(['journalctl', '--no-pager', '-o', 'cat', '-u', unit])).stdout;
      expect(lines).toContain(item);
      expect(lines, `journalctl -u ${unit}`).not.toMatch(/pam_unix|useradd/);
      // Its stderr was the journal: every priority prefix was taken as the line's priority.
      expect(lines).not.toMatch(/^<\d>/m);
      expect((await guest.run(['journalctl', '--no-pager', '-o', 'cat', '-p', 'err', '-u', unit])).stdout.trim()).toBe('');
    }
    const all = (await guest.run(['journalctl', '--no-pager', '-o', 'short', `--after-cursor=${cursor!}`])).stdout;
    expect(all.split('\n').filter((l) => /pam_unix\(\S+:session\)|useradd/.test(l)), 'the whole journal during the two passes').toEqual([]);
    expect((await guest.systemctlUser(WORKLOAD, ['is-active', `${WORKLOAD}.service`])).stdout.trim()).toBe('active');
  });

  it("runs commands as a workload user in that user's slice, with none of moor's environment", async () => {
    // moor runs the Quadlet generator as the user to explain a spec it rejects. A wrapper
    // in its place records what such a command gets: its environment and its cgroup.
    const generator = '/usr/lib/systemd/user-generators/podman-user-generator';
    await guest.run(['mv', generator, `${generator}.real`]);
    await guest.writeFile(
      generator,
      `#!/bin/sh\nif [ "$1" = -dryrun ]; then f=/var/tmp/moor-e2e-dryrun.$$; env > "$f.env"; cat /proc/self/cgroup > "$f.cgroup"; fi\nexec ${generator}.real "$@"\n`,
      { mode: 0o755 },
    );
    try {
      const broken = container('broken').replace('[Container]\n', '[Container]\nNoSuchKey=1\n');
      await guest.pushRepo({ [`${WORKLOAD}.container`]: container('again'), 'leaky.container': broken }, { message: 'a spec the generator rejects' });
      const secret = 's3cr3t-only-moor-may-see';
      const unit = 'moor-e2e-secret-pass.service';
      const run = await guest.exec(['systemd-run', `--unit=${unit}`, '--quiet', '--wait', '--service-type=oneshot', `--setenv=MOOR_E2E_SECRET=${secret}`, `--setenv=https_proxy=http://user:${secret}@proxy.invalid:3128`, GUEST_NODE, GUEST_MOOR, 'reconcile', '--once']);
      expect(run.code, describeExec(run)).toBe(1);
      const uid = Number((await guest.run(['id', '-u', 'leaky'])).stdout.trim());
      const dumps = (await guest.run(['sh', '-c', 'ls /var/tmp/moor-e2e-dryrun.*.env'])).stdout.trim().split('\n').filter(Boolean);
      expect(dumps.length, 'moor ran the generator as the user').toBeGreaterThan(0);
      for (const dump of dumps) {
        const env = await guest.readFile(dump);
        expect(env).not.toContain(secret);
        expect(env).not.toMatch(/^(https?_proxy|MOOR_E2E_SECRET)=/m);
        expect(env).toMatch(/^USER=leaky$/m);
        expect(env).toMatch(/^HOME=\/home\/leaky$/m);
        expect(env).toMatch(new RegExp(`^XDG_RUNTIME_DIR=/run/user/${uid}$`, 'm'));
        const cgroup = await guest.readFile(dump.replace(/\.env$/, '.cgroup'));
        // The unified hierarchy's line (the host's v1 hierarchies show beside it).
        expect(cgroup.split('\n').find((l) => l.startsWith('0::'))).toMatch(new RegExp(`^0::/user\\.slice/user-${uid}\\.slice/run-[^/]+\\.scope$`));
      }
      // Nothing any workload user runs now carries it either.
      const leaks = await guest.run([
        'sh',
        '-c',
        'for d in /proc/[0-9]*; do u=$(awk \'/^Uid:/ { print $2 }\' $d/status 2>/dev/null); [ -n "$u" ] && [ "$u" -ge 1000 ] && tr "\\0" "\\n" < $d/environ 2>/dev/null | grep -q "$1" && echo "$d uid=$u"; done; true',
        'sh',
        secret,
      ]);
      expect(leaks.stdout.trim(), 'workload processes whose environment holds the secret').toBe('');
    } finally {
      await guest.run(['mv', `${generator}.real`, generator]);
      await guest.run(['sh', '-c', 'rm -f /var/tmp/moor-e2e-dryrun.*']);
    }
  });
});
