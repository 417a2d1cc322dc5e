// schedule.cron → OnCalendar=: checked against systemd itself. For each expression, the
// next elapses `systemd-analyze calendar` computes from a fixed base time must be the
// moments the cron expression matches (counted here by brute force, second by second or
// minute by minute, in UTC). Expressions systemd cannot express are refused by name.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CronCalendarError, cronToCalendar } from '../../daemon/core/cron-calendar';

const BASE = Date.UTC(2026, 0, 1, 0, 0, 0);
const ITERATIONS = 12;

/** The first `n` moments after BASE that a 5- or 6-field cron expression matches (UTC). */
function cronMatches(expr: string, n: number): Date[] {
  const parts = expr.trim().split(/\s+/);
  const withSeconds = parts.length === 6;
  const [sec, min, hour, day, month, wday] = withSeconds ? parts : ['0', ...parts];
  const names: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12, sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
  const num = (t: string) => names[t.toLowerCase()] ?? Number(t);
  const matches = (f: string, v: number, lo: number, hi: number, dow = false) =>
    f.split(',').some((part) => {
      const [range, stepText] = part.split('/');
      const step = Number(stepText ?? 1);
      const [a, b] = range === '*' ? [lo, hi] : range!.includes('-') ? range!.split('-').map(num) : [num(range!), stepText ? hi : num(range!)];
      for (let x = a!; x <= b!; x += step) if (x === v || (dow && x === 7 && v === 0)) return true;
      return false;
    });
  const out: Date[] = [];
  const stepMs = withSeconds ? 1_000 : 60_000;
  for (let t = BASE + stepMs; out.length < n && t < BASE + 3 * 366 * 86_400_000; t += stepMs) {
    const d = new Date(t);
    if (
      matches(sec!, d.getUTCSeconds(), 0, 59) &&
      matches(min!, d.getUTCMinutes(), 0, 59) &&
      matches(hour!, d.getUTCHours(), 0, 23) &&
      matches(day!, d.getUTCDate(), 1, 31) &&
      matches(month!, d.getUTCMonth() + 1, 1, 12) &&
      matches(wday!, d.getUTCDay(), 0, 6, true)
    ) {
      out.push(d);
    }
  }
  return out;
}

/** The next elapses systemd computes for a calendar event after BASE. */
function systemdElapses(calendar: string, n: number): Date[] {
  const text = execFileSync('systemd-analyze', ['calendar', `--base-time=@${BASE / 1000}`, `--iterations=${n}`, `${calendar} UTC`], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
  });
  return [...text.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)].map((m) => new Date(`${m[1]!.replace(' ', 'T')}Z`));
}

const EXPRESSIONS = [
  '*/2 * * * *',
  '* * * * *',
  '0 * * * *',
  '15,45 * * * *',
  '30 9 * * 1-5',
  '0 0 * * 0',
  '0 0 * * 7',
  '0 12 * * sat,sun',
  '5 4 1 * *',
  '0 0 1,15 * *',
  '0 3 * jan,jul *',
  '*/7 */5 * * *',
  '10-40/10 8-18/2 * * *',
  '0 0 */2 * *',
  '0 0 1 */3 *',
  '*/20 * * * * *',
  '30 */15 * * * *',
  '0 6 28 feb *',
];

const haveSystemd = existsSync('/usr/bin/systemd-analyze') || existsSync('/bin/systemd-analyze');

describe('cronToCalendar', () => {
  it('writes systemd calendar syntax', () => {
    expect(cronToCalendar('*/2 * * * *')).toBe('*-*-* *:00/2:00');
    expect(cronToCalendar('30 9 * * 1-5')).toBe('Mon,Tue,Wed,Thu,Fri *-*-* 09:30:00');
    expect(cronToCalendar('0 0 1,2,3,15 * *')).toBe('*-*-01..03,15 00:00:00');
    expect(cronToCalendar('*/20 * * * * *')).toBe('*-*-* *:*:00/20');
  });

  it.skipIf(!haveSystemd).each(EXPRESSIONS)('%s: systemd elapses at the moments cron matches', (expr) => {
    const calendar = cronToCalendar(expr);
    // A yearly expression has fewer matches within the brute-force window: compare those.
    const expected = cronMatches(expr, ITERATIONS).map((d) => d.toISOString());
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(systemdElapses(calendar, expected.length).map((d) => d.toISOString()), calendar).toEqual(expected);
  });

  it('refuses what a timer cannot express, and what is no cron expression, naming the key', () => {
    expect(() => cronToCalendar('0 0 13 * 5')).toThrow(/either.*both.*restrict only one/);
    expect(() => cronToCalendar('0 0 * *')).toThrow(/schedule\.cron "0 0 \* \*": 4 fields/);
    expect(() => cronToCalendar('61 * * * *')).toThrow(/"61" is not a minute/);
    expect(() => cronToCalendar('0 0 * * funday')).toThrow(CronCalendarError);
    expect(() => cronToCalendar('0 0 * * 5-1')).toThrow(/empty range/);
  });
});
