// Faults of the world on a real systemd host, where the fake host cannot prove them:
// - Podman's Quadlet generator removed: `moor doctor` names it; a pass that would apply
//   exits 6 naming it and changes nothing, the running container keeps running (same
//   InvocationID), no user is made; with the generator back the next pass applies;
// - podman installed but failing (a wrapper that exits 125): `moor doctor` says it fails
//   and shows its stderr, not "not found";
// - a user manager that does not come up (user@UID.service held in ExecStartPre by a
//   drop-in): the start is cut at timeouts.command, that workload fails naming the unit,
//   the other workload is applied.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, type Guest, GUEST_MOOR_CONFIG, moorGuestForFile } from './guest';

const GENERATOR = '/usr/lib/systemd/user-generators/podman-user-generator';
/** Short enough that a hanging user manager costs the test seconds, long enough for a loaded machine. */
const COMMAND_TIMEOUT_S = 10;

const container = (env = 'v=1') => `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\nEnvironment=${env}\n\n[Install]\nWantedBy=default.target\n`;

interface PassJson {
  exitCode: number;
  items: Array<{ workload: string; action: string; result: string; error?: string }>;
}
interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

let guest: Guest;

moorGuestForFile((g) => (guest = g), { config: `${GUEST_MOOR_CONFIG}\n[timeouts]\ncommand = "${COMMAND_TIMEOUT_S}s"\n` });

async function doctor(name: string): Promise<Check> {
  const run = await guest.moor(['doctor', '--json']);
  return (JSON.parse(run.stdout) as { checks: Check[] }).checks.find((c) => c.name === name)!;
}

const invocation = async (user: string, unit: string) => (await guest.systemctlUser(user, ['show', '-p', 'InvocationID', '--value', unit])).stdout.trim();

describe('Podman or its Quadlet generator missing, on a real host', () => {
  it('moor doctor and the pass name the missing generator; nothing changes and the running container keeps running', async () => {
    await guest.pushRepo({ 'calm.container': container() });
    const first = await guest.moor(['reconcile', '--once', '--json']);
    expect((JSON.parse(first.stdout) as PassJson).exitCode, describeExec(first)).toBe(0);
    const before = await invocation('calm', 'calm.service');
    expect(before).not.toBe('');

    await guest.run(['mv', GENERATOR, '/root/podman-user-generator.away']);
    expect(await doctor('quadlet')).toMatchObject({ ok: false, detail: GENERATOR });

    await guest.pushRepo({ 'calm.container': container('v=2'), 'fresh.container': container() });
    const pass = await guest.moor(['reconcile', '--once']);
    expect(pass.code, describeExec(pass)).toBe(6);
    // Its stderr is no journal here: plain lines, no priority prefix.
    expect(pass.stderr).toContain(`moor: HostError: the Quadlet generator ${GENERATOR} is missing (it comes with Podman): nothing was changed`);
    expect(pass.stderr).not.toMatch(/^<\d>/m);
    const status = JSON.parse((await guest.moor(['status', '--json', '--no-daemon'])).stdout) as { lastPass: { exitCode: number; summary: string } };
    expect(status.lastPass).toMatchObject({ exitCode: 6 });
    expect(status.lastPass.summary).toContain('the Quadlet generator');

    // Nothing changed: the same invocation runs, its unit as before, no user for the new workload.
    expect(await invocation('calm', 'calm.service')).toBe(before);
    expect((await guest.systemctlUser('calm', ['is-active', 'calm.service'])).stdout.trim()).toBe('active');
    expect(await guest.readFile('/home/calm/.config/containers/systemd/calm.container')).toContain('Environment=v=1');
    expect((await guest.exec(['getent', 'passwd', 'fresh'])).code).toBe(2);

    await guest.run(['mv', '/root/podman-user-generator.away', GENERATOR]);
    const after = await guest.moor(['reconcile', '--once', '--json']);
    const result = JSON.parse(after.stdout) as PassJson;
    expect(result.exitCode, describeExec(after)).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['calm', 'update', 'ok'],
      ['fresh', 'create', 'ok'],
    ]);
  });

  it('moor doctor says podman is installed but failing, with its stderr', async () => {
    await guest.run(['mv', '/usr/bin/podman', '/usr/bin/podman.real']);
    try {
      await guest.writeFile('/usr/bin/podman', '#!/bin/sh\necho "Error: cannot find a runtime" >&2\nexit 125\n', { mode: 0o755 });
      expect(await doctor('podman')).toMatchObject({ ok: false, detail: '`podman --version` failed (exit 125): Error: cannot find a runtime' });
      await guest.run(['rm', '/usr/bin/podman']);
      expect(await doctor('podman')).toMatchObject({ ok: false, detail: 'podman not found' });
    } finally {
      await guest.run(['mv', '-f', '/usr/bin/podman.real', '/usr/bin/podman']);
    }
    expect((await doctor('podman')).ok).toBe(true);
  });
});

describe('a user manager that does not come up, on a real host', () => {
  it('its start is cut at timeouts.command: that workload fails naming user@UID.service, the other is applied', async () => {
    const next = (await guest.uid('fresh')) + 1;
    await guest.writeFile(`/etc/systemd/system/user@${next}.service.d/hang.conf`, '[Service]\nExecStartPre=/bin/sleep 600\nTimeoutStartSec=infinity\n');
    await guest.run(['systemctl', 'daemon-reload']);
    await guest.pushRepo({ 'calm.container': container('v=3'), 'fresh.container': container(), 'stuck.container': container() });
    const started = Date.now();
    const run = await guest.moor(['reconcile', '--once', '--json']);
    const took = Date.now() - started;
    const result = JSON.parse(run.stdout) as PassJson;

    expect(result.exitCode, describeExec(run)).toBe(1);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['calm', 'update', 'ok'],
      ['fresh', 'unchanged', 'ok'],
      ['stuck', 'create', 'failed'],
    ]);
    // The duration is measured: the bound, plus the moment the kill takes.
    expect(result.items[2]!.error).toMatch(new RegExp(`^systemctl start user@${next}\\.service timed out after ${COMMAND_TIMEOUT_S}\\d{3} ms$`));
    expect(took).toBeLessThan((COMMAND_TIMEOUT_S + 50) * 1000);
    expect(await guest.readFile('/home/calm/.config/containers/systemd/calm.container')).toContain('Environment=v=3');
    expect((await guest.systemctlUser('calm', ['is-active', 'calm.service'])).stdout.trim()).toBe('active');
  });
});
