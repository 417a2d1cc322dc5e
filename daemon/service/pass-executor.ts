// One daemon pass: take the same pass lock as `moor reconcile --once` (process lock →
// state store → per workload), run the pass with its metrics (pass/pass-metrics.ts), and
// turn however it ends into an outcome.
//
// The lock is awaited in short slices rather than in one unbounded wait, so that a
// daemon told to stop while a manual `moor rollback` holds the lock stops promptly
// instead of queueing behind it.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MoorConfig } from '../core/config/schema';
import { LockHeldError } from '../core/errors';
import { systemClock } from '../host/clock';
import { acquirePassLock, type PassLock } from '../host/lock';
import type { Logger } from '../host/log';
import { openStateStore, type StateStore } from '../state/store';
import { realHostOps, type HostOps } from '../pass/host-ops';
import { runPass, type PassContext, type PassOptions } from '../pass/run-pass';
import type { ReadTree } from '../pass/desired-source';
import { logPassFailed, logPassFinished, logPassStarted } from '../pass/pass-result';
import { PassProfile } from '../pass/profile';
import { DesiredCache } from '../pass/desired-cache';
import { runMeteredPass } from '../pass/pass-metrics';
import type { PassRequest } from './pass-loop';
import { errorOutcome, type PassOutcome } from './protocol';

/** Slice of one lock wait: how soon a stopping daemon notices it should give up waiting. */
const LOCK_SLICE_MS = 2_000;

export interface ExecutorDeps {
  /** The config in force when the pass starts (a reload changes it between passes). */
  config: () => MoorConfig;
  log: Logger;
  /** Seams for tests; the defaults are the real ones. */
  openStore?: (config: MoorConfig) => Promise<StateStore>;
  host?: (config: MoorConfig) => HostOps;
  runPass?: (ctx: PassContext, options: PassOptions) => ReturnType<typeof runPass>;
  passOptions?: Pick<PassOptions, 'settleMs'>;
}

export function createPassExecutor(deps: ExecutorDeps): (request: PassRequest) => Promise<PassOutcome> {
  const openStore = deps.openStore ?? ((c: MoorConfig) => openStateStore(c.stateDir, { clock: systemClock }));
  const hostFor = deps.host ?? ((c: MoorConfig) => realHostOps(c, systemClock));
  const pass = deps.runPass ?? runPass;
  // The daemon's passes share what step 2 read of the last commit (pass/desired-cache.ts).
  const desiredCache = new DesiredCache<ReadTree>();

  return async (request) => {
    const config = deps.config();
    const log = deps.log;
    logPassStarted(log, request.reasons.join(','));
    let lock: PassLock | undefined;
    try {
      const waitStart = performance.now();
      lock = await takeLock(config.lockPath, request, log);
      const lockWaitMs = performance.now() - waitStart;
      if (!lock) return { kind: 'cancelled', summary: 'the daemon is stopping: the pass did not run' };
      request.progress();
      const store = await openStore(config);
      // At debug level every step of the pass is a journal line with its time.
      const profile = config.logLevel === 'debug' ? { profile: new PassProfile(log) } : {};
      const result = await runMeteredPass(
        { config, host: hostFor(config), store, log, ...profile, timings: { lockWaitMs }, desiredCache },
        { shouldStop: request.shouldStop, onItem: request.onItem, ...(deps.passOptions ?? {}) },
        pass,
      );
      logPassFinished(log, result);
      return { kind: 'result', result };
    } catch (err) {
      const outcome = errorOutcome(err);
      logPassFailed(log, outcome.exitCode, outcome.summary);
      return outcome;
    } finally {
      await lock?.release().catch((e: unknown) => log.error({ err: (e as Error).message }, 'releasing the pass lock failed'));
    }
  };
}

async function takeLock(path: string, request: PassRequest, log: Logger): Promise<PassLock | undefined> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let announced = false;
  for (;;) {
    if (request.shouldStop()) return undefined;
    try {
      return await acquirePassLock(path, { wait: true, waitTimeoutMs: LOCK_SLICE_MS });
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err;
      if (!announced) log.info({ holder: err.holder }, 'waiting for the pass lock');
      announced = true;
    }
  }
}
