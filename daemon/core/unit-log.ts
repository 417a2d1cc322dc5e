// A workload's own log: what its units wrote to the journal, without the user manager's
// messages and Podman's bookkeeping. A failure message quotes it (the health gate) and
// `moor logs` shows it. Pure: the journalctl argv, the filter and the formatting; host/
// runs journalctl.
//
// What the journal holds, read as root (verified on systemd 257 with Podman 5.4, a Quadlet
// container and a plain service of a lingering user):
// - every line a unit's own processes write carries the trusted fields _UID=<the workload
//   user's uid>, _SYSTEMD_USER_UNIT=<the unit> (journald derives it from the writer's
//   cgroup) and _SYSTEMD_INVOCATION_ID=<the run's InvocationID>. That is a plain service's
//   stdout and stderr (_TRANSPORT=stdout, SYSLOG_IDENTIFIER=its program), podman's own
//   stderr under Quadlet ("Error: ... image not known", _TRANSPORT=stdout,
//   SYSLOG_IDENTIFIER=the unit's name without ".service", _COMM=podman), and the
//   container's output, which conmon writes (_TRANSPORT=journal, _COMM=conmon,
//   CONTAINER_NAME=systemd-<name>, SYSLOG_IDENTIFIER=the container's name, PRIORITY=3 for
//   its stderr and 6 for its stdout): conmon runs in the unit's cgroup.
// - the user manager's own messages about a unit ("Started", "Main process exited",
//   "Failed with result", "Killing process ... (podman pause)") come from the manager:
//   _SYSTEMD_USER_UNIT=init.scope, with USER_UNIT=<the unit> and USER_INVOCATION_ID. The
//   match on _SYSTEMD_USER_UNIT leaves them out (`journalctl --user -u UNIT` adds them).
// - in the unit's own cgroup, but noise: Podman's events (its journald events backend:
//   SYSLOG_IDENTIFIER=podman with PODMAN_EVENT=create, init, start, died, remove, pull...),
//   conmon's own warnings (SYSLOG_IDENTIFIER=conmon, _TRANSPORT=syslog, "conmon <id>
//   <nwarn>: Failed to open cgroups file: /sys/fs/cgroup/memory.events"), podman's logrus
//   warnings on stderr (`time="..." level=warning msg="..."`) and the container id that
//   `podman run -d` prints. `isNoise` leaves them out; a journalctl match cannot exclude
//   them, so the command line for people shows them.
// - a line whose writer exited before journald read its metadata loses _SYSTEMD_USER_UNIT
//   and _SYSTEMD_INVOCATION_ID (seen for a one-line `sh` of a user unit): such a line is
//   found only under `journalctl _UID=<uid>`.
import { journalField, type JournalEntry } from './parse/journal';
import type { UnitProperties } from './parse/systemctl-show';
import { safeText } from './safe-text';

/** Whose journal: the workload user's uid and the units of the workload. */
export interface UnitJournalQuery {
  uid: number;
  units: readonly string[];
}

/** The fields moor reads; journalctl adds __CURSOR and __REALTIME_TIMESTAMP itself. */
export const UNIT_LOG_FIELDS = [
  'MESSAGE',
  'PRIORITY',
  'SYSLOG_IDENTIFIER',
  'CONTAINER_NAME',
  'PODMAN_EVENT',
  '_COMM',
  '_TRANSPORT',
  '_SYSTEMD_USER_UNIT',
  '_SYSTEMD_INVOCATION_ID',
] as const;

/**
 * journalctl matches: the uid AND any one of the units (journalctl ORs matches of one
 * field and ANDs different fields). Trusted fields only: journald sets them from the
 * writer's credentials and cgroup, a process cannot claim them.
 */
export function unitJournalMatches(q: UnitJournalQuery): string[] {
  return [`_UID=${q.uid}`, ...q.units.map((u) => `_SYSTEMD_USER_UNIT=${u}`)];
}

export interface UnitJournalRead {
  /** The newest entries to read (before filtering): -n. */
  entries: number;
  follow?: boolean;
  /** Start after this entry instead of the newest `entries`. */
  afterCursor?: string;
}

