// The workload user's rootless Podman user namespace is made before any of its units
// starts (docs/design.md §6, step 7.3): a Quadlet unit whose podman has to create it can
// lose its READY=1 to the user manager. The fake host records every generated unit started
// while its user had no namespace; none may be.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassHarness, asUserLine, containerSpec, normLine } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const specs = (names: readonly string[]) => Object.fromEntries(names.map((n) => [`${n}.container`, containerSpec(`localhost/${n}:1`)]));
const byHand = (argv: string[]) => h.fake.run(argv, { timeoutMs: 1000, env: { PATH: '/usr/bin' } });

describe("a workload user's Podman namespace", () => {
  it('is made as the user, after its manager is up, begun before the files are written and done before anything starts', async () => {
    h.commit(specs(['api', 'web']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    for (const [user, uid] of [['api', 1000], ['web', 1001]] as const) {
      const lines = calls.map(normLine).filter((l) => l.includes(`${user}(${uid})`) || l.includes(`user@${uid}.service`));
      expect(lines.slice(0, 4)).toEqual([
        `systemctl start user@${uid}.service`,
        `systemctl is-active user@${uid}.service`,
        `as ${user}(${uid}): podman unshare /bin/true`,
        `as ${user}(${uid}): moor __write-files`,
      ]);
      expect(calls).toContain(asUserLine(user, uid, 'podman unshare /bin/true'));
    }
    expect([...h.fake.podmanNamespaces].sort()).toEqual([1000, 1001]);
    expect(h.fake.startsWithoutNamespace).toEqual([]);
  });

  it('a slow one is waited for: the files are written meanwhile, no unit starts before it is there', async () => {
    h.commit(specs(['web']));
    const real = h.fake.run.bind(h.fake);
    let writtenWhileMaking = false;
    h.fake.run = async (argv, options) => {
      if (argv.at(-1) !== '/bin/true' || argv.at(-2) !== 'unshare') return real(argv, options);
      // Slow: done only once the files are there, or after 2 s (a pass that waited for it
      // before writing gets here with none).
      for (let i = 0; i < 200 && h.fake.userFiles('web').size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      writtenWhileMaking = h.fake.userFiles('web').size > 0;
      return real(argv, options);
    };
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(writtenWhileMaking).toBe(true);
    expect(h.fake.startsWithoutNamespace).toEqual([]);
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
  });

  it('is made again before a restart when the user manager was restarted since (its pause process went with it)', async () => {
    h.commit(specs(['web']));
    await h.pass();
    // A reboot, or an operator: the manager stops, and the namespace with it.
    await byHand(['systemctl', 'stop', 'user@1000.service']);
    expect(h.fake.podmanNamespaces.has(1000)).toBe(false);
    const { result, calls } = await h.pass();
    expect(result.items[0]).toMatchObject({ workload: 'web', action: 'drift', result: 'ok' });
    const lines = calls.map(normLine);
    expect(lines.indexOf('as web(1000): podman unshare /bin/true')).toBeGreaterThan(lines.indexOf('systemctl start user@1000.service'));
    expect(lines.indexOf('as web(1000): podman unshare /bin/true')).toBeLessThan(lines.indexOf('as web(1000): systemctl --user restart web.service'));
    expect(h.fake.startsWithoutNamespace).toEqual([]);
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
  });

  it('without podman on the PATH of commands as the user, fails the workload naming podman and the fix; nothing is left written, nothing started', async () => {
    // Root's tools check found podman (another PATH, or it went away since): the user's
    // own run of it is what fails.
    h.fake.podman = 'missing';
    const real = h.fake.run.bind(h.fake);
    h.fake.run = async (argv, options) => (argv.join(' ') === 'podman --version' ? { argv, exitCode: 0, stdout: 'podman version 5.4.2\n', stderr: '', durationMs: 0, timedOut: false } : real(argv, options));
    h.commit(specs(['web']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items[0]).toMatchObject({ workload: 'web', action: 'create', result: 'failed' });
    expect(result.items[0]!.error).toBe(
      'podman is not installed: no podman on /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, the PATH of commands moor runs as web; every workload runs under rootless Podman: install podman (and uidmap), then run the pass again; the new files were removed',
    );
    // The files were written while the namespace was being made; none is left, no unit started.
    const lines = calls.map(normLine);
    expect(lines).toContain('as web(1000): podman unshare /bin/true');
    expect(lines.filter((l) => / (start|restart) /.test(l) && l.startsWith('as web'))).toEqual([]);
    expect([...(h.fake.units.get('web')?.values() ?? [])].filter((u) => u.activeState === 'active')).toEqual([]);
    expect(h.fake.userFiles('web').size).toBe(0);
    expect(await (await h.openStore()).applied.read('web')).toBeUndefined();

    // Once podman is there, the next pass creates the workload.
    h.fake.podman = 'installed';
    const again = await h.pass();
    expect(again.result.items[0]).toMatchObject({ workload: 'web', action: 'create', result: 'ok' });
    expect(h.fake.startsWithoutNamespace).toEqual([]);
  });

  it('a podman that fails names the user and what to check', async () => {
    h.commit(specs(['web']));
    const real = h.fake.run.bind(h.fake);
    h.fake.run = async (argv, options) =>
      argv.at(-1) === '/bin/true' && argv.at(-2) === 'unshare'
        ? { argv: [...argv], exitCode: 125, stdout: '', stderr: 'Error: cannot set up namespace using "/usr/bin/newuidmap": exit status 1\n', durationMs: 5, timedOut: false }
        : real(argv, options);
    const { result } = await h.pass();
    expect(result.items[0]!.error).toMatch(
      /^preparing the Podman user namespace of web \(uid 1000\) failed: systemd-run .* -- podman unshare \/bin\/true exited 125 after 5 ms: Error: cannot set up namespace using "\/usr\/bin\/newuidmap": exit status 1; check that web has ranges in \/etc\/subuid and \/etc\/subgid and that newuidmap\/newgidmap \(uidmap\) are installed; the new files were removed$/,
    );
    expect(h.fake.userFiles('web').size).toBe(0);
  });
});
