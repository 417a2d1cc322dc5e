// Faults of the world: the host clock stepping back (an RTC that was ahead, corrected by
// NTP; a VM restored from a snapshot). History goes by generation number, never by time;
// garbage collection keeps what a date in the future cannot vouch for; a removal keeps the
// archive it just made; the daemon's schedule is computed again from the new time.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandResult, CommandRunner, RunOptions } from '../../daemon/core/ports';
import { createLogger } from '../../daemon/host/log';
import { runPass } from '../../daemon/pass/run-pass';
import type { PassResult } from '../../daemon/pass/pass-result';
import { CLOCK_CHECK_MS, Schedule } from '../../daemon/service/schedule';
import { generationRows, statusReport } from '../../daemon/state/reports';
import { containerSpec, PassHarness } from '../helpers/pass-harness';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

let h: PassHarness;
afterEach(() => h?.cleanup());

/** The fake host, stepping the harness clock back once, when `at` first matches a command. */
class ClockStep implements CommandRunner {
  stepped = false;
  constructor(
    private readonly at: RegExp,
    private readonly backMs: number,
  ) {}
  run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    if (!this.stepped && this.at.test(argv.join(' '))) {
      this.stepped = true;
      h.clock.ms -= this.backMs;
    }
    return h.fake.run(argv, options);
  }
}

async function pass(runner: CommandRunner = h.fake): Promise<PassResult> {
  return runPass({ config: h.config, host: h.host(runner), store: await h.openStore(), log: h.log }, { settleMs: 0 });
}

/** Each pass one more generation: the image tag changes. */
async function generations(n: number, from = 1): Promise<void> {
  for (let i = from; i < from + n; i++) {
    h.commit({ 'web.container': containerSpec(`localhost/web:${i}`) });
    expect((await pass()).exitCode).toBe(0);
    h.clock.advance(HOUR);
  }
}

describe('the clock steps back during a pass', () => {
  beforeEach(() => {
    h = new PassHarness();
  });

  it('the pass completes, its generation is live and the newest in the history, though dated before the ones it follows', async () => {
    await generations(2);
    h.commit({ 'web.container': containerSpec('localhost/web:3') });
    const runner = new ClockStep(/__write-files/, DAY);
    const result = await pass(runner);
    expect(runner.stepped).toBe(true);
    expect(result).toMatchObject({ exitCode: 0, generation: 3, generationState: 'complete' });

    const store = await h.openStore();
    expect(await store.generations.current()).toBe(3);
    const rows = await generationRows(store);
    expect(rows.map((r) => [r.generation, r.state])).toEqual([
      [1, 'complete'],
      [2, 'complete'],
      [3, 'complete'],
    ]);
    expect((await statusReport(store)).live?.generation).toBe(3);
    // The next pass sees the host in step: nothing to apply, no new generation.
    const next = await pass();
    expect(next.items.map((i) => i.action)).toEqual(['unchanged']);
    expect(next.generation).toBeUndefined();
  });
});

describe('garbage collection after the clock stepped back', () => {
  it('deletes no generation dated in the future for its age, keeps the live one and the newest keep_min by number, and still bounds the count once their dates are past', async () => {
    h = new PassHarness({ config: { gc: { keep_min: 2, keep_max: 3, min_age: DAY, max_age: 30 * DAY } } });
    const t0 = h.clock.ms;
    await generations(5);
    // The clock was a week ahead: it is corrected back, and passes go on.
    h.clock.ms = t0 - 7 * DAY;
    await generations(2, 6);

    const store = await h.openStore();
    const report = await store.gc(h.config.gc);
    expect(report.deleted).toEqual([]);
    const reasons = Object.fromEntries(report.decisions.map((d) => [d.id, d.reason]));
    expect(reasons[7]).toBe('protected (current or pinned)');
    expect(reasons[6]).toBe('among the newest 2 complete (keep_min)');
    for (const id of [1, 2, 3, 4, 5]) expect(reasons[id]).toBe('younger than min_age');

    // Once the clock has passed their dates and min_age, keep_max bounds them again: the
    // oldest by number go, the newest by number stay.
    h.clock.ms = t0 + 5 * HOUR + 2 * DAY;
    const later = await store.gc(h.config.gc);
    expect(later.deleted).toEqual([1, 2, 3, 4]);
    expect(readdirSync(join(h.stateDir, 'generations')).filter((n) => /^\d+$/.test(n)).sort()).toEqual(['000005', '000006', '000007']);
  });

  it('over gc.max_bytes, the oldest go by number, never the live one made after the step', async () => {
    h = new PassHarness({ config: { gc: { keep_min: 1, keep_max: 50, min_age: DAY, max_age: 30 * DAY } } });
    const t0 = h.clock.ms;
    await generations(4);
    h.clock.ms = t0 - 7 * DAY;
    await generations(1, 5);
    const store = await h.openStore();
    const all = await store.generations.bytesOnDisk();
    const report = await store.gc({ ...h.config.gc, maxBytes: Math.floor(all / 2) });
    expect(report.deleted.length).toBeGreaterThan(0);
    expect(report.deleted).toEqual([1, 2, 3, 4].slice(0, report.deleted.length));
    expect(await store.generations.current()).toBe(5);
  });
});

describe('a removal after the clock stepped back', () => {
  it('keeps the archive it just made, though its name reads older than the one before it', async () => {
    h = new PassHarness({ config: { removal: { archive_max_bytes: 1 } } });
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1'), 'db.container': containerSpec('localhost/db:1') });
    expect((await pass()).exitCode).toBe(0);
    h.commit({ 'web.container': containerSpec(), 'db.container': containerSpec('localhost/db:1') });
    expect((await pass()).exitCode).toBe(0);
    const first = readdirSync(join(h.stateDir, 'archives'));
    expect(first).toEqual([expect.stringMatching(/^api-\d+-\d{8}T\d{6}Z\.tar\.gz$/)]);

    h.clock.ms -= DAY;
    h.commit({ 'web.container': containerSpec() });
    const result = await pass();
    expect(result.items.find((i) => i.workload === 'db')).toMatchObject({ action: 'remove', result: 'ok' });
    const archives = readdirSync(join(h.stateDir, 'archives'));
    expect(archives).toContainEqual(expect.stringMatching(/^db-\d+-\d{8}T\d{6}Z\.tar\.gz$/));
  });
});

describe("the daemon's schedule when the clock steps back", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the next tick comes on time, not as late as the step (a timer runs in elapsed time)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-03-01T12:00:30Z'));
    const lines: string[] = [];
    let fired = 0;
    const schedule = new Schedule({ cron: '*/2 * * * *', jitterMs: 0, fire: () => void fired++, log: createLogger('debug', { write: (l) => void lines.push(l), journal: true }) });
    schedule.start();
    try {
      await vi.advanceTimersByTimeAsync(2 * 60_000);
      expect(fired).toBe(1);
      // A day back, then ten minutes of elapsed time: five ticks are due, not none.
      vi.setSystemTime(new Date(Date.now() - DAY));
      await vi.advanceTimersByTimeAsync(10 * 60_000);
      expect(fired).toBeGreaterThanOrEqual(5);
      expect(lines.filter((l) => l.startsWith('<4>the clock stepped back'))).toHaveLength(1);
      expect(schedule.nextRun()!.getTime() - Date.now()).toBeLessThanOrEqual(2 * 60_000 + CLOCK_CHECK_MS);
    } finally {
      schedule.stop();
    }
  });
});
