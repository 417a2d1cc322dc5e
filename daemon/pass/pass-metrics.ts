// A pass with its metrics: the pass timed, however it ends added to the totals in state
// (under the pass lock it already holds), and, when `[metrics] textfile` is set, the
// exposition written for node_exporter's textfile collector. The daemon's passes and
// `moor reconcile --once` in this process both run through here, so the socket, the TCP
// listener and the textfile all count the same passes. Dry runs change nothing and count
// for nothing.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exitCodeOfError } from '../core/exit-codes';
import { GuardError } from '../core/errors';
import { formatExposition, metricFamilies, type PassSample } from '../core/metrics';
import { commitTime } from '../host/git';
import { writeFileAtomic } from '../state/atomic';
import type { StateStore } from '../state/store';
import type { PassContext, PassOptions } from './context';
import { checkoutDir } from './desired-source';
import type { PassResult } from './pass-result';
import { runPass } from './run-pass';

/** node_exporter runs as its own user: the textfile is readable by all (it holds no secret). */
const TEXTFILE_MODE = 0o644;

export async function runMeteredPass(
  ctx: PassContext,
  options: PassOptions,
  pass: (ctx: PassContext, options: PassOptions) => Promise<PassResult> = runPass,
): Promise<PassResult> {
  const timings = ctx.timings ?? {};
  const started = performance.now();
  let result: PassResult;
  try {
    result = await pass({ ...ctx, timings }, options);
  } catch (err) {
    if (!options.dryRun) await recordPass(ctx, { ...sampleOf(performance.now() - started, timings), exitCode: exitCodeOfError(err), guardRefused: err instanceof GuardError });
    throw err;
  }
  if (!result.dryRun) {
    await recordPass(ctx, { ...sampleOf(performance.now() - started, timings), exitCode: result.exitCode, guardRefused: false, items: result.items });
  }
  return result;
}

function sampleOf(durationMs: number, timings: { lockWaitMs?: number; fetchMs?: number }): Omit<PassSample, 'exitCode' | 'guardRefused'> {
  return {
    durationSeconds: durationMs / 1000,
    lockWaitSeconds: (timings.lockWaitMs ?? 0) / 1000,
    ...(timings.fetchMs !== undefined ? { fetchSeconds: timings.fetchMs / 1000 } : {}),
  };
}

/** Metrics never fail a pass: a write that fails is a warning, and the pass's own outcome stands. */
async function recordPass(ctx: PassContext, sample: PassSample): Promise<void> {
  try {
    const live = await liveCommit(ctx);
    await ctx.store.metrics.addPass(sample, live);
    if (ctx.config.metrics.textfile) await writeTextfile(ctx.config.metrics.textfile, await metricsText(ctx.store, ctx.host.clock.now()));
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, textfile: ctx.config.metrics.textfile }, 'could not record the pass in the metrics');
  }
}

/** The live generation's commit and its time, read from git only when the commit changed. */
async function liveCommit(ctx: PassContext): Promise<{ commit: string; time: number } | undefined> {
  const live = await ctx.store.generations.current();
  if (live === undefined) return undefined;
  const commit = (await ctx.store.generations.info(live))?.manifest?.commit;
  if (!commit) return undefined;
  const known = (await ctx.store.metrics.read()).liveCommit;
  if (known?.commit === commit) return known;
  const time = await commitTime(checkoutDir(ctx.config), commit, ctx.config.timeouts.commandMs);
  return time !== undefined ? { commit, time } : undefined;
}

/** The exposition text of this host, from state alone (no lock: every state file is written atomically). */
export async function metricsText(store: StateStore, now: Date): Promise<string> {
  const [totals, last, live] = await Promise.all([store.metrics.read(), store.lastPass.read(), store.generations.current().catch(() => undefined)]);
  return formatExposition(
    metricFamilies({
      totals,
      ...(last ? { lastPass: { at: new Date(last.at), exitCode: last.exitCode } } : {}),
      ...(live !== undefined ? { liveGeneration: live } : {}),
      now,
    }),
  );
}

async function writeTextfile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFileAtomic(path, text, TEXTFILE_MODE);
}
