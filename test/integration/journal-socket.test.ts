// moor's records sent over a real unix datagram socket standing in for journald's
// /run/systemd/journal/socket: bound here with the same unix-dgram addon moor sends with.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MESSAGE_IDS } from '../../daemon/core/journal-entry';
import { journalSender, loadUnixDgramAddon, nativeJournal, underSystemd, type UnixDgramAddon } from '../../daemon/host/journal-socket';
import { createLogger, stderrSink } from '../../daemon/host/log';
import { logItem, type ItemOutcome } from '../../daemon/pass/pass-result';
import { decodeJournalEntry } from '../helpers/journal-entry';

interface DgramServer {
  bind(path: string): void;
  on(event: 'message', fn: (buf: Buffer) => void): void;
  close(): void;
}
const unixDgram = createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): DgramServer };

let dir: string;
let server: DgramServer | undefined;
let received: Array<Array<[string, string]>>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-journal-'));
  received = [];
});
afterEach(() => {
  server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in journald socket at `dir/socket`, collecting decoded entries. */
function listen(): string {
  const path = join(dir, 'socket');
  server = unixDgram.createSocket('unix_dgram');
  server.on('message', (buf) => void received.push(decodeJournalEntry(buf)));
  server.bind(path);
  return path;
}

async function until(n: number): Promise<void> {
  for (let i = 0; i < 100 && received.length < n; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('the native journal socket', () => {
  it('loads the unix-dgram addon installed with moor', () => {
    expect(loadUnixDgramAddon()).toBeDefined();
  });

  it('receives each record of a logger under systemd as one entry with its fields', async () => {
    const path = listen();
    const sink = stderrSink({ INVOCATION_ID: '0123' }, path);
    expect(sink.native).toBeDefined();
    const lines: string[] = [];
    const log = createLogger('info', { ...sink, write: (l) => void lines.push(l) });
    const item = { workload: 'web', user: 'moor-web', uid: 100100, action: 'create', result: 'failed', error: 'web.service failed\nsecond line', durationMs: 9 } as ItemOutcome;
    logItem(log, item, 3, 'feedc0de00112233');
    log.info('plain');
    await until(2);
    expect(lines).toEqual([]);
    expect(received).toHaveLength(2);
    expect(Object.fromEntries(received[0]!)).toMatchObject({
      SYSLOG_IDENTIFIER: 'moor',
      PRIORITY: '3',
      MOOR_WORKLOAD: 'web',
      MOOR_USER: 'moor-web',
      MOOR_GENERATION: '3',
      MOOR_COMMIT: 'feedc0de0011',
      MOOR_ACTION: 'create',
      MOOR_RESULT: 'failed',
      MESSAGE_ID: MESSAGE_IDS.workloadFailed,
    });
    expect(Object.fromEntries(received[1]!)).toEqual({ PRIORITY: '6', SYSLOG_IDENTIFIER: 'moor', MESSAGE: 'plain' });
  });

  it('is not used outside systemd, or when the socket is missing', () => {
    const path = listen();
    expect(underSystemd({})).toBe(false);
    expect(nativeJournal({}, path)).toBeUndefined();
    expect(stderrSink({}, path).native).toBeUndefined();
    expect(nativeJournal({ INVOCATION_ID: '0123' }, join(dir, 'absent'))).toBeUndefined();
  });

  it('reports a send nobody receives as not sent, so the record becomes a stderr line', () => {
    const addon = loadUnixDgramAddon()!;
    const gone = journalSender(addon, join(dir, 'nobody'));
    expect(gone(Buffer.from('MESSAGE=x\n'))).toBe(false);
    const lines: string[] = [];
    const log = createLogger('info', { journal: true, write: (l) => void lines.push(l), native: gone });
    log.warn({ workload: 'web' }, 'journald away');
    expect(lines).toEqual(['<4>journald away workload=web\n']);
  });

  it('waits, bounded, for a full queue to drain (EAGAIN), and closes its socket every time', () => {
    const calls: string[] = [];
    const addonAnswering = (answers: number[]): UnixDgramAddon => ({
      AF_UNIX: 1,
      SOCK_DGRAM: 2,
      socket: () => (calls.push('socket'), 7),
      sendto: () => (calls.push('sendto'), answers.length ? answers.shift()! : 1),
      close: () => (calls.push('close'), 0),
    });
    expect(journalSender(addonAnswering([1, 1, 0]), 'x')(Buffer.from('MESSAGE=x\n'))).toBe(true);
    expect(calls).toEqual(['socket', 'sendto', 'sendto', 'sendto', 'close']);
    calls.length = 0;
    const started = Date.now();
    expect(journalSender(addonAnswering([]), 'x')(Buffer.from('MESSAGE=x\n'))).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(calls.filter((c) => c === 'sendto')).toHaveLength(21);
    expect(calls.at(-1)).toBe('close');
    calls.length = 0;
    expect(journalSender(addonAnswering([-111]), 'x')(Buffer.from('MESSAGE=x\n'))).toBe(false);
    expect(calls).toEqual(['socket', 'sendto', 'close']);
  });
});
