// schedule.cron as a systemd calendar event (systemd.time(7)), for moor-reconcile.timer's
// OnCalendar=, so the timer and the daemon run passes at the same moments. Five fields
// (minute hour day-of-month month day-of-week) or six (seconds first), as node-cron reads
// them: `*`, numbers, names of months and days, ranges `a-b`, steps `*/n` and `a-b/n`, and
// lists of those. Every field becomes an explicit list (runs written `a..b`), except `*`
// and a step over the whole field, which systemd writes `start/n` as cron means it.
//
// One cron rule has no systemd form: with both day-of-month and day-of-week restricted,
// cron runs on either; systemd only on days matching both. Such an expression is refused.

export class CronCalendarError extends Error {}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const SYSTEMD_DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 };
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 };
const DAY: FieldSpec = { name: 'day of month', min: 1, max: 31 };
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTHS };
// 7 is Sunday too, as in cron.
const WEEKDAY: FieldSpec = { name: 'day of week', min: 0, max: 7, names: DAYS };

type Field = { every: true; step: number } | { every: false; values: number[] };

function value(text: string, spec: FieldSpec, expr: string): number {
  const named = spec.names?.indexOf(text.toLowerCase().slice(0, 3)) ?? -1;
  const n = /^\d+$/.test(text) ? Number(text) : named >= 0 && text.length === 3 ? named + (spec === MONTH ? 1 : 0) : NaN;
  if (!Number.isInteger(n) || n < spec.min || n > spec.max) {
    throw new CronCalendarError(`schedule.cron "${expr}": "${text}" is not a ${spec.name} (${spec.min}-${spec.max}${spec.names ? ' or a name' : ''})`);
  }
  return n;
}

function field(text: string, spec: FieldSpec, expr: string): Field {
  const stepAll = /^\*(?:\/(\d+))?$/.exec(text);
  if (stepAll) {
    const step = Number(stepAll[1] ?? 1);
    if (step < 1) throw new CronCalendarError(`schedule.cron "${expr}": step 0 in the ${spec.name} field`);
    return { every: true, step };
  }
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^([^-/]+)(?:-([^-/]+))?(?:\/(\d+))?$/.exec(part);
    if (!m) throw new CronCalendarError(`schedule.cron "${expr}": "${part}" is not a ${spec.name}, a range a-b or a step a-b/n`);
    const from = value(m[1]!, spec, expr);
    const to = m[2] !== undefined ? value(m[2], spec, expr) : m[3] !== undefined ? spec.max : from;
    const step = Number(m[3] ?? 1);
    if (step < 1 || to < from) throw new CronCalendarError(`schedule.cron "${expr}": "${part}" is an empty range`);
    for (let v = from; v <= to; v += step) values.add(spec === WEEKDAY && v === 7 ? 0 : v);
  }
  return { every: false, values: [...values].sort((a, b) => a - b) };
}

/** Consecutive values as systemd ranges: 1,2,3,5 → 1..3,5 (two digits where systemd pads). */
function list(values: number[], pad: boolean): string {
  const fmt = (v: number) => (pad ? String(v).padStart(2, '0') : String(v));
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    out.push(j - i >= 2 ? `${fmt(values[i]!)}..${fmt(values[j]!)}` : values.slice(i, j + 1).map(fmt).join(','));
    i = j + 1;
  }
  return out.join(',');
}

function component(f: Field, spec: FieldSpec, pad: boolean): string {
  if (f.every) {
    if (f.step === 1) return '*';
    const start = pad ? String(spec.min).padStart(2, '0') : String(spec.min);
    return `${start}/${f.step}`;
  }
  return list(f.values, pad);
}

/** The OnCalendar= value for a cron expression; throws CronCalendarError naming what cannot be expressed. */
export function cronToCalendar(expr: string): string {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    throw new CronCalendarError(`schedule.cron "${expr}": ${parts.length} fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`);
  }
  const [sec, min, hour, day, month, weekday] = parts.length === 6 ? parts : ['0', ...parts];
  const s = field(sec!, SECOND, expr);
  const mi = field(min!, MINUTE, expr);
  const h = field(hour!, HOUR, expr);
  const d = field(day!, DAY, expr);
  const mo = field(month!, MONTH, expr);
  const w = field(weekday!, WEEKDAY, expr);
  const allDays = (f: Field, n: number) => (f.every ? f.step === 1 : f.values.length === n);
  if (!allDays(d, 31) && !allDays(w, 7)) {
    throw new CronCalendarError(
      `schedule.cron "${expr}": both a day of month and a day of week are set, which cron reads as either and a systemd timer as both; restrict only one of them`,
    );
  }
  const days = w.every ? '' : allDays(w, 7) ? '' : `${w.values.map((v) => SYSTEMD_DAYS[v]).join(',')} `;
  return `${days}*-${component(mo, MONTH, true)}-${component(d, DAY, true)} ${component(h, HOUR, true)}:${component(mi, MINUTE, true)}:${component(s, SECOND, true)}`;
}
