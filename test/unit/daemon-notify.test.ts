// The sd_notify wrapper: outside systemd, without the addon, or with an addon that throws,
// every call is a harmless no-op after ONE warning; the systemd-notify fallback sends the
// same assignments; the watchdog interval follows WATCHDOG_USEC/WATCHDOG_PID; the pings
// stop while the daemon is unhealthy.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createNotifier, startWatchdog, statusLine, watchdogPingInterval, type Notifier } from '../../daemon/service/notify';
import type { CommandResult, CommandRunner, RunOptions } from '../../daemon/core/ports';
import { createLogger } from '../../daemon/host/log';

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger('debug', { write: (l) => void lines.push(l), journal: true }) };
}

const warnings = (lines: string[]) => lines.filter((l) => l.startsWith('<4>'));

function exercise(n: Notifier): void {
  n.ready('ready');
  n.status('gen 1 @abc1234: 1 applied');
  n.reloading();
  n.ready();
  n.watchdog();
  n.stopping();
}

class RecordingRunner implements CommandRunner {
  readonly calls: string[][] = [];
  async run(argv: readonly string[], _options: RunOptions): Promise<CommandResult> {
    this.calls.push([...argv]);
    return { argv, exitCode: 0, stdout: '', stderr: '', durationMs: 0, timedOut: false };
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the notifier', () => {
  it('without NOTIFY_SOCKET: no-ops, one warning, and the addon is not even loaded', async () => {
    const { lines, log } = capture();
    const loadAddon = vi.fn();
    const n = await createNotifier({ log, env: {}, loadAddon });
    expect(n.backend).toBe('none');
    expect(n.watchdogPingMs).toBeUndefined();
    exercise(n);
    expect(loadAddon).not.toHaveBeenCalled();
    expect(warnings(lines)).toHaveLength(1);
    expect(warnings(lines)[0]).toMatch(/NOTIFY_SOCKET is not set/);
  });

  it('sends each message through the addon as sd_notify assignments', async () => {
    const { log } = capture();
    const sent: string[] = [];
    const n = await createNotifier({ log, env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '60000000' }, pid: 42, loadAddon: async () => ({ sendState: (s) => void sent.push(s) }) });
    expect(n.backend).toBe('addon');
    expect(n.watchdogPingMs).toBe(30_000);
    exercise(n);
    expect(sent[0]).toBe('READY=1\nSTATUS=ready');
    expect(sent[1]).toBe('STATUS=gen 1 @abc1234: 1 applied');
    expect(sent[2]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading the config$/);
    expect(sent.slice(3)).toEqual(['READY=1', 'WATCHDOG=1', 'STOPPING=1\nSTATUS=stopping']);
  });

  it('when the addon cannot be loaded: systemd-notify carries the same assignments, after one warning', async () => {
    const { lines, log } = capture();
    const runner = new RecordingRunner();
    const n = await createNotifier({
      log,
      env: { NOTIFY_SOCKET: '/run/systemd/notify' },
      loadAddon: async () => {
        throw new Error("Cannot find module 'sd-notify'");
      },
      runner,
      hasSystemdNotify: () => true,
    });
    expect(n.backend).toBe('systemd-notify');
    n.ready('up');
    n.watchdog();
    await new Promise((r) => setImmediate(r));
    expect(runner.calls).toEqual([
      ['systemd-notify', '--no-block', 'READY=1', 'STATUS=up'],
      ['systemd-notify', '--no-block', 'WATCHDOG=1'],
    ]);
    expect(warnings(lines)).toHaveLength(1);
    expect(warnings(lines)[0]).toMatch(/sd-notify addon could not be loaded.*systemd-notify/);
  });

