// The scheduled trigger: croner ticks on schedule.cron, and each tick fires after a
// random delay of up to schedule.jitter, so a fleet on the same schedule does not fetch
// from the same server in the same second.
//
// croner, not node-cron: node-cron reads the wall clock through Intl.DateTimeFormat on
// every tick, whatever the time zone, and that alone maps about 8 MiB of ICU data into
// the idle daemon (bench/README.md, "Idle memory of the daemon"). croner uses Intl only
// for an explicit time zone, which moor never passes: local time, as cron means it.
import { Cron } from 'croner';
import type { Logger } from '../host/log';
import { ConfigError } from '../core/errors';
import type { MoorConfig } from '../core/config/schema';

export interface CronTask {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  destroy(): void | Promise<void>;
  getNextRun(): Date | null;
}

export type CreateCronTask = (expression: string, onTick: () => void, log: Logger) => CronTask;

/**
 * How moor reads schedule.cron: five fields, or six with seconds first; a day must match
 * both day-of-month and day-of-week when both are given (as node-cron, which moor used
 * before, read them, so no schedule changed its meaning).
 */
const CRON_OPTIONS = { mode: '5-or-6-parts', domAndDow: true } as const;

export const cronerTask: CreateCronTask = (expression, onTick, log) => {
  const job = new Cron(expression, {
    ...CRON_OPTIONS,
    paused: true,
    catch: (e: unknown) => log.error(`scheduler: ${e instanceof Error ? e.message : String(e)}`),
  }, () => onTick());
  return {
    start: () => void job.resume(),
    stop: () => void job.pause(),
    destroy: () => job.stop(),
    getNextRun: () => (job.isStopped() ? null : job.nextRun()),
  };
};

/** A cron expression moor's schedule accepts; the config schema only checks it is a string. */
export function checkCron(config: MoorConfig): void {
  try {
    new Cron(config.schedule.cron, { ...CRON_OPTIONS, paused: true }).stop();
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^CronPattern: /, '') : String(e);
    throw new ConfigError(config.files.at(-1) ?? 'config', `key "schedule.cron": "${config.schedule.cron}" is not a valid cron expression (${why})`, undefined, 'schedule.cron');
  }
}

export interface ScheduleOptions {
  cron: string;
  jitterMs: number;
  fire: () => void;
  log: Logger;
  createTask?: CreateCronTask;
  random?: () => number;
}

/** How often the schedule looks for the wall clock having stepped back. */
export const CLOCK_CHECK_MS = 30_000;
/** A step back smaller than this is left alone (it delays the next tick by as much). */
const CLOCK_STEP_TOLERANCE_MS = 5_000;

export class Schedule {
  private task: CronTask | undefined;
  private jitterTimer: NodeJS.Timeout | undefined;
  private clockTimer: NodeJS.Timeout | undefined;
  private lastWallMs = 0;
  private readonly createTask: CreateCronTask;
  private readonly random: () => number;

  constructor(private opts: ScheduleOptions) {
    this.createTask = opts.createTask ?? cronerTask;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    this.task = this.createTask(this.opts.cron, () => this.tick(), this.opts.log);
    void this.task.start();
    // Timers run in elapsed time, the schedule in wall-clock time. croner looks at the
    // clock again at least every 30 s, so a step back delays its next tick by up to that;
    // seen here, the step is logged and the task made again from the new time at once.
    this.lastWallMs = Date.now();
    this.clockTimer = setInterval(() => this.checkClock(), CLOCK_CHECK_MS);
    this.clockTimer.unref();
  }

  private checkClock(): void {
    const wall = Date.now();
    const back = this.lastWallMs + CLOCK_CHECK_MS - wall;
    this.lastWallMs = wall;
    if (back <= CLOCK_STEP_TOLERANCE_MS || !this.task) return;
    this.opts.log.warn({ stepped_back_ms: back }, 'the clock stepped back: the schedule is computed again from the new time');
    this.stopTask();
    this.task = this.createTask(this.opts.cron, () => this.tick(), this.opts.log);
    void this.task.start();
  }

  /** Takes a new cron expression or jitter (a config reload); a no-op when neither changed. */
  update(cronExpression: string, jitterMs: number): void {
    if (cronExpression === this.opts.cron && jitterMs === this.opts.jitterMs) return;
    this.stop();
    this.opts = { ...this.opts, cron: cronExpression, jitterMs };
    this.start();
    this.opts.log.info({ cron: cronExpression, jitter_ms: jitterMs }, 'schedule changed');
  }

  nextRun(): Date | undefined {
    return this.task?.getNextRun() ?? undefined;
  }

  stop(): void {
    clearTimeout(this.jitterTimer);
    this.jitterTimer = undefined;
    clearInterval(this.clockTimer);
    this.clockTimer = undefined;
    this.stopTask();
  }

  private stopTask(): void {
    if (this.task) {
      void this.task.stop();
      void this.task.destroy();
      this.task = undefined;
    }
  }

  private tick(): void {
    // A tick while the previous one still waits out its jitter adds nothing.
    if (this.jitterTimer) return;
    const delay = Math.floor(this.random() * this.opts.jitterMs);
    this.jitterTimer = setTimeout(() => {
      this.jitterTimer = undefined;
      this.opts.fire();
    }, delay);
  }
}
