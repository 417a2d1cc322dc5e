// `moor install-units` makes moor-reconcile.timer follow schedule.cron: a drop-in with
// OnCalendar= converted from it (and RandomizedDelaySec= from schedule.jitter), which
// systemd reads as the same schedule; an expression a timer cannot express installs nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TIMER_DROP_IN } from '../../daemon/cli/timer-schedule';
import { REPO_ROOT, runMoor } from '../helpers/cli';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-timer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hasAnalyze = spawnSync('systemd-analyze', ['--version'], { timeout: 10_000 }).status === 0;
const normalized = (calendar: string) => /Normalized form: (.*)/.exec(execFileSync('systemd-analyze', ['calendar', calendar], { encoding: 'utf8' }))![1];

function install(schedule: string): ReturnType<typeof runMoor> {
  const config = join(dir, 'config.toml');
  writeFileSync(config, `[schedule]\n${schedule}\n`);
  return runMoor(['--config', config, 'install-units', '--prefix', join(dir, 'root')]);
}

describe('the timer follows schedule.cron', () => {
  it('install-units writes OnCalendar= and RandomizedDelaySec= from the config', () => {
    const r = install('cron = "30 9 * * 1-5"\njitter = "1m"');
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, 'root', TIMER_DROP_IN);
    expect(r.stdout).toContain(`installed  ${file}`);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toContain('[Timer]');
    // The empty OnCalendar= first: the shipped every-two-minutes one is replaced, not added to.
    expect(lines.filter((l) => l.startsWith('OnCalendar='))).toEqual(['OnCalendar=', 'OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 09:30:00']);
    expect(lines).toContain('RandomizedDelaySec=60s');
  });

  it.skipIf(!hasAnalyze)('the default schedule gives the shipped timer\'s own calendar', () => {
    const r = runMoor(['--config', join(dir, 'none.toml'), 'install-units', '--prefix', join(dir, 'root')]);
    // A missing --config file is an error; the default path may not exist either: use an empty file.
    expect(r.code).toBe(2);
    writeFileSync(join(dir, 'empty.toml'), '');
    const ok = runMoor(['--config', join(dir, 'empty.toml'), 'install-units', '--prefix', join(dir, 'root')]);
    expect(ok.code, ok.stderr).toBe(0);
    const value = /^OnCalendar=(.+)$/m.exec(readFileSync(join(dir, 'root', TIMER_DROP_IN), 'utf8'))![1]!;
    const shipped = /^OnCalendar=(.+)$/m.exec(readFileSync(join(REPO_ROOT, 'units/moor-reconcile.timer'), 'utf8'))![1]!;
    expect(normalized(value)).toBe(normalized(shipped));
  });

  it('an expression a timer cannot express fails with the key named, and installs nothing', () => {
    const r = install('cron = "0 0 13 * 5"');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/schedule\.cron.*either.*restrict only one/);
    expect(existsSync(join(dir, 'root'))).toBe(false);
  });
});