  it('with neither the addon nor systemd-notify: no-ops after one warning, never a throw', async () => {
    const { lines, log } = capture();
    const n = await createNotifier({
      log,
      env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '1000000' },
      loadAddon: async () => {
        throw new Error('was compiled against a different Node.js version');
      },
      runner: new RecordingRunner(),
      hasSystemdNotify: () => false,
    });
    expect(n.backend).toBe('none');
    expect(() => exercise(n)).not.toThrow();
    expect(warnings(lines)).toHaveLength(1);
  });

  it('an addon that throws on send costs one warning, never a crash', async () => {
    const { lines, log } = capture();
    const n = await createNotifier({
      log,
      env: { NOTIFY_SOCKET: '/nonexistent/notify' },
      loadAddon: async () => ({
        sendState: () => {
          throw new Error('sendmsg: ENOENT');
        },
      }),
    });
    expect(() => exercise(n)).not.toThrow();
    expect(() => exercise(n)).not.toThrow();
    expect(warnings(lines)).toHaveLength(1);
  });

  it('loads the real addon (sd-notify is installed here) and sends to a missing socket without throwing', async () => {
    const { lines, log } = capture();
    const n = await createNotifier({ log, env: { NOTIFY_SOCKET: '/nonexistent/moor-test-notify' } });
    expect(n.backend).toBe('addon');
    expect(() => exercise(n)).not.toThrow();
    expect(warnings(lines)).toHaveLength(0);
  });
});

describe('watchdogPingInterval', () => {
  it('is half of WATCHDOG_USEC, in ms', () => {
    expect(watchdogPingInterval({ WATCHDOG_USEC: '60000000' }, 7)).toBe(30_000);
    expect(watchdogPingInterval({ WATCHDOG_USEC: '1000' }, 7)).toBe(1);
  });
  it('is off without WATCHDOG_USEC, with a bad one, or when WATCHDOG_PID names another process', () => {
    expect(watchdogPingInterval({}, 7)).toBeUndefined();
    expect(watchdogPingInterval({ WATCHDOG_USEC: 'soon' }, 7)).toBeUndefined();
    expect(watchdogPingInterval({ WATCHDOG_USEC: '0' }, 7)).toBeUndefined();
    expect(watchdogPingInterval({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '8' }, 7)).toBeUndefined();
    expect(watchdogPingInterval({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '7' }, 7)).toBe(30_000);
  });
});

describe('statusLine', () => {
  it('is one line, bounded', () => {
    expect(statusLine('a\nb\r\nc')).toBe('STATUS=a b c');
    expect(statusLine('x'.repeat(1000)).length).toBeLessThanOrEqual(7 + 400);
  });

  it('shows escape sequences and bidi controls escaped, as `systemctl status` prints it on a terminal', () => {
    expect(statusLine('pass failed: HostError: \x1b[2K\x1b[1Aok \u202Eevil')).toBe('STATUS=pass failed: HostError: \\x1b[2K\\x1b[1Aok \\u{202E}evil');
  });
});

describe('startWatchdog', () => {
  it('pings every interval while healthy, withholds pings (logging once) while not', async () => {
    vi.useFakeTimers();
    const { lines, log } = capture();
    const sent: string[] = [];
    const n = await createNotifier({ log, env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '2000000' }, loadAddon: async () => ({ sendState: (s) => void sent.push(s) }) });
    let healthy = true;
    const stop = startWatchdog(n, () => healthy, log);
    expect(sent).toEqual(['WATCHDOG=1']);
    vi.advanceTimersByTime(3_000);
    expect(sent).toHaveLength(4);
    healthy = false;
    vi.advanceTimersByTime(5_000);
    expect(sent).toHaveLength(4);
    expect(lines.filter((l) => l.startsWith('<3>') && l.includes('watchdog pings withheld'))).toHaveLength(1);
    healthy = true;
    vi.advanceTimersByTime(1_000);
    expect(sent).toHaveLength(5);
    stop();
    vi.advanceTimersByTime(10_000);
    expect(sent).toHaveLength(5);
  });

  it('does nothing when systemd set no watchdog', async () => {
    vi.useFakeTimers();
    const { log } = capture();
    const sent: string[] = [];
    const n = await createNotifier({ log, env: { NOTIFY_SOCKET: '/x' }, loadAddon: async () => ({ sendState: (s) => void sent.push(s) }) });
    const stop = startWatchdog(n, () => true, log);
    vi.advanceTimersByTime(600_000);
    expect(sent).toEqual([]);
    stop();
  });
});
