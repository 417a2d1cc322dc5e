// Step 7 for one item of the plan: skip, remove, apply or leave it, and say how it went.
// Never throws: a failure is the item's outcome, and the pass goes on with the next. An
// apply has two halves: beginItem runs it until the workload's units are up, and the
// function it returns waits out their settle time and records the outcome; the pass runs
// the next item's first half in between (run-pass.ts).
import type { PlanItem } from '../core/plan';
import { contentsOf, hashesOf, type RenderedWorkload } from '../core/desired';
import type { FileContents } from '../core/types';
import { startWorkload, type Applied, type RolledBack } from './apply-workload';
import { keptError, plannedOutcome, type ItemOutcome } from './pass-result';
import { removeWorkload } from './remove-workload';
import type { HostView, Installed, Observed, PassContext } from './context';
import { timed } from './profile';

export interface ItemScope {
  view: HostView;
  observed: Observed;
  generation: number;
  settleMs: number;
  /** Runs the creation of users one at a time, whatever else runs at once. */
  userAccounts: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The second half of an item: waits for what the first half started, records it, says how it went. */
export type FinishItem = () => Promise<ItemOutcome>;

export async function beginItem(ctx: PassContext, scope: ItemScope, item: PlanItem): Promise<FinishItem> {
  const clock = ctx.host.clock;
  const started = clock.now().getTime();
  const outcome: ItemOutcome = { ...plannedOutcome(item), result: 'ok' };
  const installed = scope.observed.installed.find((a) => a.workload === item.workload);
  // Measured on the wall clock: a clock stepped back during the item would make it
  // negative, which no record accepts (it failed the whole pass).
  let durationMs = 0;
  const done = (): ItemOutcome => ({ ...outcome, durationMs });
  const failed = async (err: unknown): Promise<void> => {
    outcome.result = 'failed';
    outcome.error = (err as Error).message;
    // The user may exist by now even though the apply failed: say which uid it has.
    outcome.uid ??= scope.view.uids.get(item.workload) ?? (await ctx.host.users.lookupUser(item.user).catch(() => null))?.uid;
  };
  let finish: (() => Promise<void>) | undefined;
  try {
    if (item.action === 'skip') {
      // Left as it runs: its uid is the one it was applied with, if it ever was.
      outcome.uid = installed?.uid;
      outcome.result = 'failed';
      outcome.error = (item.problems ?? []).map((p) => `${p.path}${p.line ? `:${p.line}` : ''}: ${p.message}`).join('; ');
    } else if (item.action === 'remove') {
      outcome.uid = installed!.uid;
      await timed(ctx.profile, 'remove', () => removeWorkload({ host: ctx.host, store: ctx.store, config: ctx.config, log: ctx.log }, installed!));
    } else if (item.action === 'unchanged') {
      outcome.uid = scope.view.uids.get(item.workload);
    } else if (item.action === 'keep') {
      // Still rolled back: the previous version runs, and the failing one waits for a change or a redeploy.
      outcome.uid = scope.view.uids.get(item.workload);
      outcome.result = 'rolled-back';
      outcome.error = keptError(item, installed?.rolledBack);
    } else {
      const record = await applyAndRecord(ctx, scope, item, installed);
      outcome.uid = record.uid;
      finish = async () => {
        const recorded = await record.settled();
        if (recorded.rolledBack !== undefined) {
          outcome.result = 'rolled-back';
          outcome.error = recorded.rolledBack;
        }
      };
    }
  } catch (err) {
    await failed(err);
  }
  durationMs = Math.max(0, clock.now().getTime() - started);
  if (!finish) return async () => done();
  const last = finish;
  return async () => {
    const from = clock.now().getTime();
    await last().catch(failed);
    durationMs += Math.max(0, clock.now().getTime() - from);
    return done();
  };
}

/**
 * create, update, drift, redeploy: apply, then record. The applied record is written only
 * after the health gate passed, so a pass killed at any point leaves either the old record
 * (the next pass re-applies) or the new one (the work was done). Returns once the units
 * are up; settled() waits out the rest of the gate and records.
 */
async function applyAndRecord(
  ctx: PassContext,
  scope: ItemScope,
  item: PlanItem,
  prev: Installed | undefined,
): Promise<{ uid: number; settled(): Promise<{ uid: number; rolledBack?: string }> }> {
  const w = scope.view.desired.workloads.find((d) => d.name === item.workload)!;
  // A drift repair of a workload kept rolled back re-applies the version that runs, not the one that failed.
  const running = item.action === 'drift' ? scope.observed.kept.get(item.workload) : undefined;
  // The version it was rolled back to did not come back this time: nothing is to be kept
  // any more, so the next pass tries again.
  const unkeep = async (err: unknown): Promise<never> => {
    if (prev?.rolledBack) await forgetRollback(ctx, item.workload);
    throw err;
  };
  const started = await startWorkload(
    {
      host: ctx.host,
      store: ctx.store,
      healthMs: ctx.config.timeouts.healthMs,
      settleMs: scope.settleMs,
      userAccounts: scope.userAccounts,
      ...(ctx.config.policy ? { policy: ctx.config.policy } : {}),
      ...(ctx.profile ? { profile: ctx.profile } : {}),
    },
    item,
    running ? () => running : w.render,
    prev?.hashes ?? {},
    async () => (prev ? appliedFiles(ctx, prev) : undefined),
  ).catch(unkeep);
  if ('rolledBack' in started) {
    const rolledBack = started;
    return { uid: started.uid, settled: () => record(ctx, scope, item, prev, running, rolledBack) };
  }
  return { uid: started.uid, settled: async () => record(ctx, scope, item, prev, running, await started.settle().catch(unkeep)) };
}

/** The outcome of an apply, recorded: the applied record, or the mark of a rollback. */
async function record(
  ctx: PassContext,
  scope: ItemScope,
  item: PlanItem,
  prev: Installed | undefined,
  running: RenderedWorkload | undefined,
  done: Applied | RolledBack,
): Promise<{ uid: number; rolledBack?: string }> {
  const { store } = ctx;
  if ('rolledBack' in done) {
    await recordRollback(ctx, scope, item, done.rolledBack);
    return done;
  }
  if (running && prev?.rolledBack) {
    // Repaired as it was: the record (the version, its generation and commit, the mark) stays; only the time moves.
    const record = await store.applied.read(item.workload);
    if (record) await store.applied.write({ ...record, uid: done.uid, appliedAt: undefined });
    return { uid: done.uid, rolledBack: keptError(item, prev.rolledBack) };
  }
  await timed(ctx.profile, 'apply.record', async () => {
    await store.generations.recordApplied(scope.generation, item.workload, contentsOf(done.rendered));
    await store.applied.write({
    workload: item.workload,
    user: item.user,
    uid: done.uid,
    hash: done.rendered.hash,
    hashes: hashesOf(done.rendered),
      generation: scope.generation,
      commit: scope.view.desired.commit,
    });
  });
  const request = scope.observed.redeploy.find((r) => r.workload === item.workload);
  if (request) await store.redeploy.clear(item.workload, request.token);
  return { uid: done.uid };
}

/**
 * The files of a workload's applied version: from the generation that applied it, or,
 * once garbage collection deleted that one, from the live generation when it holds the
 * same content (every generation keeps every workload's files).
 */
export async function appliedFiles(ctx: PassContext, applied: Installed): Promise<FileContents | undefined> {
  const read = async (id: number | undefined) => (id === undefined ? undefined : (await ctx.store.generations.read(id, [applied.workload]).catch(() => undefined))?.workloads[applied.workload]);
  // The applied generation holds the files as written (its manifest's hash may be that of a
  // rendering before the user existed); another generation only counts with the same hash.
  const own = await read(applied.generation);
  if (own) return own.files;
  const live = await read(await ctx.store.generations.current());
  return live?.hash === applied.hash ? live.files : undefined;
}

/** Drops the mark of a rollback from a workload's applied record. */
export async function forgetRollback(ctx: PassContext, workload: string): Promise<void> {
  const record = await ctx.store.applied.read(workload);
  if (!record?.rolledBack) return;
  const { rolledBack: _forgotten, ...rest } = record;
  await ctx.store.applied.write(rest);
}

/**
 * The previous version runs again: its applied record stays what it was (the plan and
 * drift checks compare against the version that runs), marked with the version that
 * failed, so the next pass keeps it until the repo changes it or a redeploy asks again. A
 * redeploy request is served by this attempt, failed or not.
 */
async function recordRollback(ctx: PassContext, scope: ItemScope, item: PlanItem, error: string): Promise<void> {
  const { store } = ctx;
  const record = await store.applied.read(item.workload);
  const failing = scope.view.rendered.get(item.workload);
  if (record && failing) {
    const rolledBack = { hash: failing.hash, commit: scope.view.desired.commit, generation: scope.generation, error, at: ctx.host.clock.now().toISOString() };
    await store.applied.write({ ...record, appliedAt: rolledBack.at, rolledBack });
  }
  const request = scope.observed.redeploy.find((r) => r.workload === item.workload);
  if (request) await store.redeploy.clear(item.workload, request.token);
}
