// A pass run in this process (`moor reconcile --once` from the timer, `moor resume`, or
// --no-daemon) is announced to the [notify] receivers as a daemon pass is: once the pass
// lock is released, and before the process exits (the sends are bounded by notify.timeout
// and notify.retries). A pass that never ran (the lock held: exit 3) is not announced; a
// pass the daemon ran is announced by the daemon.
import type { MoorConfig } from '../core/config/schema';
import { exitCodeOfError } from '../core/exit-codes';
import { createLogger } from '../host/log';
import type { PassResult } from '../pass/pass-result';
import { NotifySender, type NotifyPayload } from '../service/notify-send';
import { serializeError } from '../service/protocol';

/**
 * Runs `pass`, which wraps the pass itself (under the lock) in `run`, and announces how
 * the pass ended once `pass` has returned or thrown (and so released the lock).
 */
export async function announcedPass<R extends PassResult>(config: MoorConfig, pass: (run: <T>(p: Promise<T>) => Promise<T>) => Promise<R>): Promise<R> {
  if (!config.notify) return pass((p) => p);
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
  const sender = new NotifySender({ config: () => config.notify, stateDir: () => config.stateDir, log: createLogger(config.logLevel) });
  try {
    const result = await pass(run);
    const { profile: _profile, ...plain } = result as R & { profile?: unknown };
    sender.announce(plain as PassResult);
    return result;
  } catch (err) {
    if (ran) sender.announce(ran);
    throw err;
  } finally {
    await sender.idle();
  }
}
