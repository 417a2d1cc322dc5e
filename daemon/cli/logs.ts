// moor logs WORKLOAD: the workload's own output, every unit's, from the journal (core/unit-log.ts
// says what is kept and why); -f follows it until interrupted or stdout closes.
import type { Command } from 'commander';
import { HostError, UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { journalField, type JournalEntry } from '../core/parse/journal';
import { safeJson, safeText } from '../core/safe-text';
import { formatUnitLogLine, unitJournalCommandLine, unitLogLine, unitLogLines, type UnitJournalQuery, type UnitLogLine } from '../core/unit-log';
import { configFrom, type SetExit } from './common';

const MAX_LINES = 100_000;

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > MAX_LINES) throw new UsageError(`--lines: expected a whole number from 0 to ${MAX_LINES}, got "${safeText(value)}"`);
  return Number(value);
}

/**
 * Entries to ask journalctl for so that `lines` remain once the noise is dropped: each run
 * of a Quadlet unit adds about ten of Podman's and conmon's.
 */
const entriesFor = (lines: number) => Math.min(lines * 4 + 200, MAX_LINES * 4);

const HELP = `
What it reads, as root (trusted journal fields: the workload user's uid, the unit):
  journalctl _UID=<uid> _SYSTEMD_USER_UNIT=<unit> [_SYSTEMD_USER_UNIT=<unit>...]
and leaves out Podman's events, conmon's and podman's own warnings and the container id
podman prints; the user manager's messages ("Started", "Failed with result") are not
matched at all. The exact line for the workload is printed on stderr first.
`;

export function registerLogs(program: Command, setExit: SetExit): void {
  program
    .command('logs')
    .argument('<workload>', 'a workload of this host (moor status lists them)')
    .description("a workload's own output from the journal: every unit's lines, container output included, without the user manager's and Podman's")
    .option('-f, --follow', 'keep printing new lines until interrupted (SIGINT, SIGTERM) or stdout closes')
    .option('-n, --lines <n>', 'how many of the newest lines to print first', parseCount, 50)
    .option('--json', 'one JSON object a line: at, unit, identifier, priority, message, invocationId')
    .addHelpText('after', HELP)
    .action(async (workload: string, opts: { follow?: boolean; lines: number; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      // Loaded here, not with the command line: the other commands never need them (build.ts).
      const [{ ExecaRunner }, { readUnitJournal }, { workloadUnits }, { openStoreReadOnly }] = await Promise.all([import('../host/exec'), import('../host/journal'), import('../state/workload-units'), import('./pass-context')]);
      const found = await workloadUnits(await openStoreReadOnly(config), workload);
      if (!found) throw new UsageError(`no workload named "${safeText(workload)}" on this host (moor status lists them)`);
      if (found.uid === undefined) {
        throw new HostError(`workload ${found.workload} has no user on this host yet: no pass created ${found.user}, so nothing of it is in the journal (moor status says why)`);
      }
      const query: UnitJournalQuery = { uid: found.uid, units: found.units };
      process.stderr.write(`-- ${unitJournalCommandLine(query)} (without Podman's events and conmon's warnings) --\n`);
      // A reader that went away (`moor logs W | head`) ends the command, quietly: EPIPE.
      const stop = new AbortController();
      const onStdoutError = () => stop.abort();
      process.stdout.on('error', onStdoutError);
      const print = (l: UnitLogLine) => {
        if (stop.signal.aborted) return;
        const { cursor: _cursor, ...shown } = l;
        process.stdout.write(`${opts.json ? safeJson(JSON.stringify(shown)) : formatUnitLogLine(l)}\n`);
      };
      try {
        const read = await readUnitJournal(new ExecaRunner(), query, opts.follow && opts.lines === 0 ? 1 : entriesFor(opts.lines), config.timeouts.commandMs);
        if ('problem' in read) throw new HostError(`reading the journal of ${found.workload}: ${read.problem}`);
        const lines = unitLogLines(read.entries, query.units);
        for (const l of opts.lines === 0 ? [] : lines.slice(-opts.lines)) print(l);
        if (opts.follow && !stop.signal.aborted) await follow(query, read.entries.at(-1), print, stop);
      } finally {
        process.stdout.off('error', onStdoutError);
      }
      setExit(ExitCode.Ok);
    });
}

/**
 * journalctl --follow after the last entry read, until SIGINT or SIGTERM, stdout closing
 * (EPIPE on the next line), or journalctl ending. The child runs in its own process group,
 * so a terminal's Ctrl-C reaches moor, which ends it.
 */
async function follow(query: UnitJournalQuery, last: JournalEntry | undefined, print: (l: UnitLogLine) => void, stop: AbortController): Promise<void> {
  const end = () => stop.abort();
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  try {
    const cursor = last ? journalField(last, '__CURSOR') : undefined;
    const { followUnitJournal } = await import('../host/journal');
    const result = await followUnitJournal(query, {
      ...(cursor !== undefined ? { afterCursor: cursor } : {}),
      signal: stop.signal,
      onEntry: (entry) => {
        const l = unitLogLine(entry, query.units);
        if (l && !stop.signal.aborted) print(l);
      },
    });
    if (!result.stopped && result.exitCode !== 0) {
      throw new HostError(`journalctl --follow exited ${result.exitCode ?? 'by signal'}${result.stderr.trim() ? `: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`);
    }
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}
