// daemon-reload and restarts over D-Bus (host/user-bus.ts), against a manager played by a
// D-Bus server on a real unix socket at the path UserBus asks (its runtimeDir seam): what
// UserManager does with each answer, and that a manager that stays silent (it may be the
// user's own program) neither stalls the pass nor has a unit restarted twice.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dbus from 'dbus-native';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandResult, CommandRunner } from '../../daemon/core/ports';
import { UserManager } from '../../daemon/host/systemd';
import { UserBus } from '../../daemon/host/user-bus';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

interface Call {
  type?: number;
  serial?: number;
  member?: string;
  sender?: string;
  body?: unknown[];
}

/** How the played manager ends a restart job: its JobRemoved result, or never. */
type JobEnd = 'done' | 'failed' | 'never';

/** A manager at <runtimeDir>/1000/systemd/private: answers Reload and Subscribe, queues RestartUnit's job and ends it as told. */
async function playedManager(opts: { jobEnd?: JobEnd; silent?: boolean; controlGroup?: string; lazy?: boolean } = {}): Promise<{ runtimeDir: string; calls: string[] }> {
  const runtimeDir = mkdtempSync(join(tmpdir(), 'moor-user-bus-jobs-'));
  mkdirSync(join(runtimeDir, '1000', 'systemd'), { recursive: true });
  const calls: string[] = [];
  let serial = 1;
  const server = dbus.createServer((conn) => {
    // lazy: as systemd does with a request it read together with the one before, a
    // RestartUnit is answered only once more input arrives (a ping will do).
    let held: (() => void) | undefined;
    conn.on('message', (m: Call) => {
      if (opts.lazy && held && m.type === 1) {
        const answer = held;
        held = undefined;
        answer();
      }
      if (m.type !== 1 || m.member === 'Ping') return;
      if (m.member === 'Get' && m.body?.[1] === 'ControlGroup' && !opts.silent) {
        // Whose manager this is: user@1000.service's, unless told to answer as another.
        conn.message({ serial: serial++, type: 2, replySerial: m.serial, signature: 'v', body: [['s', opts.controlGroup ?? '/user.slice/user-1000.slice/user@1000.service']] });
        return;
      }
      calls.push(m.member === 'RestartUnit' ? `RestartUnit ${String(m.body?.[0])} ${String(m.body?.[1])}` : String(m.member));
      if (opts.silent) return;
      if (m.member === 'RestartUnit') {
        const job = `/org/freedesktop/systemd1/job/${serial}`;
        const reply = () => conn.message({ serial: serial++, type: 2, replySerial: m.serial, signature: 'o', body: [job] });
        if (opts.lazy) held = reply;
        else reply();
        if (opts.jobEnd !== 'never') {
          setTimeout(() => {
            conn.message({ serial: serial++, type: 4, path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager', member: 'JobRemoved', signature: 'uoss', body: [7, job, m.body?.[0], opts.jobEnd ?? 'done'] });
          }, 30);
        }
        return;
      }
      conn.message({ serial: serial++, type: 2, replySerial: m.serial });
    });
    conn.on('error', () => undefined);
  });
  const socket = join(runtimeDir, '1000', 'systemd', 'private');
  const listening = (server as unknown as { listen(path: string): { close(): void } }).listen(socket);
  await new Promise((r) => setTimeout(r, 50));
  cleanups.push(() => {
    listening.close();
    rmSync(runtimeDir, { recursive: true, force: true });
  });
  return { runtimeDir, calls };
}

function recorder(): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run: async (argv): Promise<CommandResult> => {
      calls.push(argv.slice(argv.indexOf('--') + 1).join(' '));
      return { argv: [...argv], exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
    },
  };
}

const who = { user: 'web', uid: 1000 };

function manager(runtimeDir: string, runner: CommandRunner, timeoutMs = 2_000): UserManager {
  const bus = new UserBus({ timeoutMs: 300, runtimeDir });
  return new UserManager(runner, { bus, jobs: bus, timeoutMs, startTimeoutMs: timeoutMs });
}

describe('reload and restart over D-Bus', () => {
  it('daemon-reload is a Reload, a restart a RestartUnit whose job ended done: no systemctl', async () => {
    const played = await playedManager();
    const runner = recorder();
    const um = manager(played.runtimeDir, runner);
    await um.daemonReload(who);
    await um.restart(who, ['web.service', 'web-db.service']);
    expect(played.calls).toEqual(['Reload', 'Subscribe', 'RestartUnit web.service replace', 'RestartUnit web-db.service replace']);
    expect(runner.calls).toEqual([]);
  });

  it('a job that ended failed fails the restart, naming the unit and the result, and is not tried again', async () => {
    const played = await playedManager({ jobEnd: 'failed' });
    const runner = recorder();
    await expect(manager(played.runtimeDir, runner).restart(who, ['web.service'])).rejects.toThrow("job for web.service ended with result 'failed'");
    expect(runner.calls).toEqual([]);
  });

  it('a job whose end never comes is an error at the bound, not a second restart', async () => {
    const played = await playedManager({ jobEnd: 'never' });
    const runner = recorder();
    const started = performance.now();
    await expect(manager(played.runtimeDir, runner, 500).restart(who, ['web.service'])).rejects.toThrow(/over D-Bus/);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(played.calls).toEqual(['Subscribe', 'RestartUnit web.service replace']);
    expect(runner.calls).toEqual([]);
  });

  it('a manager that answers nothing: systemctl reloads and restarts instead, within the bounds', async () => {
    const played = await playedManager({ silent: true });
    const runner = recorder();
    const um = manager(played.runtimeDir, runner, 600);
    const started = performance.now();
    await um.daemonReload(who);
    await um.restart(who, ['web.service']);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(runner.calls).toEqual(['systemctl --user daemon-reload', 'systemctl --user restart web.service']);
  });

  it('a socket answered by another manager (PID 1 behind a symlink the user made, another user\'s): nothing is asked of it, systemctl instead', async () => {
    for (const controlGroup of ['/', '', '/init.scope', '/user.slice/user-1001.slice/user@1001.service', '/user.slice/user-1000.slice/user@1000.service/app.slice']) {
      const played = await playedManager({ controlGroup });
      const runner = recorder();
      const um = manager(played.runtimeDir, runner);
      await um.daemonReload(who);
      await um.restart(who, ['web.service']);
      expect(await um.show(who, ['web.service'], ['ActiveState']).catch(() => 'asked systemctl')).toBe('asked systemctl');
      expect(played.calls, controlGroup).toEqual([]);
      expect(runner.calls.slice(0, 2)).toEqual(['systemctl --user daemon-reload', 'systemctl --user restart web.service']);
    }
  });

  it('a question the manager leaves unread until more input comes is answered: pings go on while one is unanswered', async () => {
    // Its signals and the answer to the first question do not stop the pings: here the
    // RestartUnit after the identity question waits for one.
    const played = await playedManager({ lazy: true });
    const runner = recorder();
    await manager(played.runtimeDir, runner).restart(who, ['web.service']);
    expect(played.calls).toEqual(['Subscribe', 'RestartUnit web.service replace']);
    expect(runner.calls).toEqual([]);
  });

  it('no socket at all: systemctl, at once', async () => {
    const runner = recorder();
    const um = manager(join(tmpdir(), 'moor-no-such-runtime-dir'), runner);
    await um.daemonReload(who);
    await um.restart(who, ['web.service']);
    expect(runner.calls).toEqual(['systemctl --user daemon-reload', 'systemctl --user restart web.service']);
  });
});
