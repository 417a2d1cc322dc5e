// moor-reconcile.timer follows schedule.cron: `moor install-units` writes a drop-in with
// OnCalendar= converted from it (core/cron-calendar.ts) and RandomizedDelaySec= from
// schedule.jitter, so the timer and the daemon run passes at the same moments. An
// expression systemd cannot express fails install-units as a config error on schedule.cron.
import type { MoorConfig } from '../core/config/schema';
import { CronCalendarError, cronToCalendar } from '../core/cron-calendar';
import { ConfigError } from '../core/errors';

/** Where the drop-in goes, relative to the prefix. */
export const TIMER_DROP_IN = 'etc/systemd/system/moor-reconcile.timer.d/schedule.conf';

export function timerDropIn(config: MoorConfig): string {
  let calendar: string;
  try {
    calendar = cronToCalendar(config.schedule.cron);
  } catch (err) {
    if (!(err instanceof CronCalendarError)) throw err;
    throw new ConfigError(config.files.at(-1) ?? 'config', `key "schedule.cron": ${err.message}`, undefined, 'schedule.cron');
  }
  const jitterMs = config.schedule.jitterMs;
  const delay = jitterMs % 1000 === 0 ? `${jitterMs / 1000}s` : `${jitterMs}ms`;
  return [
    `# Written by moor install-units from schedule.cron = "${config.schedule.cron}" and schedule.jitter:`,
    '# run it again after changing them, then systemctl daemon-reload.',
    '[Timer]',
    // The empty assignment drops the shipped unit's OnCalendar= instead of adding to it.
    'OnCalendar=',
    `OnCalendar=${calendar}`,
    `RandomizedDelaySec=${delay}`,
    '',
  ].join('\n');
}
