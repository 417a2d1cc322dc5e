// journald's native socket, where moor sends each log record as an entry with fields of its
// own (core/journal-entry.ts), so `journalctl MOOR_WORKLOAD=web` and `journalctl -t moor`
// work. Node cannot send on a unix datagram socket by itself; the unix-dgram addon does
// (the compiled file beside the bundle, else the package). Each entry opens a socket, sends
// and closes it: an open socket would keep a one-shot command's event loop alive, and moor
// logs a few dozen records a pass. A send that fails (journald restarting, its queue full
// beyond a short wait) returns false and the caller writes the record to stderr instead: a log line is never lost
// to the transport and never throws.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { besideBundle } from './bundle-dir';
import { stderrIsJournal } from './journal-stream';

export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** The raw functions of the unix-dgram addon this module uses. */
export interface UnixDgramAddon {
  AF_UNIX: number;
  SOCK_DGRAM: number;
  socket(domain: number, type: number, protocol: number, onMessage: () => void, onWritable: () => void): number;
  sendto(fd: number, buf: Buffer, offset: number, length: number, path: string): number;
  close(fd: number): number;
}

/** Sends one encoded entry; false when it did not reach the socket. */
export type JournalSend = (entry: Buffer) => boolean;

/** A sender to `path` over the addon: socket, sendto, close, each entry. */
export function journalSender(addon: UnixDgramAddon, path: string = JOURNAL_SOCKET): JournalSend {
  return (entry) => {
    let fd = -1;
    try {
      fd = addon.socket(addon.AF_UNIX, addon.SOCK_DGRAM, 0, noop, noop);
      if (fd < 0) return false;
      // 0 sent; 1 journald's queue is full (EAGAIN: the addon's socket never blocks);
      // negative an errno. A full queue drains in moments: wait for it as libsystemd's
      // blocking send would, but bounded, so a stuck journald costs a record its fields
      // (it becomes a stderr line), never the daemon its event loop.
      for (let attempt = 0; ; attempt++) {
        const sent = addon.sendto(fd, entry, 0, entry.length, path);
        if (sent !== 1 || attempt >= CONGESTION_RETRIES) return sent === 0;
        Atomics.wait(PAUSE, 0, 0, CONGESTION_PAUSE_MS);
      }
    } catch {
      return false;
    } finally {
      if (fd >= 0) addon.close(fd);
    }
  };
}

/**
 * Whether moor runs under systemd, where its records belong in the journal: stderr is the
 * journal (JOURNAL_STREAM names fd 2), or systemd started this process's unit
 * (INVOCATION_ID). A command typed in a terminal has neither and keeps its readable lines.
 */
export function underSystemd(env: NodeJS.ProcessEnv = process.env, stderrJournal = stderrIsJournal(env)): boolean {
  return stderrJournal || Boolean(env.INVOCATION_ID);
}

/**
 * The native sender when moor runs under systemd, the socket exists and the addon loads;
 * otherwise undefined, and records stay stderr lines as before.
 */
export function nativeJournal(env: NodeJS.ProcessEnv = process.env, path: string = JOURNAL_SOCKET): JournalSend | undefined {
  if (!underSystemd(env) || !existsSync(path)) return undefined;
  const addon = loadUnixDgramAddon();
  return addon ? journalSender(addon, path) : undefined;
}

/** The addon beside the bundle (dist/unix-dgram.node), else the installed package's; undefined when neither loads. */
export function loadUnixDgramAddon(): UnixDgramAddon | undefined {
  const here = fileURLToPath(import.meta.url);
  const require = createRequire(here);
  const candidates = [besideBundle('unix-dgram.node'), 'unix-dgram/build/Release/unix_dgram.node'];
  for (const candidate of candidates) {
    try {
      const addon = require(candidate) as UnixDgramAddon;
      if (typeof addon.sendto === 'function' && typeof addon.socket === 'function') return addon;
    } catch {
      // Not there, or built for another Node.js: the next candidate, then stderr lines.
    }
  }
  return undefined;
}

/** A full queue is waited on for at most CONGESTION_RETRIES × CONGESTION_PAUSE_MS per record. */
const CONGESTION_RETRIES = 20;
const CONGESTION_PAUSE_MS = 1;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function noop(): void {}
