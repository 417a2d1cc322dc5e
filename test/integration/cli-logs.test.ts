// `moor logs` as an operator runs it: the state a pass over the fake host left, and a
// `journalctl` first on PATH that records its argv and prints the journal the fake host
// wrote during that pass (the manager's lines, Podman's events and conmon's warnings
// around the container's output). With --follow it keeps printing a line until killed.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMoor } from '../helpers/cli';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
let bin: string;
let cfg: string;
let env: Record<string, string>;
const uids: Record<string, number> = {};

const FAKE_JOURNALCTL = `#!/bin/sh
dir=$(dirname "$0")
{ printf '%s\\n' "$@"; echo ---; } >> "$dir/args.txt"
case " $* " in
  *" --follow "*)
    echo $$ > "$dir/follow.pid"
    while :; do cat "$dir/follow.jsonl"; sleep 0.1; done ;;
esac
cat "$dir/journal.jsonl"
`;

beforeAll(async () => {
  h = new PassHarness();
  h.commit({
    'fatal.container': containerSpec('localhost/db:1'),
    'jobs.container': containerSpec('localhost/jobs:1'),
    'jobs-report.service': '[Service]\nType=oneshot\nExecStart=/bin/true\n',
    'jobs-report.timer': '[Timer]\nOnCalendar=hourly\n[Install]\nWantedBy=timers.target\n',
  });
  h.fake.failUnit('fatal', 'fatal.service', { status: 3 });
  h.fake.setUnitOutput('fatal', 'fatal.service', ['opening /data/db', 'FATAL: cannot open /data/db']);
  const { result } = await h.pass();
  for (const item of result.items) uids[item.workload] = item.uid!;
  bin = join(h.root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'journalctl'), FAKE_JOURNALCTL);
  chmodSync(join(bin, 'journalctl'), 0o755);
  writeFileSync(join(bin, 'journal.jsonl'), h.fake.journal.map((e) => `${JSON.stringify(e)}\n`).join(''));
  const later = { ...h.fake.journal.find((e) => e.CONTAINER_NAME === 'systemd-fatal')!, MESSAGE: 'FATAL: still cannot open /data/db\n', __CURSOR: 's=fake;i=ffff' };
  writeFileSync(join(bin, 'follow.jsonl'), `${JSON.stringify(later)}\n`);
  cfg = join(h.root, 'config.toml');
  writeFileSync(cfg, `transforms_dir = ${JSON.stringify(h.transformsDir)}\nstate_dir = ${JSON.stringify(h.stateDir)}\n`);
  env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
});
afterAll(() => h.cleanup());

/** The argv of each journalctl run, in order. */
function journalctlCalls(): string[][] {
  const text = existsSync(join(bin, 'args.txt')) ? readFileSync(join(bin, 'args.txt'), 'utf8') : '';
  writeFileSync(join(bin, 'args.txt'), '');
  return text.split('---\n').filter((c) => c !== '').map((c) => c.trimEnd().split('\n'));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('moor logs', () => {
  it("prints the workload's own output, not the manager's lines, Podman's events or conmon's cgroup warnings, and the journalctl line on stderr", () => {
    const r = runMoor(['--config', cfg, 'logs', 'fatal'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\S+ fatal\.service systemd-fatal: opening \/data\/db\n\S+ fatal\.service systemd-fatal: FATAL: cannot open \/data\/db\n$/);
    const uid = uids.fatal!;
    expect(r.stderr).toBe(`-- journalctl _UID=${uid} _SYSTEMD_USER_UNIT=fatal.service (without Podman's events and conmon's warnings) --\n`);
    // It was all there to leave out.
    const journal = readFileSync(join(bin, 'journal.jsonl'), 'utf8');
    for (const noise of ['podman pause', 'Killing process', 'cgroups file', 'container died']) {
      expect(journal).toContain(noise);
      expect(r.stdout).not.toContain(noise);
    }
    expect(journalctlCalls()).toEqual([
      [
        '--no-pager',
        '--quiet',
        '--output=json',
        '--output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,CONTAINER_NAME,PODMAN_EVENT,_COMM,_TRANSPORT,_SYSTEMD_USER_UNIT,_SYSTEMD_INVOCATION_ID',
        '--lines=400',
        `_UID=${uid}`,
        '_SYSTEMD_USER_UNIT=fatal.service',
      ],
    ]);
  });

  it('reads every unit of the workload, -n lines, --json one object a line', () => {
    const r = runMoor(['--config', cfg, 'logs', 'fatal', '-n', '1', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { at: expect.any(String), unit: 'fatal.service', identifier: 'systemd-fatal', priority: 3, message: 'FATAL: cannot open /data/db', invocationId: expect.any(String) },
    ]);
    journalctlCalls();
    const jobs = runMoor(['--config', cfg, 'logs', 'jobs'], { env });
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(journalctlCalls()[0]!.slice(-4)).toEqual([`_UID=${uids.jobs}`, '_SYSTEMD_USER_UNIT=jobs-report.service', '_SYSTEMD_USER_UNIT=jobs-report.timer', '_SYSTEMD_USER_UNIT=jobs.service']);
  });

  it('refuses a workload this host does not have: exit 2, naming it', () => {
    const r = runMoor(['--config', cfg, 'logs', 'nosuch'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no workload named "nosuch" on this host (moor status lists them)');
    expect(journalctlCalls()).toEqual([]);
    expect(runMoor(['--config', cfg, 'logs', 'fatal', '-n', 'many'], { env }).code).toBe(2);
  });

  it('documents the journalctl line in --help', () => {
    const r = runMoor(['logs', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('journalctl _UID=<uid> _SYSTEMD_USER_UNIT=<unit> [_SYSTEMD_USER_UNIT=<unit>...]');
  });

  for (const how of ['SIGTERM', 'SIGINT', 'stdout closing'] as const) {
    it(`-f follows after the last entry read and ends cleanly on ${how}, journalctl with it`, async () => {
      const pidFile = join(bin, 'follow.pid');
      writeFileSync(pidFile, '');
      const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'daemon/main.ts'), '--config', cfg, 'logs', 'fatal', '-f', '-n', '0'], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no followed line; stdout: ${out}`)), 30_000);
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (out.includes('FATAL: still cannot open /data/db')) {
            clearTimeout(timer);
            done();
          }
        });
      });
      const follower = Number(readFileSync(pidFile, 'utf8'));
      expect(alive(follower)).toBe(true);
      if (how === 'stdout closing') child.stdout.destroy();
      else child.kill(how);
      expect(await exited).toBe(0);
      expect(out).not.toContain('opening /data/db');
      const calls = journalctlCalls();
      const lastCursor = (JSON.parse(readFileSync(join(bin, 'journal.jsonl'), 'utf8').trimEnd().split('\n').at(-1)!) as { __CURSOR: string }).__CURSOR;
      expect(calls.at(-1)).toEqual(expect.arrayContaining(['--follow', `--after-cursor=${lastCursor}`, `_UID=${uids.fatal}`]));
      // Its process group is gone with it (the loop's sleep included).
      await new Promise((r) => setTimeout(r, 300));
      expect(alive(follower)).toBe(false);
    });
  }
});
