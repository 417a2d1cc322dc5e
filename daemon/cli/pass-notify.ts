// A pass run in this process (`moor reconcile --once` from the timer, `moor resume`, or
// --no-daemon) is announced to the [notify] receivers as a daemon pass is: once the pass
// lock is released, and before the process exits (the sends are bounded by notify.timeout
// and notify.retries). A pass that never ran (the lock held: exit 3) is not announced; a
// pass the daemon ran is announced by the daemon. The host's status (`fleet.publish`) is
// published at the same moment, under the same rules.
import type { MoorConfig } from '../core/config/schema';
import { exitCodeOfError } from '../core/exit-codes';
import { createLogger } from '../host/log';
import type { PassResult } from '../pass/pass-result';
import { NotifySender, type NotifyPayload } from '../service/notify-send';
import { homesOf, StatusPublisher } from '../service/status-publish';
import { createHostOps } from '../pass/host-ops';
import { ExecaRunner } from '../host/exec';
import { systemClock } from '../host/clock';
import { serializeError } from '../service/protocol';

/**
 * Runs `pass`, which wraps the pass itself (under the lock) in `run`, and announces how
 * the pass ended once `pass` has returned or thrown (and so released the lock); with
 * `fleet.publish`, the host's status is published then too (service/status-publish.ts).
 */
export async function announcedPass<R extends PassResult>(config: MoorConfig, pass: (run: <T>(p: Promise<T>) => Promise<T>) => Promise<R>): Promise<R> {
  if (!config.notify && !config.fleet.publish) return pass((p) => p);
  let ran: NotifyPayload | undefined;
  const run = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      const error = serializeError(err);
      ran = { kind: 'error', exitCode: exitCodeOfError(err), summary: `pass failed: ${error.name}: ${error.message}`, error };
      throw err;
    }
  };
  const log = createLogger(config.logLevel);
  const sender = new NotifySender({ config: () => config.notify, stateDir: () => config.stateDir, log });
  const publisher = new StatusPublisher({ config: () => config, log, homes: (users) => homesOf(createHostOps(new ExecaRunner(), config, { clock: systemClock }), users) });
  try {
    const result = await pass(run);
    const { profile: _profile, ...plain } = result as R & { profile?: unknown };
    sender.announce(plain as PassResult);
    publisher.publish(plain as PassResult);
    return result;
  } catch (err) {
    if (ran) sender.announce(ran);
    if (ran) publisher.publish(ran);
    throw err;
  } finally {
    await Promise.all([sender.idle(), publisher.idle()]);
  }
}