/** The argv moor runs, as root: JSON with the fields above, no pager. */
export function unitJournalArgv(q: UnitJournalQuery, read: UnitJournalRead): string[] {
  return [
    'journalctl',
    '--no-pager',
    '--quiet',
    '--output=json',
    `--output-fields=${UNIT_LOG_FIELDS.join(',')}`,
    ...(read.follow ? ['--follow'] : []),
    ...(read.afterCursor !== undefined ? [`--after-cursor=${read.afterCursor}`] : [`--lines=${read.entries}`]),
    ...unitJournalMatches(q),
  ];
}

/** The same read for a person to run by hand (Podman's events and conmon's warnings included). */
export function unitJournalCommandLine(q: UnitJournalQuery): string {
  return ['journalctl', ...unitJournalMatches(q)].join(' ');
}

/** One line of a unit's own output. */
export interface UnitLogLine {
  /** ISO time, from __REALTIME_TIMESTAMP; absent when journalctl gave none. */
  at?: string;
  unit: string;
  /** SYSLOG_IDENTIFIER: the program, or the container's name. */
  identifier?: string;
  /** syslog priority: 3 is a container's stderr. */
  priority?: number;
  message: string;
  invocationId?: string;
  cursor?: string;
}

const CONMON_NOTICE = /^conmon [0-9a-f]+ <n(?:warn|info|debug)>:/;
const LOGRUS_NOTICE = /^time="[^"]*" level=(?:debug|info|warning) /;
const CONTAINER_ID = /^[0-9a-f]{64}$/;

/**
 * Why an entry of a unit's cgroup is not the unit's own output, or undefined when it is.
 * Podman's events, conmon's own notices (its errors stay) and podman's own logrus notices
 * on stderr (its errors stay), the container id `podman run -d` prints.
 */
export function isNoise(entry: JournalEntry): string | undefined {
  if (journalField(entry, 'PODMAN_EVENT') !== undefined) return 'podman event';
  const message = (journalField(entry, 'MESSAGE') ?? '').trimEnd();
  const container = journalField(entry, 'CONTAINER_NAME') !== undefined;
  if (!container && journalField(entry, 'SYSLOG_IDENTIFIER') === 'conmon' && CONMON_NOTICE.test(message)) return 'conmon notice';
  const comm = journalField(entry, '_COMM');
  if (!container && comm === 'podman' && LOGRUS_NOTICE.test(message)) return 'podman notice';
  if (!container && comm === 'podman' && journalField(entry, '_TRANSPORT') === 'stdout' && CONTAINER_ID.test(message)) return 'container id';
  return undefined;
}

