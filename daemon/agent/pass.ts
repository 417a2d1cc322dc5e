// One reconcile pass (DESIGN §6), run by the caller under the pass lock. Lock order:
// process lock (held by the caller) → state store → one workload at a time.
import type { Logger } from 'pino';
import type { MoorConfig } from '../core/config/schema';
import { specifierIdentity, type RenderedWorkload } from '../core/desired';
import { planPass, removalGuard, type Observation, type PlanItem } from '../core/plan';
import { GuardError, MoorError } from '../errors';
import { ExitCode, exitCodeOfCategory } from '../exit-codes';
import type { StatusItem } from '../state/generation-records';
import type { AppliedRecord } from '../state/applied';
import { workloadDiff } from '../core/unit-diff';
import type { StateStore } from '../state/store';
import { LastPassStore } from '../state/last-pass';
import { applyWorkload } from './apply-workload';
import { desiredFromGeneration, desiredFromRepo, type DesiredState } from './desired-source';
import type { HostOps } from './host-ops';
import { observeDrift } from './observe';
import { removeWorkload } from './remove-workload';
import { summarize, type ItemOutcome, type PassResult } from './pass-result';

export interface PassDeps {
  config: MoorConfig;
  host: HostOps;
  store: StateStore;
  log: Logger;
}

export interface PassOptions {
  dryRun?: boolean;
  allowMassRemoval?: boolean;
  /** Asked between workloads: true once SIGTERM arrived (finish the one in hand, then stop). */
  shouldStop?: () => boolean;
  /** Called as each item finishes, for streamed progress. */
  onItem?: (item: ItemOutcome) => void;
  /** How long a started unit must stay healthy before its gate passes. */
  settleMs?: number;
  /** With dryRun: a unified diff per changed workload, against what was last applied. */
  diffs?: boolean;
}

/**
 * Runs one pass. A pass that ends in an error (fetch, validation, guard...) is recorded
 * in last-pass.json too, so `moor status` says why the latest pass did nothing rather
 * than showing an older success.
 */
export async function runPass(deps: PassDeps, opts: PassOptions = {}): Promise<PassResult> {
  try {
    return await runPassSteps(deps, opts);
  } catch (err) {
    if (!opts.dryRun) {
      const exitCode = err instanceof MoorError ? exitCodeOfCategory(err.category) : ExitCode.Partial;
      await new LastPassStore(deps.config.stateDir)
        .write({
          at: deps.host.clock.now().toISOString(),
          kind: 'pass',
          commit: '',
          source: deps.config.source.url ?? '',
          exitCode,
          summary: `pass failed: ${(err as Error).name}: ${(err as Error).message}`,
          counts: {},
        })
        .catch((e: unknown) => deps.log.warn({ err: (e as Error).message }, 'could not record the failed pass'));
    }
    throw err;
  }
}

