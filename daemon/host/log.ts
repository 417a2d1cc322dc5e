// Logging through pino, formatted for where the lines go. When stderr is the journal
// (journal-stream.ts: JOURNAL_STREAM names fd 2) each line starts with a syslog priority
// prefix, `<3>` for errors, which journald strips and records as the line's priority, so
// `journalctl -p err -u moor` finds every failure. Anywhere else (a terminal, a script's
// pipe, an ssh session without a terminal) the same lines are plain readable text with the
// time and level. A record is one line, whatever its message and fields hold: control and
// invisible characters are escaped (core/safe-text.ts), so a newline cannot start a journal
// line with a priority of its own and an escape sequence cannot rewrite what `journalctl`
// shows.
//
// Under systemd, with journald's socket at hand, each record is sent instead as a native
// journal entry (journal-socket.ts): the same line as MESSAGE, with PRIORITY,
// SYSLOG_IDENTIFIER=moor and the MOOR_* fields and MESSAGE_ID of core/journal-entry.ts, so
// `journalctl MOOR_WORKLOAD=web` finds a workload's records. An entry too large for one
// datagram, or one the socket refuses, is written as the stderr line instead.
import pino, { type Logger } from 'pino';
import { MAX_ENTRY_BYTES, MESSAGE_ID_KEY, encodeJournalEntry, journalFields } from '../core/journal-entry';
import { safeText } from '../core/safe-text';
import { nativeJournal, type JournalSend } from './journal-socket';
import { stderrIsJournal } from './journal-stream';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type { Logger };

const PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LABEL: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
// The MESSAGE_ID is for machines: a field of the native entry, not part of the line.
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg', MESSAGE_ID_KEY]);

export interface LogSink {
  write(line: string): void;
  /** The lines go to the journal: priority prefixes, no time (journald adds its own). */
  journal: boolean;
  /** journald's native socket: records go there first, as entries with fields. */
  native?: JournalSend;
}

/**
 * moor's stderr, prefixed when (and only when) it is the journal; under systemd, journald's
 * native socket first.
 */
export function stderrSink(env: NodeJS.ProcessEnv = process.env, journalSocket?: string): LogSink {
  const native = nativeJournal(env, journalSocket);
  return { write: (line) => void process.stderr.write(line), journal: stderrIsJournal(env), ...(native ? { native } : {}) };
}

/** One readable line for a pino record: message, then key=value fields. */
export function formatRecord(record: Record<string, unknown>, journal: boolean, now = new Date()): string {
  const level = Number(record.level ?? 30);
  const body = recordBody(record);
  if (journal) return `<${PRIORITY[level] ?? 6}>${body}\n`;
  return `${now.toISOString().slice(11, 19)} ${LABEL[level] ?? 'INFO'} ${body}\n`;
}

/** The message and its key=value fields, escaped: the line's text and the entry's MESSAGE. */
function recordBody(record: Record<string, unknown>): string {
  const fields = Object.entries(record)
    .filter(([k, v]) => !OMIT.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const msg = String(record.msg ?? '');
  return safeText(fields ? `${msg} ${fields}` : msg);
}

/** The record as a native journal entry, or undefined when it is too large for one datagram. */
export function journalEntryOf(record: Record<string, unknown>): Buffer | undefined {
  const entry = encodeJournalEntry(journalFields(record, recordBody(record)));
  return entry.length <= MAX_ENTRY_BYTES ? entry : undefined;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'object' && v !== null && 'message' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}

export function createLogger(level: LogLevel = 'info', sink: LogSink = stderrSink()): Logger {
  const journal = sink.journal;
  return pino(
    { level, base: undefined, timestamp: false },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) {
          if (!line) continue;
          const record = JSON.parse(line) as Record<string, unknown>;
          const entry = sink.native ? journalEntryOf(record) : undefined;
          if (entry && sink.native!(entry)) continue;
          sink.write(formatRecord(record, journal));
        }
      },
    },
  );
}
