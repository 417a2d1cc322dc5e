import { describe, expect, it } from 'vitest';
import { FIELD_OF_LOG_KEY, MAX_ENTRY_BYTES, MESSAGE_IDS, encodeJournalEntry, journalFields, priorityOfLevel } from '../../daemon/core/journal-entry';
import { createLogger, journalEntryOf } from '../../daemon/host/log';
import { logItem, logPassFinished, logPassStarted, type ItemOutcome, type PassResult } from '../../daemon/pass/pass-result';
import { decodeJournalEntry } from '../helpers/journal-entry';

/** A logger whose records are captured as native entries (a socket that accepts everything). */
function nativeCapture() {
  const entries: Array<Array<[string, string]>> = [];
  const lines: string[] = [];
  const log = createLogger('info', {
    journal: true,
    write: (l) => void lines.push(l),
    native: (entry) => {
      entries.push(decodeJournalEntry(entry));
      return true;
    },
  });
  return { log, entries, lines };
}

const field = (entry: Array<[string, string]>, name: string) => entry.filter(([n]) => n === name).map(([, v]) => v);

describe('native journal entries', () => {
  it('write KEY=value lines, and the binary-safe form (name, 64-bit LE length, value) for a value with a newline', () => {
    const entry = encodeJournalEntry([['MESSAGE', 'hi'], ['MOOR_WORKLOAD', 'a\nb']]);
    const expected = Buffer.concat([
      Buffer.from('MESSAGE=hi\nMOOR_WORKLOAD\n'),
      Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('a\nb\n'),
    ]);
    expect(entry.equals(expected)).toBe(true);
  });

  it('count the length in bytes, not characters', () => {
    const entry = encodeJournalEntry([['MESSAGE', 'é\n']]);
    expect(entry.readBigUInt64LE('MESSAGE\n'.length)).toBe(3n);
    expect(decodeJournalEntry(entry)).toEqual([['MESSAGE', 'é\n']]);
  });

  it('refuse a field name journald would drop the entry for', () => {
    for (const bad of ['_PID', 'moor_workload', '1X', 'A-B', 'A=B', 'A\nB', '', 'X'.repeat(65)]) {
      expect(() => encodeJournalEntry([[bad, 'v']]), bad).toThrow(/invalid journal field name/);
    }
    expect(() => encodeJournalEntry([['X'.repeat(64), 'v']])).not.toThrow();
  });

  it('map every pino field of the table to a valid journal name', () => {
    for (const name of Object.values(FIELD_OF_LOG_KEY)) expect(() => encodeJournalEntry([[name, 'v']])).not.toThrow();
    for (const id of Object.values(MESSAGE_IDS)) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(Object.values(MESSAGE_IDS)).size).toBe(Object.keys(MESSAGE_IDS).length);
  });

  it('carry PRIORITY, SYSLOG_IDENTIFIER=moor, MESSAGE and the mapped fields; others stay in MESSAGE only', () => {
    const fields = journalFields({ level: 50, msg: 'x', workload: 'web', generation: 7, duration_ms: 3, commit: '' }, 'web: update failed');
    expect(fields).toEqual([
      ['PRIORITY', '3'],
      ['SYSLOG_IDENTIFIER', 'moor'],
      ['MESSAGE', 'web: update failed'],
      ['MOOR_WORKLOAD', 'web'],
      ['MOOR_GENERATION', '7'],
    ]);
    expect([60, 50, 40, 30, 20, 10].map(priorityOfLevel)).toEqual([2, 3, 4, 6, 7, 7]);
  });

  it('let no value forge a field: a newline and a field after it stay inside the one value', () => {
    const { log, entries } = nativeCapture();
    const workload = 'web\nMOOR_RESULT=ok\nPRIORITY=7';
    log.error({ workload, result: 'failed', error: 'boom\nMESSAGE_ID=00000000000000000000000000000000' }, 'web: update failed');
    const entry = entries[0]!;
    expect(field(entry, 'MOOR_WORKLOAD')).toEqual([workload]);
    expect(field(entry, 'MOOR_RESULT')).toEqual(['failed']);
    expect(field(entry, 'PRIORITY')).toEqual(['3']);
    expect(field(entry, 'MESSAGE_ID')).toEqual([]);
    // MESSAGE is the escaped line, as on stderr: one line whatever the fields hold.
    expect(field(entry, 'MESSAGE')[0]).not.toContain('\n');
    expect(field(entry, 'MESSAGE')[0]).toContain('workload="web\\nMOOR_RESULT=ok\\nPRIORITY=7"');
  });

  it('give an item its workload, user, generation, commit, action and result, and a failed one its MESSAGE_ID', () => {
    const { log, entries, lines } = nativeCapture();
    const item: ItemOutcome = { workload: 'web', user: 'moor-web', uid: 100100, action: 'update', result: 'failed', error: 'web.service failed', durationMs: 5 } as ItemOutcome;
    logItem(log, item, 12, '0123456789abcdef0123');
    logItem(log, { ...item, result: 'ok', error: undefined } as ItemOutcome, 12, '0123456789abcdef0123');
    expect(lines).toEqual([]);
    const [failed, ok] = entries;
    expect(Object.fromEntries(failed!)).toMatchObject({
      SYSLOG_IDENTIFIER: 'moor',
      PRIORITY: '3',
      MOOR_WORKLOAD: 'web',
      MOOR_USER: 'moor-web',
      MOOR_GENERATION: '12',
      MOOR_COMMIT: '0123456789ab',
      MOOR_ACTION: 'update',
      MOOR_RESULT: 'failed',
      MESSAGE_ID: MESSAGE_IDS.workloadFailed,
    });
    expect(field(failed!, 'MESSAGE')[0]).not.toContain('message_id');
    expect(Object.fromEntries(ok!)).toMatchObject({ PRIORITY: '6', MOOR_RESULT: 'ok' });
    expect(field(ok!, 'MESSAGE_ID')).toEqual([]);
  });

  it('announce a pass started and finished with their MESSAGE_IDs', () => {
    const { log, entries } = nativeCapture();
    logPassStarted(log, 'timer');
    logPassFinished(log, { exitCode: 1, summary: '1 failed', generation: 4, commit: 'abcdef0123456789' } as PassResult);
    expect(Object.fromEntries(entries[0]!)).toMatchObject({ MESSAGE_ID: MESSAGE_IDS.passStarted, PRIORITY: '6' });
    expect(Object.fromEntries(entries[1]!)).toMatchObject({ MESSAGE_ID: MESSAGE_IDS.passFinished, PRIORITY: '3', MOOR_EXIT_CODE: '1', MOOR_GENERATION: '4' });
    expect(field(entries[1]!, 'MESSAGE')).toEqual(['pass ended with exit 1: 1 failed exit=1 generation=4']);
  });

  it('write a record too large for one datagram, or one the socket refuses, as the stderr line', () => {
    const lines: string[] = [];
    const sent: Buffer[] = [];
    let accept = true;
    const log = createLogger('info', { journal: true, write: (l) => void lines.push(l), native: (e) => (sent.push(e), accept) });
    log.error({ workload: 'web', error: 'x'.repeat(MAX_ENTRY_BYTES) }, 'huge');
    expect(journalEntryOf({ level: 30, msg: 'x'.repeat(MAX_ENTRY_BYTES) })).toBeUndefined();
    expect(sent).toHaveLength(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^<3>huge workload=web/);
    accept = false;
    log.warn({ workload: 'web' }, 'refused');
    expect(sent).toHaveLength(1);
    expect(lines[1]).toBe('<4>refused workload=web\n');
  });
});