/** The entry as a line of one of `units`, or undefined when it is not their own output. */
export function unitLogLine(entry: JournalEntry, units: readonly string[]): UnitLogLine | undefined {
  const unit = journalField(entry, '_SYSTEMD_USER_UNIT');
  if (unit === undefined || !units.includes(unit) || isNoise(entry) !== undefined) return undefined;
  const message = journalField(entry, 'MESSAGE');
  const micros = Number(journalField(entry, '__REALTIME_TIMESTAMP'));
  const priority = Number(journalField(entry, 'PRIORITY'));
  const identifier = journalField(entry, 'SYSLOG_IDENTIFIER');
  const invocationId = journalField(entry, '_SYSTEMD_INVOCATION_ID');
  const cursor = journalField(entry, '__CURSOR');
  return {
    ...(Number.isFinite(micros) && micros > 0 ? { at: new Date(Math.floor(micros / 1000)).toISOString() } : {}),
    unit,
    ...(identifier !== undefined ? { identifier } : {}),
    ...(Number.isInteger(priority) && journalField(entry, 'PRIORITY') !== undefined ? { priority } : {}),
    // A message over 4096 bytes comes as null unless journalctl is given --all.
    message: message === undefined ? '(a message too long to read)' : message.replace(/\r?\n$/, ''),
    ...(invocationId !== undefined ? { invocationId } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  };
}

/** The units' own lines among `entries`, oldest first. */
export function unitLogLines(entries: readonly JournalEntry[], units: readonly string[]): UnitLogLine[] {
  return entries.flatMap((e) => unitLogLine(e, units) ?? []);
}

/** One line for people, one terminal line whatever the message holds: `TIME UNIT IDENT: MESSAGE`. */
export function formatUnitLogLine(l: UnitLogLine): string {
  return safeText(`${l.at ?? '-'} ${l.unit}${l.identifier !== undefined ? ` ${l.identifier}` : ''}: ${l.message}`);
}

/**
 * The lines of the unit's last run (its InvocationID). When the journal records no
 * invocation at all, every line is the best there is; when it does and none is of this
 * run, the run wrote nothing.
 */
export function lastRunLines(lines: readonly UnitLogLine[], invocationId: string): UnitLogLine[] {
  if (invocationId === '' || !lines.some((l) => l.invocationId !== undefined)) return [...lines];
  return lines.filter((l) => l.invocationId === invocationId);
}

export interface ExcerptBounds {
  lines: number;
  /** Characters of one line, after escaping. */
  lineChars: number;
  /** Characters of the whole excerpt. */
  chars: number;
}

/** What a failure message quotes of a unit's output: enough for the cause, never a flood. */
export const FAILURE_EXCERPT: ExcerptBounds = { lines: 10, lineChars: 300, chars: 2_000 };

/** The newest messages within the bounds, each one escaped line; older ones dropped first. */
export function excerpt(lines: readonly UnitLogLine[], bounds: ExcerptBounds = FAILURE_EXCERPT): string[] {
  const cut = (s: string) => (s.length > bounds.lineChars ? `${s.slice(0, bounds.lineChars - 1)}…` : s);
  const out = lines.slice(-bounds.lines).map((l) => cut(safeText(l.message)));
  let total = out.reduce((n, s) => n + s.length + 3, 0);
  while (out.length > 1 && total > bounds.chars) total -= out.shift()!.length + 3;
  if (out.length === 1 && out[0]!.length > bounds.chars) out[0] = `${out[0]!.slice(0, bounds.chars - 1)}…`;
  return out;
}

/**
 * The part of a failure message that explains it: the unit's own output of its last run,
 * or that it wrote none and where to look.
 */
export function failureOutput(unit: string, query: UnitJournalQuery, lines: readonly UnitLogLine[], invocationId: string): string {
  const own = excerpt(lastRunLines(lines.filter((l) => l.unit === unit), invocationId));
  const by = unitJournalCommandLine({ uid: query.uid, units: [unit] });
  if (own.length === 0) return `${unit} wrote nothing to the journal in its last run (${by})`;
  return `output of ${unit}: ${own.join(' | ')}`;
}

// Linux signal numbers (x86, arm, riscv: the generic table).
const SIGNALS: Record<string, string> = {
  '1': 'SIGHUP',
  '2': 'SIGINT',
  '3': 'SIGQUIT',
  '4': 'SIGILL',
  '5': 'SIGTRAP',
  '6': 'SIGABRT',
  '7': 'SIGBUS',
  '8': 'SIGFPE',
  '9': 'SIGKILL',
  '10': 'SIGUSR1',
  '11': 'SIGSEGV',
  '12': 'SIGUSR2',
  '13': 'SIGPIPE',
  '14': 'SIGALRM',
  '15': 'SIGTERM',
  '16': 'SIGSTKFLT',
  '17': 'SIGCHLD',
  '18': 'SIGCONT',
  '19': 'SIGSTOP',
  '20': 'SIGTSTP',
  '21': 'SIGTTIN',
  '22': 'SIGTTOU',
  '23': 'SIGURG',
  '24': 'SIGXCPU',
  '25': 'SIGXFSZ',
  '26': 'SIGVTALRM',
  '27': 'SIGPROF',
  '28': 'SIGWINCH',
  '29': 'SIGIO',
  '30': 'SIGPWR',
  '31': 'SIGSYS',
};

const signalName = (n: string) => SIGNALS[n] ?? `signal ${n}`;

/**
 * How the unit's main process ended, from `systemctl show`'s ExecMainCode (the siginfo
 * code: 1 exited, 2 killed, 3 dumped core) and ExecMainStatus (the exit status, or the
 * signal). Undefined when no main process ran (a failed ExecStartPre) or it still runs.
 */
export function mainProcessEnd(props: UnitProperties): string | undefined {
  const status = props.ExecMainStatus ?? '';
  if (!/^\d+$/.test(status)) return undefined;
  switch (props.ExecMainCode) {
    case '1':
      return `main process exited with status ${status}`;
    case '2':
      return `main process killed by ${signalName(status)}`;
    case '3':
      return `main process dumped core (${signalName(status)})`;
    default:
      return undefined;
  }
}