async function runPassSteps(deps: PassDeps, opts: PassOptions): Promise<PassResult> {
  const { config, host, store, log } = deps;
  const recovery = await store.generations.recoverAborted();
  if (recovery.aborted.length > 0) log.warn({ generations: recovery.aborted }, 'marked generations of interrupted passes as aborted');

  const pin = await store.pin.read();
  const desired: DesiredState = pin ? await desiredFromGeneration(store, pin.generation) : await desiredFromRepo(config);

  // Render with each existing user's real uid and home; users still to be made get
  // systemd's specifiers until they exist (their action is "create" either way).
  const rendered = new Map<string, RenderedWorkload>();
  const uids = new Map<string, number>();
  for (const w of desired.workloads) {
    const entry = await host.users.lookupUser(w.user);
    if (entry) uids.set(w.name, entry.uid);
    rendered.set(w.name, w.render(entry ? { name: w.name, user: w.user, uid: entry.uid, home: entry.home } : specifierIdentity(w)));
  }

  const applied = await store.applied.list();
  // Users moor created whose workload never applied successfully (a first start that
  // failed, a pass killed after useradd) have no applied record, yet are moor's to remove
  // once no workload wants them.
  const wanted = new Set([...desired.workloads.map((w) => w.user), ...[...desired.invalid.values()].map((w) => w.user)]);
  const appliedUsers = new Set(applied.map((a) => a.user));
  const strays: Installed[] = (await store.ownedUsers.list())
    .filter((o) => !wanted.has(o.name) && !appliedUsers.has(o.name))
    .map((o) => ({ workload: workloadOfUser(o.name, config.userPrefix), user: o.name, uid: o.uid, hash: '', files: {} }));
  const installed: Installed[] = [...applied, ...strays];
  const redeploy = await store.redeploy.list();
  const redeployNames = new Set(redeploy.map((r) => r.workload));
  const observed = new Map<string, Observation>();
  for (const [name, r] of rendered) {
    const prev = applied.find((a) => a.workload === name);
    if (prev && prev.hash === r.hash && !redeployNames.has(name)) {
      observed.set(name, { drift: await observeDrift(host, r, uids.get(name)) });
    }
  }
  const plan = planPass({
    desired: [...rendered.values()].map((r) => ({ name: r.name, user: r.user, hash: r.hash, files: Object.fromEntries(r.files.map((f) => [f.target, f.sha256])) })),
    invalid: desired.invalid,
    applied: installed,
    observed,
    redeploy: redeployNames,
  });

  const base = { kind: desired.kind, commit: desired.commit, source: desired.source, rollbackOf: desired.rollbackOf, pinned: pin?.generation };
  const guard = removalGuard(plan, installed.length, config.maxRemovals);
  const refused = guard && !opts.allowMassRemoval ? `${guard}; nothing was changed (run with --allow-mass-removal if this is intended)` : undefined;
  if (refused && !opts.dryRun) {
    throw new GuardError(refused, plan.filter((i) => i.action === 'remove').map((i) => i.workload));
  }
  if (opts.dryRun) {
    const items = plan.map((i) => planned(i));
    if (opts.diffs) {
      for (const item of items) item.diff = await diffAgainstApplied(store, applied.find((a) => a.workload === item.workload), rendered.get(item.workload), item);
    }
    return summarize({ ...base, dryRun: true, items, ...(refused ? { refused } : {}) });
  }

  const lastPass = new LastPassStore(config.stateDir);
  // Nothing to apply and the newest generation is the live, complete one: record no new
  // generation. After a failed one, though, the host being back in step (a failing
  // workload fixed by hand or left the repo) deserves a complete generation, so status
  // stops showing the failure and there is something to roll back to.
  const live = await store.generations.current();
  const newest = (await store.generations.list()).filter((g) => g.state !== 'aborted').at(-1);
  if (plan.every((i) => i.action === 'unchanged') && live !== undefined && newest?.id === live) {
    // Each line still says which uid runs it and what is live.
    const items = plan.map((i) => ({ ...planned(i), uid: uids.get(i.workload), result: 'ok' as const }));
    for (const item of items) logItem(log, item, live, desired.commit);
    const result = summarize({ ...base, dryRun: false, items });
    await lastPass.write(lastPassRecord(result, host.clock.now()));
    return result;
  }

  const generation = await store.generations.begin({
    kind: desired.kind,
    commit: desired.commit,
    source: desired.source,
    ...(desired.rollbackOf !== undefined ? { rollbackOf: desired.rollbackOf } : {}),
    workloads: Object.fromEntries(
      [...rendered.values()].map((r) => [r.name, { user: r.user, hash: r.hash, files: Object.fromEntries(r.files.map((f) => [f.target, f.content])) }]),
    ),
  });
  let ensuredGroup = false;
  const items: ItemOutcome[] = [];
  const statusItems: StatusItem[] = [];
  for (const item of plan) {
    if (opts.shouldStop?.()) {
      log.warn({ generation }, 'stopping: the remaining workloads are left for the next pass');
      break;
    }
    const started = host.clock.now().getTime();
    const outcome: ItemOutcome = { ...planned(item), result: 'ok' };
    try {
      if (item.action === 'skip') {
        // Left as it runs: its uid is the one it was applied with, if it ever was.
        outcome.uid = applied.find((a) => a.workload === item.workload)?.uid;
        outcome.result = 'failed';
        outcome.error = (item.problems ?? []).map((p) => `${p.path}${p.line ? `:${p.line}` : ''}: ${p.message}`).join('; ');
      } else if (item.action === 'remove') {
        const record = installed.find((a) => a.workload === item.workload)!;
        outcome.uid = record.uid;
        await removeWorkload({ host, store, protectedUsers: config.protectedUsers }, record);
      } else if (item.action !== 'unchanged') {
        if (!ensuredGroup) {
          await host.users.ensureGroup('moor-managed');
          ensuredGroup = true;
        }
        const w = desired.workloads.find((d) => d.name === item.workload)!;
        const prev = applied.find((a) => a.workload === item.workload);
        const done = await applyWorkload(
          { host, store, healthMs: config.timeouts.healthMs, settleMs: opts.settleMs ?? 1_000 },
          item,
          w.render,
          prev?.files ?? {},
          async () => (prev ? (await store.generations.read(prev.generation)).workloads[item.workload]?.files : undefined),
        );
        outcome.uid = done.uid;
        const files = Object.fromEntries(done.rendered.files.map((f) => [f.target, f.content]));
        await store.generations.writeUnits(generation, item.user, files);
        await store.applied.write({
          workload: item.workload,
          user: item.user,
          uid: done.uid,
          hash: done.rendered.hash,
          files: Object.fromEntries(done.rendered.files.map((f) => [f.target, f.sha256])),
          generation,
          commit: desired.commit,
        });
        const request = redeploy.find((r) => r.workload === item.workload);
        if (request) await store.redeploy.clear(item.workload, request.token);
      } else {
        outcome.uid = uids.get(item.workload);
      }
    } catch (err) {
      outcome.result = 'failed';
      outcome.error = (err as Error).message;
      // The user may exist by now even though the apply failed: say which uid it has.
      outcome.uid ??= uids.get(item.workload) ?? (await host.users.lookupUser(item.user).catch(() => null))?.uid;
    }
    outcome.durationMs = host.clock.now().getTime() - started;
    items.push(outcome);
    statusItems.push(toStatusItem(outcome, host.clock.now()));
    await store.generations.recordStatus(generation, statusItems);
    logItem(log, outcome, generation, desired.commit);
    opts.onItem?.(outcome);
  }

  const state = await store.generations.finish(generation, statusItems);
  const gc = await store.gc(config.gc);
  if (gc.deleted.length > 0) log.info({ deleted: gc.deleted }, 'deleted old generations');
  const result = summarize({ ...base, dryRun: false, items, generation, generationState: state });
  await lastPass.write(lastPassRecord(result, host.clock.now()));
  return result;
}

