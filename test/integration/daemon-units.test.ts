// The shipped units: `moor install-units --prefix DIR` puts units/ in place unchanged and
// prints the commands to run next; systemd's own tools accept what it installs (where they
// exist on this machine); the service's settings are the ones docs/design.md §9 asks for.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UNIT_TARGETS } from '../../daemon/cli/shipped-units';
import { REPO_ROOT, runMoor } from '../helpers/cli';

let prefix: string;
beforeEach(() => {
  prefix = mkdtempSync(join(tmpdir(), 'moor-units-'));
});
afterEach(() => rmSync(prefix, { recursive: true, force: true }));

const has = (tool: string) => spawnSync(tool, ['--version'], { timeout: 10_000 }).status === 0;
const unit = (name: string) => readFileSync(join(REPO_ROOT, 'units', name), 'utf8');

describe('moor install-units', () => {
  it('installs every file of units/ under the prefix, unchanged, and prints what to run next', () => {
    const r = runMoor(['install-units', '--prefix', prefix]);
    expect(r.code, r.stderr).toBe(0);
    for (const [source, target] of Object.entries(UNIT_TARGETS)) {
      const installed = join(prefix, target);
      expect(readFileSync(installed, 'utf8'), target).toBe(unit(source));
      expect(statSync(installed).mode & 0o777).toBe(0o644);
      expect(r.stdout).toContain(`installed  ${installed}`);
    }
    expect(r.stdout).toContain('systemctl daemon-reload');
    expect(r.stdout).toContain('systemctl enable --now moor.socket moor.service');
    expect(r.stdout).toContain('systemctl enable --now moor-reconcile.timer');
    expect(r.stdout).toContain('systemd-sysusers /etc/sysusers.d/moor.conf');
    expect(r.stdout).toContain('systemd-tmpfiles --create /etc/tmpfiles.d/moor.conf');

    const again = runMoor(['install-units', '--prefix', prefix]);
    expect(again.stdout).toContain(`unchanged  ${join(prefix, 'etc/systemd/system/moor.service')}`);
    writeFileSync(join(prefix, 'etc/systemd/system/moor.service'), 'old\n');
    expect(runMoor(['install-units', '--prefix', prefix]).stdout).toContain(`updated  ${join(prefix, 'etc/systemd/system/moor.service')}`);
  });

  it('refuses to write through a symlinked unit', () => {
    mkdirSync(join(prefix, 'etc/systemd/system'), { recursive: true });
    symlinkSync('/dev/null', join(prefix, 'etc/systemd/system/moor.service'));
    const r = runMoor(['install-units', '--prefix', prefix]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a symlink/);
  });

  it('--bundle needs the built bundle', () => {
    const r = runMoor(['install-units', '--prefix', prefix, '--bundle']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/built bundle/);
  });
});

describe('the units', () => {
  it('moor.service: Type=notify, main-only notify access, watchdog, restart on failure, dependencies and no delays', () => {
    const s = unit('moor.service');
    for (const line of [
      'Type=notify',
      'NotifyAccess=main',
      'WatchdogSec=60',
      'Restart=on-failure',
      'RestartPreventExitStatus=2',
      'SyslogIdentifier=moor',
      'KillMode=mixed',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'Wants=network-online.target moor.socket',
      'After=network-online.target systemd-logind.service moor.socket',
      'ExecStart=node --no-opt --max-semi-space-size=2 /usr/local/lib/moor/moor.mjs daemon',
      'WantedBy=multi-user.target',
    ]) {
      expect(s.split('\n'), line).toContain(line);
    }
    expect(s).not.toMatch(/sleep|ExecStartPre/);
    // Stopping waits for the workloads in hand, bounded by timeouts.stop (default 90s).
    expect(Number(/^TimeoutStopSec=(\d+)s$/m.exec(s)?.[1])).toBeGreaterThan(90);
  });

  it("moor.service's node flags are ones this node takes, silently", () => {
    // A flag node no longer knows stops the daemon from starting; one it overrides
    // (--jitless turning off --expose-wasm) prints a warning into the journal at each start.
    const execStart = /^ExecStart=node (.*) \/usr\/local\/lib\/moor\/moor\.mjs daemon$/m.exec(unit('moor.service'))?.[1];
    expect(execStart).toBeDefined();
    const flags = execStart!.split(' ');
    expect(flags.every((f) => f.startsWith('--'))).toBe(true);
    // As systemd starts it: no NODE_OPTIONS from this test's environment.
    const env = { PATH: process.env.PATH };
    const r = spawnSync(process.execPath, [...flags, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8', timeout: 30_000, env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as string[]).slice(0, flags.length)).toEqual(flags);
    // A flag node does not know fails the same check.
    const bad = spawnSync(process.execPath, ['--no-such-v8-flag-of-moor', '-e', '0'], { encoding: 'utf8', timeout: 30_000, env });
    expect(bad.status !== 0 || bad.stderr !== '').toBe(true);
  });

  it('moor.socket listens on the default control.socket, root-only', () => {
    const s = unit('moor.socket');
    expect(s).toMatch(/^ListenStream=\/run\/moor\/moor.sock$/m);
    expect(s).toMatch(/^SocketMode=0600$/m);
  });

  it('moor-reconcile.service is a oneshot pass whose result is the unit\'s', () => {
    const s = unit('moor-reconcile.service');
    expect(s).toMatch(/^Type=oneshot$/m);
    expect(s).toMatch(/^ExecStart=node \/usr\/local\/lib\/moor\/moor.mjs reconcile --once --wait --no-daemon$/m);
    expect(s).not.toMatch(/SuccessExitStatus|^ExecStart=-/m);
    expect(s).toMatch(/^SyslogIdentifier=moor$/m);
    expect(unit('moor-reconcile.timer')).toMatch(/^OnCalendar=\*:0\/2$/m);
  });

  it.skipIf(!has('systemd-analyze'))('pass systemd-analyze verify', () => {
    runMoor(['install-units', '--prefix', prefix]);
    const dir = join(prefix, 'etc/systemd/system');
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...['moor.service', 'moor.socket', 'moor-reconcile.service', 'moor-reconcile.timer'].map((u) => join(dir, u))], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    // Without node on PATH the one complaint would be ExecStart's binary; nothing else may be.
    const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !/Command node is not executable/.test(l));
    expect(complaints).toEqual([]);
  });

  it.skipIf(!has('systemd-tmpfiles') || !has('systemd-sysusers'))('tmpfiles.d and sysusers.d entries create the directories and the group', () => {
    runMoor(['install-units', '--prefix', prefix]);
    const root = join(prefix, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
    const t = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', join(prefix, 'etc/tmpfiles.d/moor.conf')], { encoding: 'utf8', timeout: 30_000 });
    expect(t.status, t.stderr).toBe(0);
    expect(statSync(join(root, 'run/moor')).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, 'var/lib/moor')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'etc/moor/transforms')).isDirectory()).toBe(true);
    const u = spawnSync('systemd-sysusers', [`--root=${root}`, join(prefix, 'etc/sysusers.d/moor.conf')], { encoding: 'utf8', timeout: 30_000 });
    expect(u.status, u.stderr).toBe(0);
    expect(readFileSync(join(root, 'etc/group'), 'utf8')).toMatch(/^moor-managed:x:\d+:$/m);
  });
});
