// The scheduled trigger: each cron tick fires after a random delay up to the jitter, a tick
// during a pending delay adds nothing, a reload changes the schedule, and a bad cron
// expression is a config error. The cron task is a fake whose ticks the test makes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkCron, Schedule, type CreateCronTask } from '../../daemon/service/schedule';
import { resolveConfig } from '../../daemon/core/config/resolve';
import { ConfigError } from '../../daemon/core/errors';
import { createLogger } from '../../daemon/host/log';

const log = createLogger('error', { write: () => undefined, journal: true });

interface FakeTask {
  expression: string;
  tick: () => void;
  started: boolean;
  destroyed: boolean;
}

function fakeCron(): { tasks: FakeTask[]; create: CreateCronTask } {
  const tasks: FakeTask[] = [];
  return {
    tasks,
    create: (expression, onTick) => {
      const task: FakeTask = { expression, tick: onTick, started: false, destroyed: false };
      tasks.push(task);
      return {
        start: () => void (task.started = true),
        stop: () => void (task.started = false),
        destroy: () => void (task.destroyed = true),
        getNextRun: () => new Date('2030-01-01T00:02:00Z'),
      };
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the schedule', () => {
  it('fires each tick after random() × jitter', () => {
    const cron = fakeCron();
    const fired: number[] = [];
    const schedule = new Schedule({ cron: '*/2 * * * *', jitterMs: 30_000, fire: () => fired.push(Date.now()), log, createTask: cron.create, random: () => 0.5 });
    schedule.start();
    expect(cron.tasks[0]).toMatchObject({ expression: '*/2 * * * *', started: true });
    const t0 = Date.now();
    cron.tasks[0]!.tick();
    vi.advanceTimersByTime(14_999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([t0 + 15_000]);
    expect(schedule.nextRun()?.toISOString()).toBe('2030-01-01T00:02:00.000Z');
    schedule.stop();
  });

  it('with no jitter fires at the tick', () => {
    const cron = fakeCron();
    let fired = 0;
    const schedule = new Schedule({ cron: '* * * * *', jitterMs: 0, fire: () => fired++, log, createTask: cron.create });
    schedule.start();
    cron.tasks[0]!.tick();
    vi.advanceTimersByTime(0);
    expect(fired).toBe(1);
    schedule.stop();
  });

  it('ignores a tick that comes while the previous one still waits out its jitter', () => {
    const cron = fakeCron();
    let fired = 0;
    const schedule = new Schedule({ cron: '* * * * *', jitterMs: 100_000, fire: () => fired++, log, createTask: cron.create, random: () => 0.9 });
    schedule.start();
    cron.tasks[0]!.tick();
    vi.advanceTimersByTime(60_000);
    cron.tasks[0]!.tick();
    vi.advanceTimersByTime(100_000);
    expect(fired).toBe(1);
    cron.tasks[0]!.tick();
    vi.advanceTimersByTime(100_000);
    expect(fired).toBe(2);
    schedule.stop();
  });

  it('replaces its task when a reload changes the expression or jitter, and only then', () => {
    const cron = fakeCron();
    const schedule = new Schedule({ cron: '*/2 * * * *', jitterMs: 1_000, fire: () => undefined, log, createTask: cron.create });
    schedule.start();
    schedule.update('*/2 * * * *', 1_000);
    expect(cron.tasks).toHaveLength(1);
    schedule.update('*/5 * * * *', 1_000);
    expect(cron.tasks).toHaveLength(2);
    expect(cron.tasks[0]).toMatchObject({ started: false, destroyed: true });
    expect(cron.tasks[1]).toMatchObject({ expression: '*/5 * * * *', started: true });
  });

  it('stop cancels a pending jittered fire', () => {
    const cron = fakeCron();
    let fired = 0;
    const schedule = new Schedule({ cron: '* * * * *', jitterMs: 10_000, fire: () => fired++, log, createTask: cron.create, random: () => 0.5 });
    schedule.start();
    cron.tasks[0]!.tick();
    schedule.stop();
    vi.advanceTimersByTime(20_000);
    expect(fired).toBe(0);
  });

  it('runs the real croner task and destroys it on stop', () => {
    let fired = 0;
    const schedule = new Schedule({ cron: '* * * * * *', jitterMs: 0, fire: () => fired++, log });
    schedule.start();
    expect(schedule.nextRun()).toBeInstanceOf(Date);
    schedule.stop();
    expect(schedule.nextRun()).toBeUndefined();
  });

  it('ticks on the wall clock in local time, a day matching both day fields', async () => {
    vi.setSystemTime(new Date(2026, 2, 1, 11, 59, 0)); // a Sunday, local time
    let fired = 0;
    const schedule = new Schedule({ cron: '0 12 1 * 0', jitterMs: 0, fire: () => fired++, log });
    schedule.start();
    try {
      expect(schedule.nextRun()).toEqual(new Date(2026, 2, 1, 12, 0, 0));
      await vi.advanceTimersByTimeAsync(61_000);
      expect(fired).toBe(1);
      // The 1st of the month, but a Sunday again only in November: both fields must match.
      expect(schedule.nextRun()).toEqual(new Date(2026, 10, 1, 12, 0, 0));
    } finally {
      schedule.stop();
    }
  });

  it('never asks Intl for the time: that maps ICU data into the idle daemon', async () => {
    // node-cron formatted every tick through a (cached) Intl.DateTimeFormat: about 8 MiB of RSS.
    const formatted = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    const formattedText = vi.spyOn(Intl.DateTimeFormat.prototype as { format: unknown }, 'format', 'get');
    const made = vi.spyOn(Intl, 'DateTimeFormat');
    vi.setSystemTime(new Date(2026, 2, 1, 11, 59, 0));
    let fired = 0;
    const schedule = new Schedule({ cron: '*/30 * * * * *', jitterMs: 0, fire: () => fired++, log });
    schedule.start();
    try {
      await vi.advanceTimersByTimeAsync(5 * 60_000 + 1_000);
      expect(fired).toBe(10);
      expect(made).not.toHaveBeenCalled();
      expect(formatted).not.toHaveBeenCalled();
      expect(formattedText).not.toHaveBeenCalled();
    } finally {
      schedule.stop();
      vi.restoreAllMocks();
    }
  });
});

describe('checkCron', () => {
  it('accepts the default and 6-field expressions', () => {
    expect(() => checkCron(resolveConfig({}, []))).not.toThrow();
    expect(() => checkCron(resolveConfig({ schedule: { cron: '*/30 * * * * *' } }, []))).not.toThrow();
  });

  it('refuses what the schedule would read otherwise: a year field, a minute out of range', () => {
    for (const cron of ['0 0 0 1 1 * 2030', '60 * * * *', '* * * *']) {
      expect(() => checkCron(resolveConfig({ schedule: { cron } }, ['/etc/moor/config.toml']))).toThrow(`key "schedule.cron": "${cron}" is not a valid cron expression`);
    }
  });

  it('names the key and the file of a bad expression', () => {
    const config = resolveConfig({ schedule: { cron: 'every two minutes' } }, ['/etc/moor/config.toml']);
    expect(() => checkCron(config)).toThrow(ConfigError);
    expect(() => checkCron(config)).toThrow(/\/etc\/moor\/config.toml: key "schedule.cron": "every two minutes" is not a valid cron expression/);
  });
});
