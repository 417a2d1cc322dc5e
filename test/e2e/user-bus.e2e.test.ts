// Unit states read over D-Bus (host/user-bus.ts) against real user managers: what the
// bus gives must be exactly what `systemctl --user show` prints of the same units, for
// a running service, one that failed, a timer, a target, a Quadlet unit and a unit that
// does not exist; a burst of connections is answered every time; a pass with nothing
// to do then runs no `systemctl --user show`; and a user who links PID 1's socket in place
// of its manager's gets nothing done by the system manager.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { HEALTH_PROPERTIES } from '../../daemon/pass/health-gate';
import { parseUnitStatuses } from '../../daemon/core/parse/systemctl-show';
import { BUSYBOX_SERVE_FOREVER, BUSYBOX_IMAGE, describeExec, leftoverGuests, bootMoorGuest, type Guest } from './guest';
import { GUEST_NODE } from './guest-config';

const PROBE = '/opt/moor-e2e/user-bus-probe.mjs';
const PROPS = [...HEALTH_PROPERTIES, 'NeedDaemonReload'];

let guest: Guest;

beforeAll(async () => {
  guest = await bootMoorGuest();
  const bundle = await build({ entryPoints: ['test/e2e/user-bus-probe.ts'], bundle: true, platform: 'node', target: 'node20', format: 'esm', write: false,
    // dbus-native is CommonJS and requires node's modules: give it require() in ESM, as build.ts does.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  await guest.writeFile(PROBE, Buffer.from(bundle.outputFiles[0]!.contents));
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

interface ProbeOutput {
  ms: number;
  medianMs: number;
  maxMs: number;
  states: Record<string, Record<string, string>>;
}

async function probe(uid: number, units: string[], repeat = 1): Promise<ProbeOutput> {
  const r = await guest.exec(['/usr/bin/env', `REPEAT=${repeat}`, GUEST_NODE, PROBE, String(uid), PROPS.join(','), ...units], { timeoutMs: 120_000 });
  expect(r.code, describeExec(r)).toBe(0);
  return JSON.parse(r.stdout) as ProbeOutput;
}

describe('unit states over D-Bus', () => {
  it('are what systemctl --user show prints, unit for unit, property for property', async () => {
    await guest.pushRepo(
      {
        'web.container': `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\n\n[Install]\nWantedBy=default.target\n`,
        'web-tick.service': '[Service]\nType=oneshot\nExecStart=/bin/true\n',
        'web-tick.timer': '[Timer]\nOnCalendar=*-*-* 03:00:00\n\n[Install]\nWantedBy=timers.target\n',
      },
      { message: 'web' },
    );
    const { run, pass } = await guest.reconcileJson();
    expect(pass.exitCode, describeExec(run)).toBe(0);
    const uid = await guest.uid('web');
    // A plain service that fails, beside moor's units: a Result and an exit status to read.
    await guest.writeFile('/home/web/.config/systemd/user/crash.service', '[Service]\nExecStart=/bin/sh -c "exit 3"\n', { user: 'web' });
    expect((await guest.systemctlUser('web', ['daemon-reload'])).code).toBe(0);
    await guest.systemctlUser('web', ['start', 'crash.service']);
    const units = ['web.service', 'web-tick.timer', 'web-tick.service', 'crash.service', 'default.target', 'no-such.service'];

    const viaBus = await probe(uid, units);
    const shown = await guest.systemctlUser('web', ['show', '-p', PROPS.join(','), ...units]);
    expect(shown.code, describeExec(shown)).toBe(0);
    const viaSystemctl = parseUnitStatuses(units, shown.stdout);
    for (const unit of units) expect(viaBus.states[unit], unit).toEqual(viaSystemctl.get(unit)!.properties);
    // The cases the comparison is meant to cover are really there.
    expect(viaBus.states['web.service']).toMatchObject({ ActiveState: 'active', UnitFileState: 'generated', NeedDaemonReload: 'no' });
    expect(viaBus.states['web.service']!.InvocationID).toMatch(/^[0-9a-f]{32}$/);
    expect(viaBus.states['crash.service']).toMatchObject({ ActiveState: 'failed', Result: 'exit-code', ExecMainCode: '1', ExecMainStatus: '3' });
    expect(viaBus.states['web-tick.timer']).toMatchObject({ ActiveState: 'active', Result: 'success' });
    expect(viaBus.states['web-tick.service']!.InvocationID).toBe('');
    expect(viaBus.states['default.target']!.Result).toBeUndefined();
    expect(viaBus.states['no-such.service']).toMatchObject({ LoadState: 'not-found', ActiveState: 'inactive' });
    process.stdout.write(`six units over D-Bus: ${viaBus.ms.toFixed(1)} ms\n`);
  });

  it('a burst of 60 questions, each on a new connection, is answered every time (no request left stalled)', async () => {
    // Without the requests held back a turn after the handshake and the pings, most of
    // these stalled until the bound (2 s each in the probe), and the probe exits 1.
    const burst = await probe(await guest.uid('web'), ['web.service'], 60);
    expect(burst.states['web.service']).toMatchObject({ ActiveState: 'active' });
    process.stdout.write(`60 questions: median ${burst.medianMs.toFixed(1)} ms, slowest ${burst.maxMs.toFixed(1)} ms\n`);
  });

  it('a pass with nothing to do asks no user manager through systemctl --user show', async () => {
    const since = (await guest.run(['date', '+%Y-%m-%d %H:%M:%S'])).stdout.trim();
    const { run, pass } = await guest.reconcileJson();
    expect(pass.exitCode, describeExec(run)).toBe(0);
    expect(pass.items?.map((i) => i.action), describeExec(run)).toEqual(['unchanged']);
    const journal = await guest.run(['journalctl', '--since', since, '-o', 'cat', '--no-pager']);
    expect(journal.stdout).not.toContain('systemctl --user show');
    // The control: a command run as the user the way moor runs one (host/as-user.ts) is a
    // systemd-run scope, which the journal names by its command line.
    const uid = await guest.uid('web');
    const control = await guest.exec(['systemd-run', '--scope', '--quiet', '--collect', `--slice=user-${uid}.slice`, '--uid=web', `--setenv=XDG_RUNTIME_DIR=/run/user/${uid}`, '--', 'systemctl', '--user', 'show', '-p', 'Id', 'web.service']);
    expect(control.code, describeExec(control)).toBe(0);
    const after = await guest.run(['journalctl', '--since', since, '-o', 'cat', '--no-pager']);
    expect(after.stdout).toContain('systemctl --user show');
  });

  it("a user who points its socket at PID 1's gets neither a system reload nor a system unit restarted", async () => {
    // The attack: the workload user renames its manager's socket and links PID 1's private
    // socket in its place. Root connecting there and asking Reload, or RestartUnit of the
    // workload's unit name, would act on the system manager: a system unit named like the
    // workload's (here web.service, writing a line each time it starts) would run.
    await guest.writeFile('/etc/systemd/system/web.service', "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'date >> /var/tmp/system-web-started'\n");
    await guest.run(['systemctl', 'daemon-reload']);
    const uid = await guest.uid('web');
    const dir = `/run/user/${uid}/systemd`;
    await guest.run(['sh', '-c', `mv ${dir}/private ${dir}/private.real && ln -s /run/systemd/private ${dir}/private`], { user: 'web' });
    // PID 1's own lines, counted before and after: a reload it is asked for says so.
    const pid1Lines = async (pattern: RegExp) => (await guest.run(['journalctl', '_PID=1', '-o', 'cat', '--no-pager'])).stdout.split('\n').filter((l) => pattern.test(l)).length;
    const reloadsBefore = await pid1Lines(/Reloading/);
    try {
      await guest.pushRepo(
        {
          'web.container': `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\nEnvironment=CHANGED=1\n\n[Install]\nWantedBy=default.target\n`,
          'web-tick.service': '[Service]\nType=oneshot\nExecStart=/bin/true\n',
          'web-tick.timer': '[Timer]\nOnCalendar=*-*-* 03:00:00\n\n[Install]\nWantedBy=timers.target\n',
        },
        { message: 'web changed' },
      );
      const { run, pass } = await guest.reconcileJson();
      // The user's manager cannot be reached at all now: the workload fails, loudly.
      expect(pass.exitCode, describeExec(run)).toBe(1);
      expect((await guest.exec(['test', '-e', '/var/tmp/system-web-started'])).code, 'the system unit web.service was started').not.toBe(0);
      expect(await pid1Lines(/Reloading/)).toBe(reloadsBefore);
    } finally {
      await guest.run(['sh', '-c', `rm -f ${dir}/private && mv ${dir}/private.real ${dir}/private`], { user: 'web' });
    }
    // Given its socket back, the user's workload is applied by the next pass.
    const { run, pass } = await guest.reconcileJson();
    expect(pass.exitCode, describeExec(run)).toBe(0);
  });
});
