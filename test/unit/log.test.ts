import { fstatSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { journalStreamNames, stderrIsJournal, stderrLines } from '../../daemon/host/journal-stream';
import { createLogger, formatRecord } from '../../daemon/host/log';

function capture(journal: boolean) {
  const lines: string[] = [];
  const logger = createLogger('info', { journal, write: (l: string) => void lines.push(l) });
  return { logger, lines };
}

describe('log lines', () => {
  it('prefix each line with its syslog priority when they go to the journal', () => {
    const { logger, lines } = capture(true);
    logger.info({ workload: 'web', action: 'update', result: 'ok', duration_ms: 12 }, 'workload applied');
    logger.warn('lock busy');
    logger.error({ workload: 'api', error: 'web.service failed' }, 'workload failed');
    logger.debug('not shown at info');
    expect(lines).toEqual([
      '<6>workload applied workload=web action=update result=ok duration_ms=12\n',
      '<4>lock busy\n',
      '<3>workload failed workload=api error="web.service failed"\n',
    ]);
  });

  it('are readable text without a prefix anywhere else (a terminal, a pipe)', () => {
    const line = formatRecord({ level: 50, msg: 'workload failed', workload: 'api' }, false, new Date('2026-01-02T03:04:05Z'));
    expect(line).toBe('03:04:05 ERROR workload failed workload=api\n');
    const { logger, lines } = capture(false);
    logger.warn('lock busy');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN lock busy\n$/);
  });

  it('keep a record on one journal line: a newline and a priority in a field forge no second record', () => {
    const { logger, lines } = capture(true);
    const error = 'not loaded after daemon-reload: web.service — generator says: bad\n<0>moor: all workloads applied\r\x1b[2K';
    logger.error({ workload: 'web', error }, 'web: update failed');
    logger.info({ workload: 'web' }, 'web: update ok\n<0>forged');
    logger.info({ workload: 'web\n<0>forged', note: 'x\u202Eevil' }, 'ok');
    const records = lines.join('').split('\n').filter(Boolean);
    expect(records).toHaveLength(3);
    expect(records.every((r) => /^<[36]>/.test(r))).toBe(true);
    expect(records[0]).toBe('<3>web: update failed workload=web error="not loaded after daemon-reload: web.service — generator says: bad\\n<0>moor: all workloads applied\\r\\u001b[2K"');
    expect(records[1]).toBe('<6>web: update ok\\x0a<0>forged workload=web');
    expect(records[2]).toBe('<6>ok workload="web\\n<0>forged" note=x\\u{202E}evil');
  });

  it('escape control characters on a terminal too', () => {
    const line = formatRecord({ level: 30, msg: 'a\x1b]0;title\x07b', path: 'x\x1b[2Ky' }, false, new Date('2026-01-02T03:04:05Z'));
    expect(line).toBe('03:04:05 INFO a\\x1b]0;title\\x07b path=x\\x1b[2Ky\n');
  });
});

describe('stderr is the journal', () => {
  const stream = { dev: 64769n, ino: 18446744073709551557n };

  it('when JOURNAL_STREAM names the stream: device and inode, both decimal', () => {
    expect(journalStreamNames('64769:18446744073709551557', stream)).toBe(true);
  });

  it('not when JOURNAL_STREAM is unset, empty, malformed, or names another stream (inherited, stderr redirected)', () => {
    expect(journalStreamNames(undefined, stream)).toBe(false);
    expect(journalStreamNames('', stream)).toBe(false);
    expect(journalStreamNames('64769', stream)).toBe(false);
    expect(journalStreamNames('64769:x', stream)).toBe(false);
    expect(journalStreamNames('64769:18446744073709551557:1', stream)).toBe(false);
    expect(journalStreamNames('64770:18446744073709551557', stream)).toBe(false);
    expect(journalStreamNames('64769:18446744073709551556', stream)).toBe(false);
    expect(journalStreamNames('64769:18446744073709551557', undefined)).toBe(false);
  });

  it("decided from this process's own fd 2", () => {
    const st = fstatSync(2, { bigint: true });
    expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` })).toBe(true);
    expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` })).toBe(false);
    expect(stderrIsJournal({})).toBe(false);
  });

  it('prefixes every line of a message only then', () => {
    expect(stderrLines(3, 'moor: failed\n  because', true)).toBe('<3>moor: failed\n<3>  because\n');
    expect(stderrLines(3, 'moor: failed\n  because', false)).toBe('moor: failed\n  because\n');
  });
});
