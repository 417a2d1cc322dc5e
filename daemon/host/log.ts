// Logging through pino, formatted for where the lines go. Under systemd (stderr is
// not a terminal) each line starts with a syslog priority prefix, `<3>` for errors,
// which journald strips and records as the line's priority, so `journalctl -p err -u moor`
// finds every failure. On a terminal the same lines are plain readable text. A record is
// one line, whatever its message and fields hold: control and invisible characters are
// escaped (core/safe-text.ts), so a newline cannot start a journal line with a priority of
// its own and an escape sequence cannot rewrite what `journalctl` shows.
import pino, { type Logger } from 'pino';
import { safeText } from '../core/safe-text';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type { Logger };

const PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LABEL: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

export interface LogSink {
  write(line: string): void;
  isTTY?: boolean;
}

/** One readable line for a pino record: message, then key=value fields. */
export function formatRecord(record: Record<string, unknown>, tty: boolean, now = new Date()): string {
  const level = Number(record.level ?? 30);
  const fields = Object.entries(record)
    .filter(([k, v]) => !OMIT.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const msg = String(record.msg ?? '');
  const body = safeText(fields ? `${msg} ${fields}` : msg);
  if (tty) return `${now.toISOString().slice(11, 19)} ${LABEL[level] ?? 'INFO'} ${body}\n`;
  return `<${PRIORITY[level] ?? 6}>${body}\n`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'object' && v !== null && 'message' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}

export function createLogger(level: LogLevel = 'info', sink: LogSink = process.stderr): Logger {
  const tty = Boolean(sink.isTTY);
  return pino(
    { level, base: undefined, timestamp: false },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) {
          if (line) sink.write(formatRecord(JSON.parse(line) as Record<string, unknown>, tty));
        }
      },
    },
  );
}
