import { describe, expect, it } from 'vitest';
import { formatProfile } from '../../daemon/cli/pass-output';
import { commandKind, PassProfile, profiledRunner } from '../../daemon/pass/profile';
import type { CommandRunner } from '../../daemon/core/ports';

describe('commandKind', () => {
  it('names the program and its subcommand, never its arguments; a command run as a workload user says so', () => {
    expect(commandKind(['useradd', '--create-home', '--uid', '1000', 'web'])).toBe('useradd');
    expect(commandKind(['getent', 'passwd', 'web'])).toBe('getent passwd');
    expect(commandKind(['systemctl', 'start', 'user@1000.service'])).toBe('systemctl start');
    expect(commandKind(['loginctl', 'enable-linger', 'web'])).toBe('loginctl enable-linger');
    expect(commandKind(['systemd-run', '--scope', '--uid=web', '--setenv=X=1', '--', 'systemctl', '--user', 'show', 'web.service', '-p', 'Id'])).toBe(
      'as user: systemctl --user show',
    );
    expect(commandKind(['systemd-run', '--scope', '--', 'podman', 'unshare', '/bin/true'])).toBe('as user: podman unshare');
    expect(commandKind(['systemd-run', '--scope', '--', '/usr/bin/node', '/opt/moor/moor.mjs', '__write-files'])).toBe('as user: moor __write-files');
    expect(commandKind(['/usr/bin/test', '-x', '/usr/lib/x'])).toBe('test');
  });
});

describe('PassProfile', () => {
  it('sums spans of one name, keeps their first order, and sums commands by kind, slowest first', async () => {
    let t = 0;
    // moor's own CPU in microseconds, as process.cpuUsage() counts it (a difference when given a start).
    let used = { user: 1000, system: 500 };
    const cpu = (since?: NodeJS.CpuUsage) => (since ? { user: used.user - since.user, system: used.system - since.system } : used);
    const p = new PassProfile(undefined, () => t, cpu);
    used = { user: 3000, system: 800 };
    await p.span('2 desired state', async () => void (t += 5));
    await p.span('apply.user', async () => void (t += 3));
    await p.span('apply.user', async () => void (t += 4));
    await expect(p.span('apply.start', async () => {
      t += 1;
      throw new Error('boom');
    })).rejects.toThrow('boom');
    p.command(['useradd', 'a'], 2);
    p.command(['getent', 'passwd', 'a'], 1);
    p.command(['getent', 'passwd', 'b'], 1.5);
    expect(p.report()).toEqual({
      totalMs: 13,
      cpuMs: 2.3,
      steps: [
        { name: '2 desired state', count: 1, ms: 5 },
        { name: 'apply.user', count: 2, ms: 7 },
        { name: 'apply.start', count: 1, ms: 1 },
      ],
      commands: [
        { name: 'getent passwd', count: 2, ms: 2.5 },
        { name: 'useradd', count: 1, ms: 2 },
      ],
    });
  });

  it("counts moor's own CPU from the profile's start, not the process's", () => {
    const msOf = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
    const spin = (ms: number) => {
      const from = process.cpuUsage();
      while (msOf(process.cpuUsage(from)) < ms);
    };
    spin(150); // before the pass: not its CPU
    const p = new PassProfile();
    const from = process.cpuUsage();
    spin(20);
    const during = msOf(process.cpuUsage(from));
    const { cpuMs } = p.report();
    expect(cpuMs).toBeGreaterThanOrEqual(Math.floor(during));
    expect(cpuMs).toBeLessThan(during + 100);
  });

  it('times every command through a profiled runner, failed ones too', async () => {
    const p = new PassProfile();
    const inner: CommandRunner = {
      run: async (argv) => {
        if (argv[0] === 'false') throw new Error('exit 1');
        return { argv, exitCode: 0, stdout: '', stderr: '', durationMs: 0, timedOut: false };
      },
    };
    const runner = profiledRunner(inner, p);
    await runner.run(['true'], { timeoutMs: 1000 });
    await expect(runner.run(['false'], { timeoutMs: 1000 })).rejects.toThrow();
    expect(p.report().commands.map((c) => [c.name, c.count])).toEqual(expect.arrayContaining([['true', 1], ['false', 1]]));
  });
});

describe('formatProfile', () => {
  it("says the pass's wall time and moor's own CPU, then the steps and the commands", () => {
    const text = formatProfile({
      totalMs: 1234.5,
      cpuMs: 210.25,
      steps: [{ name: 'apply.user', count: 2, ms: 7 }],
      commands: [{ name: 'useradd', count: 2, ms: 5.5 }],
    });
    expect(text.split('\n')[0]).toBe("profile: 1234.5 ms in all, 210.3 ms of moor's own CPU; apply.* are parts of the apply step, summed over workloads");
    expect(text).toMatch(/^apply\.user\s+2\s+7\.0$/m);
    expect(text).toMatch(/^useradd\s+2\s+5\.5$/m);
  });
});
