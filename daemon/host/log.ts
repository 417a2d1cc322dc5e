// Logging through pino, formatted for where the lines go. When stderr is the journal
// (journal-stream.ts: JOURNAL_STREAM names fd 2) each line starts with a syslog priority
// prefix, `<3>` for errors, which journald strips and records as the line's priority, so
// `journalctl -p err -u moor` finds every failure. Anywhere else (a terminal, a script's
// pipe, an ssh session without a terminal) the same lines are plain readable text with the
// time and level. A record is one line, whatever its message and fields hold: control and
// invisible characters are escaped (core/safe-text.ts), so a newline cannot start a journal
// line with a priority of its own and an escape sequence cannot rewrite what `journalctl`
// shows.
import pino, { type Logger } from 'pino';
import { safeText } from '../core/safe-text';
import { stderrIsJournal } from './journal-stream';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type { Logger };

const PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LABEL: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

export interface LogSink {
  write(line: string): void;
  /** The lines go to the journal: priority prefixes, no time (journald adds its own). */
  journal: boolean;
}

/** moor's stderr, prefixed when (and only when) it is the journal. */
export function stderrSink(): LogSink {
  return { write: (line) => void process.stderr.write(line), journal: stderrIsJournal() };
}

/** One readable line for a pino record: message, then key=value fields. */
export function formatRecord(record: Record<string, unknown>, journal: boolean, now = new Date()): string {
  const level = Number(record.level ?? 30);
  const fields = Object.entries(record)
    .filter(([k, v]) => !OMIT.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const msg = String(record.msg ?? '');
  const body = safeText(fields ? `${msg} ${fields}` : msg);
  if (journal) return `<${PRIORITY[level] ?? 6}>${body}\n`;
  return `${now.toISOString().slice(11, 19)} ${LABEL[level] ?? 'INFO'} ${body}\n`;
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
          if (line) sink.write(formatRecord(JSON.parse(line) as Record<string, unknown>, journal));
        }
      },
    },
  );
}