async function diffAgainstApplied(
  store: StateStore,
  prev: AppliedRecord | undefined,
  next: RenderedWorkload | undefined,
  item: ItemOutcome,
): Promise<string | undefined> {
  if (item.changed.length === 0 && item.removed.length === 0) return undefined;
  let before: Record<string, string> = {};
  if (prev) {
    try {
      before = (await store.generations.read(prev.generation)).workloads[item.workload]?.files ?? {};
    } catch {
      // That generation was garbage-collected: show the whole new content.
    }
  }
  const after = Object.fromEntries((next?.files ?? []).map((f) => [f.target, f.content]));
  return workloadDiff(item.user, before, item.action === 'remove' ? {} : after) || undefined;
}

/** What moor has put on the host for a workload: an applied record, or a user it owns. */
interface Installed {
  workload: string;
  user: string;
  uid?: number;
  hash: string;
  files: Record<string, string>;
}

function workloadOfUser(user: string, prefix: string): string {
  return prefix && user.startsWith(prefix) ? user.slice(prefix.length) : user;
}

function planned(i: PlanItem): ItemOutcome {
  return { workload: i.workload, user: i.user, action: i.action, reason: i.reason, changed: i.changed, removed: i.removed, result: 'planned', durationMs: 0 };
}

function toStatusItem(o: ItemOutcome, at: Date): StatusItem {
  return {
    workload: o.workload,
    user: o.user,
    ...(o.uid !== undefined ? { uid: o.uid } : {}),
    action: o.action,
    result: o.result === 'ok' ? 'ok' : o.result === 'failed' ? 'failed' : 'skipped',
    ...(o.error ? { error: o.error } : {}),
    durationMs: o.durationMs,
    at: at.toISOString(),
  };
}

function logItem(log: Logger, o: ItemOutcome, generation: number | undefined, commit: string): void {
  const fields = {
    workload: o.workload,
    user: o.user,
    uid: o.uid,
    action: o.action,
    result: o.result,
    duration_ms: o.durationMs,
    generation,
    commit: commit.slice(0, 12),
    ...(o.error ? { error: o.error } : {}),
  };
  if (o.result === 'failed') log.error(fields, `${o.workload}: ${o.action} failed`);
  else log.info(fields, `${o.workload}: ${o.action} ${o.result}`);
}

function lastPassRecord(r: PassResult, at: Date) {
  return {
    at: at.toISOString(),
    kind: r.kind,
    commit: r.commit,
    source: r.source,
    ...(r.generation !== undefined ? { generation: r.generation } : {}),
    exitCode: r.exitCode,
    summary: r.summary,
    counts: { ...r.counts },
  };
}
