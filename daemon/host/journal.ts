// The journal of a workload's units, read by root with field matches (core/unit-log.ts):
// journald's trusted fields _UID and _SYSTEMD_USER_UNIT pick the lines, so nothing the
// workload user controls (its files, its own journalctl, its environment) decides what
// is shown. Every read is bounded: a timeout, a number of entries, and journalctl's own
// 4096-byte cut of each field (no --all).
import type { CommandRunner } from '../core/ports';
import { parseJournalJson, parseJournalJsonLine, type JournalEntry } from '../core/parse/journal';
import { unitJournalArgv, type UnitJournalQuery } from '../core/unit-log';
import { runStreaming } from './exec';

export type JournalRead = { entries: JournalEntry[] } | { problem: string };

/** The newest `entries` entries of the units; a journal that cannot be read is a problem, not an exception. */
export async function readUnitJournal(runner: CommandRunner, q: UnitJournalQuery, entries: number, timeoutMs: number): Promise<JournalRead> {
  const result = await runner.run(unitJournalArgv(q, { entries }), { timeoutMs });
  if (result.timedOut) return { problem: `journalctl timed out after ${timeoutMs} ms` };
  if (result.exitCode !== 0) {
    const why = result.stderr.trim().split('\n').slice(-2).join(' | ');
    return { problem: `journalctl exited ${result.exitCode ?? 'by signal'}${why ? `: ${why}` : ''}` };
  }
  return { entries: parseJournalJson(result.stdout) };
}

export interface FollowOptions {
  /** Start after this entry; without it, only what comes next. */
  afterCursor?: string;
  onEntry: (entry: JournalEntry) => void;
  /** Aborting it ends journalctl (its process group) and resolves. */
  signal: AbortSignal;
}

/**
 * `journalctl --follow` of the units until `signal` aborts or journalctl ends. Output is
 * taken line by line; a line longer than 1 MiB (journalctl caps each field at 4096 bytes,
 * so never a real entry) is dropped.
 */
export async function followUnitJournal(q: UnitJournalQuery, opts: FollowOptions): Promise<{ exitCode: number | null; stderr: string; stopped: boolean }> {
  const argv = unitJournalArgv(q, { entries: 0, follow: true, ...(opts.afterCursor !== undefined ? { afterCursor: opts.afterCursor } : {}) });
  let pending = '';
  const result = await runStreaming(argv, {
    timeoutMs: 0,
    signal: opts.signal,
    onStdout: (chunk) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (pending.length > 1024 * 1024) pending = '';
      for (const line of lines) {
        const entry = parseJournalJsonLine(line);
        if (entry) opts.onEntry(entry);
      }
      return false;
    },
  });
  return { exitCode: result.exitCode, stderr: result.stderr, stopped: result.stopped };
}
