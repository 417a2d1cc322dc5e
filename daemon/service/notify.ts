// sd_notify(3) for a Type=notify service: READY=1, STATUS=, WATCHDOG=1, RELOADING=1 and
// STOPPING=1. Node cannot send on a unix datagram socket by itself, so the messages go
// through the sd-notify native addon. When the addon cannot be loaded (not installed, or
// built for another Node ABI) but systemd is listening, they go through `systemd-notify`,
// which sends them with its parent's (our) PID, as root may, so NotifyAccess=main accepts
// them. Outside systemd, or with neither available, every call is a no-op after one
// warning. Nothing here ever throws: a notification must not take the daemon down.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { CommandRunner } from '../core/ports';
import { safeText } from '../core/safe-text';
import { besideBundle } from '../host/bundle-dir';
import type { Logger } from '../host/log';

export type NotifyBackendName = 'addon' | 'systemd-notify' | 'none';

export interface Notifier {
  readonly backend: NotifyBackendName;
  /** Half of WatchdogSec= when systemd expects keep-alive pings, else undefined. */
  readonly watchdogPingMs: number | undefined;
  ready(status?: string): void;
  reloading(): void;
  stopping(): void;
  status(text: string): void;
  watchdog(): void;
}

/** The raw functions of the sd-notify addon this module uses. */
export interface SdNotifyAddon {
  sendState(state: string): void;
}

export interface NotifierOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  pid?: number;
  /** Loads the addon; the default tries next to the bundle, then the sd-notify package. */
  loadAddon?: () => Promise<SdNotifyAddon>;
  /** Runs `systemd-notify` when the addon is missing; undefined disables that fallback. */
  runner?: CommandRunner;
  /** Whether a systemd-notify binary exists (a seam for tests). */
  hasSystemdNotify?: () => boolean;
}

export async function createNotifier(opts: NotifierOptions): Promise<Notifier> {
  const env = opts.env ?? process.env;
  const pid = opts.pid ?? process.pid;
  const log = opts.log;
  const watchdogPingMs = watchdogPingInterval(env, pid);
  if (!env.NOTIFY_SOCKET) {
    log.warn('NOTIFY_SOCKET is not set (not started by systemd as Type=notify): readiness, status and watchdog notifications are off');
    return makeNotifier('none', undefined, () => undefined, log);
  }
  try {
    const addon = await (opts.loadAddon ?? loadSdNotifyAddon)();
    if (typeof addon.sendState !== 'function') throw new Error('the module has no sendState function');
    return makeNotifier('addon', watchdogPingMs, (lines) => addon.sendState(lines.join('\n')), log);
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    const hasBinary = opts.hasSystemdNotify ?? (() => ['/usr/bin/systemd-notify', '/bin/systemd-notify'].some((p) => existsSync(p)));
    const runner = opts.runner;
    if (runner && hasBinary()) {
      log.warn({ err: why }, 'the sd-notify addon could not be loaded: notifying systemd through systemd-notify instead');
      return makeNotifier(
        'systemd-notify',
        watchdogPingMs,
        (lines) => {
          void runner.run(['systemd-notify', '--no-block', ...lines], { timeoutMs: 5_000 }).then(
            (r) => {
              if (r.exitCode !== 0) warnOnce(log, `systemd-notify exited ${r.exitCode ?? 'by signal'}: ${r.stderr.trim()}`);
            },
            (e: unknown) => warnOnce(log, `systemd-notify failed: ${(e as Error).message}`),
          );
        },
        log,
      );
    }
    log.warn({ err: why }, 'the sd-notify addon could not be loaded and systemd-notify is missing: systemd notifications are off (under Type=notify the start will time out)');
    return makeNotifier('none', undefined, () => undefined, log);
  }
}

const warned = new WeakSet<Logger>();
function warnOnce(log: Logger, message: string): void {
  if (warned.has(log)) return;
  warned.add(log);
  log.warn(`${message} (further notification failures are not logged)`);
}

function makeNotifier(backend: NotifyBackendName, watchdogPingMs: number | undefined, send: (lines: string[]) => void, log: Logger): Notifier {
  const safe = (lines: string[]) => {
    try {
      send(lines);
    } catch (err) {
      warnOnce(log, `sd_notify failed: ${(err as Error).message}`);
    }
  };
  return {
    backend,
    watchdogPingMs,
    ready: (status) => safe(['READY=1', ...(status !== undefined ? [statusLine(status)] : [])]),
    // MONOTONIC_USEC lets a systemd that knows Type=notify-reload tie the reload to this message.
    reloading: () => safe(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, statusLine('reloading the config')]),
    stopping: () => safe(['STOPPING=1', statusLine('stopping')]),
    status: (text) => safe([statusLine(text)]),
    watchdog: () => safe(['WATCHDOG=1']),
  };
}

/**
 * STATUS= is one line; systemd shows it in `systemctl status` and StatusText, so control
 * and invisible characters in it are escaped.
 */
export function statusLine(text: string): string {
  const one = safeText(text.replace(/[\r\n]+/g, ' ').trim());
  return `STATUS=${one.length > 400 ? `${one.slice(0, 399)}…` : one}`;
}

/**
 * How often to send WATCHDOG=1: half of WATCHDOG_USEC, when it is meant for this process
 * (WATCHDOG_PID unset or ours), as sd_watchdog_enabled(3) decides.
 */
export function watchdogPingInterval(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(Math.floor(usec / 2000), 1);
}

/**
 * The bundle ships the addon's compiled file beside moor.mjs (dist/sd-notify.node); from
 * source, the sd-notify package provides it.
 */
export async function loadSdNotifyAddon(): Promise<SdNotifyAddon> {
  const require = createRequire(import.meta.url);
  const sidecar = besideBundle('sd-notify.node');
  if (existsSync(sidecar)) return require(sidecar) as SdNotifyAddon;
  const mod = await import('sd-notify');
  return mod.default ?? mod;
}

/**
 * Sends WATCHDOG=1 every ping interval while `healthy()` holds. The timer lives on the
 * event loop: a loop blocked for longer than WatchdogSec sends nothing, and systemd
 * restarts the daemon, which is the point.
 */
export function startWatchdog(notifier: Notifier, healthy: () => boolean, log: Logger): () => void {
  const every = notifier.watchdogPingMs;
  if (every === undefined || notifier.backend === 'none') return () => undefined;
  log.debug({ every_ms: every }, 'watchdog pings on');
  let unhealthyLogged = false;
  const timer = setInterval(() => {
    if (healthy()) {
      unhealthyLogged = false;
      notifier.watchdog();
    } else if (!unhealthyLogged) {
      unhealthyLogged = true;
      log.error('the daemon is unhealthy: watchdog pings withheld so that systemd restarts it');
    }
  }, every);
  notifier.watchdog();
  return () => clearInterval(timer);
}
