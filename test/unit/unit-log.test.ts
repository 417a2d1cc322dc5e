// A unit's own output from the journal: the filter and the formatting of core/unit-log.ts,
// against entries recorded on systemd 257 with Podman 5.4 (`journalctl -o json _UID=UID`
// as root in the end-to-end guest, host-specific fields dropped): a Quadlet container that
// wrote "FATAL: cannot open /data/db" on stderr and exited 3, and one whose image could not
// be pulled.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { journalField, parseJournalJson } from '../../daemon/core/parse/journal';
import {
  excerpt,
  failureOutput,
  formatUnitLogLine,
  isNoise,
  lastRunLines,
  mainProcessEnd,
  unitJournalArgv,
  unitJournalCommandLine,
  unitLogLines,
  type UnitLogLine,
} from '../../daemon/core/unit-log';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/host/${name}`, import.meta.url), 'utf8');
const fatal = parseJournalJson(fixture('journal-quadlet-failure.jsonl'));
const pull = parseJournalJson(fixture('journal-quadlet-pull-failure.jsonl'));
const FATAL_RUN = 'b38dd826e8f749d7a9749b10a092acd1';

describe('journalctl -o json', () => {
  it('reads one entry a line, skipping what is not an object', () => {
    expect(parseJournalJson('{"MESSAGE":"a"}\n-- No entries --\n\n{"MESSAGE":\n[1,2]\n{"MESSAGE":"b"}')).toEqual([{ MESSAGE: 'a' }, { MESSAGE: 'b' }]);
    expect(fatal).toHaveLength(46);
  });

  it('reads a field given as bytes, as null (too long) or repeated', () => {
    const e = { A: [70, 65, 84, 65, 76, 0x1b, 0xff], B: null, C: ['first', 'second'], D: 'plain' };
    expect(journalField(e, 'A')).toBe('FATAL\x1b\uFFFD');
    expect(journalField(e, 'B')).toBeUndefined();
    expect(journalField(e, 'C')).toBe('first');
    expect(journalField(e, 'D')).toBe('plain');
    expect(journalField(e, 'E')).toBeUndefined();
  });
});

describe("a unit's own output", () => {
  it("keeps the container's output of the unit and leaves out the manager, Podman's events and conmon's cgroup warnings", () => {
    const lines = unitLogLines(fatal, ['fatal.service']);
    expect(lines.map((l) => [l.identifier, l.priority, l.message])).toEqual([
      ['systemd-fatal', 6, 'starting up'],
      ['systemd-fatal', 3, 'FATAL: cannot open /data/db'],
    ]);
    expect(lines.every((l) => l.invocationId === FATAL_RUN && l.unit === 'fatal.service')).toBe(true);
    // What was there to leave out, in the same unit's cgroup or about it.
    const all = fatal.map((e) => journalField(e, 'MESSAGE') ?? '');
    expect(all.some((m) => m.includes('container died'))).toBe(true);
    expect(all.some((m) => m.includes('<nwarn>: Failed to open cgroups file'))).toBe(true);
    expect(all.some((m) => m.startsWith("fatal.service: Failed with result 'exit-code'"))).toBe(true);
    expect(all.some((m) => /^[0-9a-f]{64}$/.test(m))).toBe(true);
  });

  it("keeps podman's own error of a unit whose image cannot be pulled", () => {
    expect(unitLogLines(pull, ['nopull.service']).map((l) => l.message)).toEqual([
      'Trying to pull registry.invalid/nosuch:1...',
      'Pulling image //registry.invalid/nosuch:1 inside systemd: setting pull timeout to 5m0s',
      expect.stringMatching(/^Error: initializing source docker:\/\/registry\.invalid\/nosuch:1: pinging container registry/),
    ]);
  });

  it('is only of the units asked for', () => {
    expect(unitLogLines(fatal, ['other.service'])).toEqual([]);
  });

  it("tells noise by Podman's and conmon's own fields, never by a container's words", () => {
    const container = { CONTAINER_NAME: 'systemd-web', SYSLOG_IDENTIFIER: 'conmon', _COMM: 'conmon', MESSAGE: 'conmon 0123 <nwarn>: looks like a warning' };
    expect(isNoise(container)).toBeUndefined();
    expect(isNoise({ SYSLOG_IDENTIFIER: 'conmon', MESSAGE: 'conmon 0123 <error>: Failed to create container' })).toBeUndefined();
    expect(isNoise({ _COMM: 'podman', MESSAGE: 'time="2026-01-01T00:00:00Z" level=warning msg="Failed to add pause process to systemd sandbox cgroup"' })).toBe('podman notice');
    expect(isNoise({ _COMM: 'podman', MESSAGE: 'time="2026-01-01T00:00:00Z" level=error msg="cannot start"' })).toBeUndefined();
    expect(isNoise({ _COMM: 'myapp', MESSAGE: 'time="2026-01-01T00:00:00Z" level=warning msg="an app of its own"' })).toBeUndefined();
    expect(isNoise({ _COMM: 'podman', PODMAN_EVENT: 'died', MESSAGE: 'x' })).toBe('podman event');
  });

  it('formats one terminal line each, whatever the message holds', () => {
    const [first] = unitLogLines(fatal, ['fatal.service']);
    expect(formatUnitLogLine(first!)).toBe('2026-11-29T23:27:43.225Z fatal.service systemd-fatal: starting up');
    expect(formatUnitLogLine({ unit: 'a.service', message: 'x\x1b[2K\ny' })).toBe('- a.service: x\\x1b[2K\\x0ay');
  });
});

describe('the failure excerpt', () => {
  const line = (message: string, invocationId?: string): UnitLogLine => ({ unit: 'web.service', message, ...(invocationId ? { invocationId } : {}) });

  it("quotes the last run's lines only, or says it wrote none", () => {
    const lines = [line('old run', 'a'), line('new run', 'b')];
    expect(lastRunLines(lines, 'b').map((l) => l.message)).toEqual(['new run']);
    expect(lastRunLines(lines, 'c')).toEqual([]);
    // A journal that records no invocations: every line is the best there is.
    expect(lastRunLines([line('x'), line('y')], 'c').map((l) => l.message)).toEqual(['x', 'y']);
    const q = { uid: 1001, units: ['web.service', 'web-data-volume.service'] };
    expect(failureOutput('web.service', q, lines, 'c')).toBe('web.service wrote nothing to the journal in its last run (journalctl _UID=1001 _SYSTEMD_USER_UNIT=web.service)');
    expect(failureOutput('fatal.service', q, unitLogLines(fatal, ['fatal.service']), FATAL_RUN)).toBe(
      'output of fatal.service: starting up | FATAL: cannot open /data/db',
    );
  });

  it('is bounded in lines and characters, newest kept, and escaped', () => {
    const many = Array.from({ length: 30 }, (_, i) => line(`line ${i}`));
    expect(excerpt(many)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i + 20}`));
    const long = excerpt([line('a'.repeat(1000)), line('b'.repeat(1000))], { lines: 10, lineChars: 300, chars: 500 });
    expect(long).toEqual([`${'b'.repeat(299)}…`]);
    expect(excerpt([line('x'.repeat(50))], { lines: 1, lineChars: 100, chars: 20 })).toEqual([`${'x'.repeat(19)}…`]);
    expect(excerpt([line('\x1b]0;owned\x07 \u202Eevil')])).toEqual(['\\x1b]0;owned\\x07 \\u{202E}evil']);
  });
});

