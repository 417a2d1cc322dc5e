// What the commands that change the host share: the pass lock, the state store, the host
// operations and the logger, set up in the documented lock order.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MoorConfig } from '../core/config/schema';
import type { PassContext } from '../pass/context';
import { systemClock } from '../host/clock';
import { openStateStore, type StateStore } from '../state/store';

/**
 * Runs `fn` holding the pass lock (process lock → state store), releasing it however fn
 * ends. With `profile`, every span and host command of the pass is timed (and logged at
 * debug level).
 */
export async function withPassLock<T>(config: MoorConfig, opts: { wait: boolean; profile?: boolean }, fn: (ctx: PassContext) => Promise<T>): Promise<T> {
  // The lock, the logger and the host operations load with the first command that changes
  // the host; `moor status` and the other readers open the store alone (build.ts).
  const [{ acquirePassLock }, { createLogger }, { PassProfile, profiledRunner }, { ExecaRunner }, { realHostOps }] = await Promise.all([
    import('../host/lock'),
    import('../host/log'),
    import('../pass/profile'),
    import('../host/exec'),
    import('../pass/host-ops'),
  ]);
  await mkdir(dirname(config.lockPath), { recursive: true, mode: 0o755 });
  const waitStart = performance.now();
  const lock = await acquirePassLock(config.lockPath, { wait: opts.wait });
  const timings = { lockWaitMs: performance.now() - waitStart };
  try {
    const store = await openStateStore(config.stateDir, { clock: systemClock });
    const log = createLogger(config.logLevel);
    const profile = opts.profile ? new PassProfile(log) : undefined;
    const runner = profile ? profiledRunner(new ExecaRunner(), profile) : new ExecaRunner();
    const host = realHostOps(config, systemClock, runner);
    return await fn({ config, host, store, log, timings, ...(profile ? { profile } : {}) });
  } finally {
    await lock.release();
  }
}

/** Read-only commands open the store without the lock: every state file is written atomically. */
export async function openStoreReadOnly(config: MoorConfig): Promise<StateStore> {
  return openStateStore(config.stateDir, { clock: systemClock, readOnly: true });
}

/**
 * `moor redeploy` writes its request without the lock (one atomic file; a pass clears
 * only the request it saw), so it opens the store as a writer.
 */
export async function openStoreWithoutLock(config: MoorConfig): Promise<StateStore> {
  return openStateStore(config.stateDir, { clock: systemClock });
}
