// How moor runs a command as a workload user: in a scope of the user's slice, with an
// environment built from scratch (docs/design.md §5).
import { describe, expect, it } from 'vitest';
import { asUser, runAsUser, userCommandEnv } from '../../daemon/host/as-user';
import type { CommandRunner, RunOptions } from '../../daemon/core/ports';

describe('asUser', () => {
  it('starts the command through systemd-run in a scope of user-UID.slice, as the user', () => {
    const argv = asUser({ user: 'web', uid: 1000 }, ['systemctl', '--user', 'daemon-reload']);
    expect(argv.slice(0, 2)).toEqual(['systemd-run', '--scope']);
    expect(argv).toContain('--slice=user-1000.slice');
    expect(argv).toContain('--uid=web');
    expect(argv).toContain('--setenv=XDG_RUNTIME_DIR=/run/user/1000');
    expect(argv).toContain('--setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus');
    expect(argv.slice(argv.indexOf('--') + 1)).toEqual(['systemctl', '--user', 'daemon-reload']);
  });

  it('never lets an argument of the command be read as an option of systemd-run', () => {
    const argv = asUser({ user: 'web', uid: 1000 }, ['--uid=root', 'sh']);
    expect(argv.indexOf('--')).toBeLessThan(argv.indexOf('--uid=root'));
    expect(argv.filter((a) => a.startsWith('--uid='))).toEqual(['--uid=web', '--uid=root']);
  });
});

describe('runAsUser', () => {
  it('gives systemd-run, and so the command, only PATH and LANG of this process', async () => {
    process.env.MOOR_TEST_SECRET = 'hunter2';
    try {
      const seen: RunOptions[] = [];
      const runner: CommandRunner = {
        run: async (argv, options) => {
          seen.push(options);
          return { argv, exitCode: 0, stdout: '', stderr: '', durationMs: 0, timedOut: false };
        },
      };
      await runAsUser(runner, { user: 'web', uid: 1000 }, ['true'], { timeoutMs: 1000 });
      expect(seen[0]!.env).toEqual(userCommandEnv());
      expect(Object.keys(seen[0]!.env!).sort()).toEqual(['LANG', 'PATH']);
      expect(seen[0]!.cwd).toBe('/');
    } finally {
      delete process.env.MOOR_TEST_SECRET;
    }
  });
});