describe('how the main process ended', () => {
  it('reads ExecMainCode and ExecMainStatus', () => {
    expect(mainProcessEnd({ ExecMainCode: '1', ExecMainStatus: '3' })).toBe('main process exited with status 3');
    expect(mainProcessEnd({ ExecMainCode: '2', ExecMainStatus: '9' })).toBe('main process killed by SIGKILL');
    expect(mainProcessEnd({ ExecMainCode: '3', ExecMainStatus: '11' })).toBe('main process dumped core (SIGSEGV)');
    expect(mainProcessEnd({ ExecMainCode: '2', ExecMainStatus: '64' })).toBe('main process killed by signal 64');
    // No main process ran (an ExecStartPre failed), or nothing was asked.
    expect(mainProcessEnd({ ExecMainCode: '0', ExecMainStatus: '0' })).toBeUndefined();
    expect(mainProcessEnd({})).toBeUndefined();
  });
});

describe('the journalctl command', () => {
  it('matches the uid and any of the units, by trusted fields; people get the same matches', () => {
    const q = { uid: 1001, units: ['db.service', 'db-data-volume.service'] };
    expect(unitJournalArgv(q, { entries: 200 })).toEqual([
      'journalctl',
      '--no-pager',
      '--quiet',
      '--output=json',
      '--output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,CONTAINER_NAME,PODMAN_EVENT,_COMM,_TRANSPORT,_SYSTEMD_USER_UNIT,_SYSTEMD_INVOCATION_ID',
      '--lines=200',
      '_UID=1001',
      '_SYSTEMD_USER_UNIT=db.service',
      '_SYSTEMD_USER_UNIT=db-data-volume.service',
    ]);
    expect(unitJournalArgv(q, { entries: 0, follow: true, afterCursor: 's=1' }).slice(5, 7)).toEqual(['--follow', '--after-cursor=s=1']);
    expect(unitJournalCommandLine(q)).toBe('journalctl _UID=1001 _SYSTEMD_USER_UNIT=db.service _SYSTEMD_USER_UNIT=db-data-volume.service');
  });
});
