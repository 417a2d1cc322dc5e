// What an update no longer runs before its restart, against real systemd, logind and
// rootless Podman: `podman unshare` while the user's pause process runs, `loginctl
// enable-linger` while logind's linger file is there, and no `systemctl --user` for the
// daemon-reload and the restart, which go to the user manager over D-Bus. A namespace gone
// (its pause process killed) is made again before the next start, and the service comes
// up; an update whose service fails to start is still rolled back.
import { describe, expect, it } from 'vitest';
import type { PassProfileReport } from '../../daemon/pass/profile';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, type Guest, moorGuestForFile } from './guest';

let guest: Guest;

moorGuestForFile((g) => (guest = g));

const spec = (version: number) => `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\nEnvironment=VERSION=${version}\n\n[Install]\nWantedBy=default.target\n`;

/** Pushes version `v` of the workload and runs one pass; the kinds of host command it ran. */
async function deploy(v: number): Promise<string[]> {
  await guest.pushRepo({ 'web.container': spec(v) }, { message: `web v${v}` });
  const run = await guest.moor(['reconcile', '--once', '--profile', '--json']);
  const pass = JSON.parse(run.stdout) as { exitCode: number; items: { workload: string; action: string; result: string }[]; profile: PassProfileReport };
  expect(pass.exitCode, describeExec(run)).toBe(0);
  expect(pass.items.map((i) => `${i.workload} ${i.result}`), describeExec(run)).toEqual(['web ok']);
  return pass.profile.commands.map((c) => c.name);
}

async function invocation(): Promise<string> {
  return (await guest.systemctlUser('web', ['show', 'web.service', '-p', 'InvocationID', '--value'])).stdout.trim();
}

async function active(): Promise<string> {
  return (await guest.systemctlUser('web', ['is-active', 'web.service'])).stdout.trim();
}

describe('an update of a running workload', () => {
  it('a first apply enables linger and makes the Podman namespace', async () => {
    const commands = await deploy(1);
    expect(commands).toContain('loginctl enable-linger');
    expect(commands).toContain('as user: podman unshare');
    expect(await active()).toBe('active');
    const uid = await guest.uid('web');
    expect((await guest.exec(['test', '-f', `/run/user/${uid}/libpod/tmp/pause.pid`])).code).toBe(0);
    expect((await guest.exec(['test', '-f', '/var/lib/systemd/linger/web'])).code).toBe(0);
  });

  it('runs neither again while the pause process runs and the user lingers, and reloads and restarts over D-Bus', async () => {
    const before = await invocation();
    const commands = await deploy(2);
    expect(commands).not.toContain('loginctl enable-linger');
    expect(commands).not.toContain('as user: podman unshare');
    expect(commands).not.toContain('as user: systemctl --user daemon-reload');
    expect(commands).not.toContain('as user: systemctl --user restart');
    expect(await active()).toBe('active');
    expect(await invocation()).not.toBe(before);
    // The manager loaded the new file: the restarted service runs version 2.
    expect((await guest.systemctlUser('web', ['show', 'web.service', '-p', 'NeedDaemonReload', '--value'])).stdout.trim()).toBe('no');
    expect((await guest.systemctlUser('web', ['cat', 'web.service'])).stdout).toContain('VERSION=2');
  });

  it('an update whose service fails to start fails over D-Bus too, and the previous version runs again', async () => {
    await guest.pushRepo({ 'web.container': spec(9).replace(`Exec=${BUSYBOX_SERVE_FOREVER}`, 'Exec=/bin/false') }, { message: 'web broken' });
    const run = await guest.moor(['reconcile', '--once', '--json']);
    const pass = JSON.parse(run.stdout) as { exitCode: number; items: { workload: string; result: string; error?: string }[] };
    expect(pass.exitCode, describeExec(run)).toBe(1);
    expect(pass.items[0]?.result, describeExec(run)).toBe('rolled-back');
    expect(await active()).toBe('active');
    expect((await guest.systemctlUser('web', ['cat', 'web.service'])).stdout).toContain('VERSION=2');
  });

  it('makes the namespace again once its pause process is gone, before the service starts', async () => {
    const uid = await guest.uid('web');
    expect((await guest.systemctlUser('web', ['stop', 'web.service'])).code).toBe(0);
    const pid = (await guest.run(['cat', `/run/user/${uid}/libpod/tmp/pause.pid`])).stdout.trim();
    await guest.run(['kill', '-KILL', pid]);
    await guest.run(['sh', '-c', `while kill -0 ${pid} 2>/dev/null; do sleep 0.05; done`]);
    const commands = await deploy(3);
    expect(commands).toContain('as user: podman unshare');
    expect(await active()).toBe('active');
  });
});
