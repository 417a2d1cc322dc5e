// One reconcile pass (docs/design.md §6), run by the caller under the pass lock. Lock
// order: process lock (held by the caller) → state store → one workload at a time.
//
// The pass is a fixed sequence of steps, one function each, in the order they run:
//   1 recover            2 desired state       3 render for this host   4 observe
//   5 plan and guard     6 record a no-change pass   6b the host's tools   7 apply each item
//   8 finish
// A step that throws ends the pass; runPass records that failure for `moor status`.
import pLimit from 'p-limit';
import { contentsOf, hashesOf, renderedFromFiles, type RenderedWorkload } from '../core/desired';
import { exitCodeOfError } from '../core/exit-codes';
import { GuardError, HostError } from '../core/errors';
import { MESSAGE_IDS, MESSAGE_ID_KEY } from '../core/journal-entry';
import { planPass, removalGuard, type Observation, type PlanItem } from '../core/plan';
import type { AppliedRecord } from '../state/applied';
import type { StatusItem } from '../state/generation-records';
import { appliedFiles, beginItem, forgetRollback, type FinishItem } from './apply-item';
import type { HostView, Installed, Observed, PassContext, PassOptions } from './context';
import { desiredFromGeneration, desiredFromRepo, refuseExistingGroups, type DesiredState } from './desired-source';
import { observeDrift } from './observe-drift';
import { userManagerUnit } from '../host/systemd';
import { diffAgainstApplied } from './plan-diff';
import { timed } from './profile';
import { keptError, lastPassRecord, logItem, plannedOutcome, summarize, toStatusItem, type ItemOutcome, type PassResult } from './pass-result';

/** The plan of step 5, with the fields every result of this pass repeats. */
export interface Planned {
  items: PlanItem[];
  /** Why a safety guard refuses this plan, if it does. */
  refused?: string;
  base: Pick<PassResult, 'kind' | 'commit' | 'source' | 'rollbackOf' | 'pinned'>;
}

export type { PassContext, PassOptions } from './context';

/**
 * Runs one pass. A pass that ends in an error (fetch, validation, guard...) is recorded
 * in last-pass.json too, so `moor status` says why the latest pass did nothing rather
 * than showing an older success.
 */
export async function runPass(ctx: PassContext, opts: PassOptions = {}): Promise<PassResult> {
  const step = <T>(name: string, fn: () => Promise<T>): Promise<T> => timed(ctx.profile, name, fn);
  try {
    await step('1 recover', () => recover(ctx));
    const desired = await step('2 desired state', () => desiredState(ctx, opts));
    const view = await step('3 render for host', () => renderForHost(ctx, desired));
    const observed = await step('4 observe', () => observe(ctx, view));
    const plan = await step('5 plan', async () => planAndGuard(ctx, view, observed, opts));
    if (opts.dryRun) return await step('5 dry run', () => dryRun(ctx, view, observed, plan, opts));
    await step('5 plan', () => forgetStaleRollbacks(ctx, view, observed));
    const unchanged = await step('6 record no change', () => recordNoChange(ctx, view, plan, observed));
    if (unchanged) return unchanged;
    await step('6b host tools', () => requireTools(ctx, plan));
    const applied = await step('7 apply', () => applyEach(ctx, view, observed, plan, opts));
    return await step('8 finish', () => finish(ctx, plan, applied));
  } catch (err) {
    if (!opts.dryRun) await recordFailedPass(ctx, err);
    throw err;
  }
}

/** Step 1: generations left by a killed pass are marked aborted; `current` is repaired. */
async function recover(ctx: PassContext): Promise<void> {
  const recovery = await ctx.store.generations.recoverAborted();
  for (const q of recovery.quarantined ?? []) {
    ctx.log.error({ generation: q.id, problem: q.problem }, `generation ${q.id} is corrupt: moved to quarantine/, the rest of the history goes on`);
  }
  if (recovery.aborted.length > 0) ctx.log.warn({ generations: recovery.aborted }, 'marked generations of interrupted passes as aborted');
}

/**
 * Step 2: the repo (fetched, scanned, validated; a workload whose user name is a group of
 * this host that moor does not own is invalid), or the generation a rollback pins.
 */
async function desiredState(ctx: PassContext, opts: PassOptions): Promise<DesiredState> {
  const pin = await ctx.store.pin.read();
  if (pin) return { ...(await desiredFromGeneration(ctx.store, pin.generation)), pinned: pin.generation };
  // The history rule and the ring rule both compare with the live commit.
  const live = ctx.config.trust.mode !== 'off' || ctx.config.fleet.after !== undefined ? await liveCommit(ctx) : undefined;
  const desired = await desiredFromRepo(ctx.config, { ...(live ? { live } : {}), allowHistoryRewrite: Boolean(opts.allowHistoryRewrite) }, ctx.profile, ctx.timings, ctx.desiredCache);
  logRollout(ctx, desired.rollout);
  for (const reason of desired.trustWarnings ?? []) ctx.log.warn({ commit: desired.commit, mode: 'warn' }, `trust: ${reason} (deployed: trust.mode is "warn")`);
  return refuseExistingGroups(desired, {
    owns: (user) => ctx.store.ownedUsers.isOwned(user),
    groupExists: (name) => ctx.host.users.groupExists(name),
    userExists: async (name) => (await ctx.host.users.lookupUser(name)) !== null,
  });
}

/** The ring rule's decision: a commit taken at info priority, a hold at warning. */
function logRollout(ctx: PassContext, rollout: DesiredState['rollout']): void {
  if (!rollout) return;
  const fields = { ring: rollout.ring, tip: rollout.tip.slice(0, 12), ...(rollout.take ? { commit: rollout.commit.slice(0, 12), hosts: rollout.hosts.join(',') } : {}) };
  if (rollout.take) ctx.log.info(fields, `fleet.after: ${rollout.message}`);
  else ctx.log.warn(fields, `fleet.after: ${rollout.message}`);
}

/**
 * What the history rule compares a tip with: the commit of the generation `current`
 * points at (the one the host runs as a whole). A live generation that cannot be read
 * leaves nothing to compare with; recovery (step 1) has already quarantined a corrupt one.
 */
async function liveCommit(ctx: PassContext): Promise<{ commit: string; generation: number } | undefined> {
  const id = await ctx.store.generations.current();
  if (id === undefined) return undefined;
  const info = await ctx.store.generations.info(id);
  return info?.manifest?.commit ? { commit: info.manifest.commit, generation: id } : undefined;
}

/**
 * Step 3: render with each existing user's real uid and home; users still to be made get
 * systemd's specifiers until they exist (their action is "create" either way).
 */
async function renderForHost(ctx: PassContext, desired: DesiredState): Promise<HostView> {
  const rendered = new Map<string, RenderedWorkload>();
  const uids = new Map<string, number>();
  const entries = await ctx.host.users.lookupUsers(desired.workloads.map((w) => w.user));
  for (const w of desired.workloads) {
    const entry = entries.get(w.user);
    if (entry) uids.set(w.name, entry.uid);
    rendered.set(w.name, w.render(entry ? { name: w.name, user: w.user, uid: entry.uid, home: entry.home } : { name: w.name, user: w.user, uid: '%U', home: '%h' }));
  }
  return { desired, rendered, uids };
}

/**
 * Step 4: what moor has installed, the redeploy requests, and the drift of every
 * workload whose spec did not change. Users moor created whose workload never applied
 * (a first start that failed, a pass killed after useradd) have no applied record, yet
 * are moor's to remove once no workload wants them.
 */
async function observe(ctx: PassContext, view: HostView): Promise<Observed> {
  const { desired } = view;
  const applied = await ctx.store.applied.list();
  const wanted = new Set([...desired.workloads.map((w) => w.user), ...[...desired.invalid.values()].map((w) => w.user)]);
  const appliedUsers = new Set(applied.map((a) => a.user));
  const strays: Installed[] = (await ctx.store.ownedUsers.list())
    .filter((o) => !wanted.has(o.name) && !appliedUsers.has(o.name))
    .map((o) => ({ workload: workloadOfUser(o.name, ctx.config.userPrefix), user: o.name, uid: o.uid, hash: '', hashes: {} }));
  const redeploy = await ctx.store.redeploy.list();
  const requested = new Set(redeploy.map((r) => r.workload));
  const drift = new Map<string, Observation>();
  const kept = new Map<string, RenderedWorkload>();
  const appliedBy = new Map(applied.map((a) => [a.workload, a]));
  // Whose drift is looked at: a spec that did not change, or a version kept rolled back.
  const unchanged = [...view.rendered].filter(([name, r]) => !requested.has(name) && appliedBy.get(name)?.hash === r.hash);
  const keptBack = [...view.rendered].filter(([name, r]) => !requested.has(name) && appliedBy.get(name)?.hash !== r.hash && appliedBy.get(name)?.rolledBack?.hash === r.hash);
  // Their user managers in one question; a failure to ask leaves each look to ask its own.
  const uids = [...unchanged, ...keptBack].flatMap(([name]) => (view.uids.has(name) ? [view.uids.get(name)!] : []));
  const managers = await ctx.host.system
    .activeStates([...new Set(uids)].sort((a, b) => a - b).map(userManagerUnit))
    .catch(() => undefined);
  // Read-only looks at other users' managers, several at a time: most of a look is
  // waiting for another process (a user manager's answers over D-Bus, or a systemctl run
  // as the user where the bus cannot serve).
  const limit = pLimit(OBSERVE_CONCURRENCY);
  const looks = [
    ...unchanged.map(([name, r]) => limit(async () => void drift.set(name, { drift: await observeDrift(ctx.host, r, view.uids.get(name), managers) }))),
    ...keptBack.map(([name]) =>
      limit(async () => {
        // Kept rolled back: the version that runs is the one to check, and to repair.
        const running = await runningVersion(ctx, appliedBy.get(name)!);
        if (!running) return;
        kept.set(name, running);
        drift.set(name, { drift: await observeDrift(ctx.host, running, view.uids.get(name), managers) });
      }),
    ),
  ];
  await Promise.all(looks);
  return { installed: [...applied, ...strays], redeploy, drift, kept };
}

/** The applied version of a workload; undefined when its files are no longer kept. */
async function runningVersion(ctx: PassContext, prev: AppliedRecord): Promise<RenderedWorkload | undefined> {
  const files = await appliedFiles(ctx, prev);
  return files ? renderedFromFiles(prev.workload, prev.user, files) : undefined;
}

/** Step 5: the plan, and the mass-removal guard (a refusal throws unless allowed or a dry run). */
function planAndGuard(ctx: PassContext, view: HostView, observed: Observed, opts: PassOptions): Planned {
  const { desired } = view;
  const items = planPass({
    desired: [...view.rendered.values()].map((r) => ({ name: r.name, user: r.user, hash: r.hash, hashes: hashesOf(r) })),
    invalid: desired.invalid,
    applied: observed.installed,
    observed: observed.drift,
    redeploy: new Set(observed.redeploy.map((r) => r.workload)),
  });
  const base = { kind: desired.kind, commit: desired.commit, source: desired.source, rollbackOf: desired.rollbackOf, pinned: desired.pinned };
  const guard = removalGuard(items, observed.installed.length, ctx.config.maxRemovals);
  const refused = guard && !opts.allowMassRemoval ? `${guard}; nothing was changed (run with --allow-mass-removal if this is intended)` : undefined;
  if (refused && !opts.dryRun) {
    // Logged here, where both the daemon and `moor reconcile --once` pass: MESSAGE_ID guard refused.
    ctx.log.error({ commit: desired.commit.slice(0, 12), [MESSAGE_ID_KEY]: MESSAGE_IDS.guardRefused }, `guard: ${refused}`);
    throw new GuardError(refused, items.filter((i) => i.action === 'remove').map((i) => i.workload));
  }
  return { items, ...(refused ? { refused } : {}), base };
}

/** `moor plan` and `--dry-run`: the plan as a result, with diffs when asked. Changes nothing. */
async function dryRun(ctx: PassContext, view: HostView, observed: Observed, plan: Planned, opts: PassOptions): Promise<PassResult> {
  const items = plan.items.map(plannedOutcome);
  if (opts.diffs) {
    for (const item of items) {
      const prev = observed.installed.find((a) => a.workload === item.workload);
      item.diff = await diffAgainstApplied(ctx.store, prev?.generation, view.rendered.get(item.workload), item);
    }
  }
  return summarize({ ...plan.base, dryRun: true, items, ...(plan.refused ? { refused: plan.refused } : {}) });
}

/**
 * Part of step 5: a workload whose desired content is again the version it was rolled back
 * to (the failing commit reverted) is in step; the mark of the rollback goes, so status
 * stops saying it.
 */
async function forgetStaleRollbacks(ctx: PassContext, view: HostView, observed: Observed): Promise<void> {
  for (const a of observed.installed) {
    if (!a.rolledBack || view.rendered.get(a.workload)?.hash !== a.hash) continue;
    await forgetRollback(ctx, a.workload);
    delete a.rolledBack;
  }
}

/**
 * Step 6: nothing to apply and the newest generation is the live, complete one: record
 * the pass in last-pass.json and no new generation. After a failed one, though, the host
 * being back in step (a failing workload fixed by hand or gone from the repo) deserves a
 * complete generation, so status stops showing the failure and there is something to
 * roll back to: then the pass goes on to step 7.
 */
async function recordNoChange(ctx: PassContext, view: HostView, plan: Planned, observed: Observed): Promise<PassResult | undefined> {
  if (!plan.items.every((i) => i.action === 'unchanged' || i.action === 'keep')) return undefined;
  // A workload kept rolled back cannot be in step, so there is no complete generation to record: only the pass.
  const kept = plan.items.some((i) => i.action === 'keep');
  const live = await ctx.store.generations.current();
  const newest = (await ctx.store.generations.list()).filter((g) => g.state !== 'aborted').at(-1);
  if (!kept && (live === undefined || newest?.id !== live)) return undefined;
  // Each line still says which uid runs it and what is live.
  const items: ItemOutcome[] = plan.items.map((i) => ({
    ...plannedOutcome(i),
    uid: view.uids.get(i.workload),
    ...(i.action === 'keep'
      ? { result: 'rolled-back' as const, error: keptError(i, observed.installed.find((a) => a.workload === i.workload)?.rolledBack) }
      : { result: 'ok' as const }),
  }));
  for (const item of items) logItem(ctx.log, item, live, view.desired.commit);
  const result = summarize({ ...plan.base, dryRun: false, items });
  await ctx.store.lastPass.write(lastPassRecord(result, ctx.host.clock.now()));
  return result;
}

/**
 * Step 6b: a plan that writes a workload's files needs Podman and its Quadlet generator.
 * Without them a daemon-reload would drop the Quadlet units of every workload it touched,
 * so the pass ends here, before anything changes (exit 6), naming what is missing; what
 * runs keeps running, nothing is removed, and the next pass checks again.
 */
async function requireTools(ctx: PassContext, plan: Planned): Promise<void> {
  if (plan.items.every((i) => i.action === 'unchanged' || i.action === 'skip' || i.action === 'remove')) return;
  const missing = await ctx.host.applyPrerequisites();
  if (missing.length === 0) return;
  throw new HostError(`${missing.join('; ')}: nothing was changed (install or repair Podman; moor doctor checks the host)`);
}

interface ApplyRun {
  generation: number;
  items: ItemOutcome[];
  statusItems: StatusItem[];
}

/**
 * Step 7: begin a generation, then apply the items (creates and updates in sorted order,
 * removals in reverse). One failure never stops the others.
 *
 * Up to `apply.parallel` workloads are applied at once, each up to its units being up,
 * and up to SETTLING_AT_ONCE more wait out the settle time of their health gate.
 * Everything a pass makes an outcome of still happens in plan order, one item at a time:
 * an item is finished, recorded in the generation's status and logged only after the
 * items before it, so reports, logs and the status read as a sequential pass would write
 * them. Users are created one at a time (useradd and moor's id registry are not safe to
 * run twice at once), and a removal runs alone, after every item before it is finished.
 *
 * The status is written after every item that changed the host, so a killed pass leaves
 * a record of how far it got (an item that changed nothing waits for the next write:
 * writing the whole status after each of a thousand unchanged items made a pass quadratic).
 */
async function applyEach(ctx: PassContext, view: HostView, observed: Observed, plan: Planned, opts: PassOptions): Promise<ApplyRun> {
  const { desired } = view;
  const generation = await timed(ctx.profile, 'apply.begin generation', () => ctx.store.generations.begin({
    kind: desired.kind,
    commit: desired.commit,
    source: desired.source,
    ...(desired.rollbackOf !== undefined ? { rollbackOf: desired.rollbackOf } : {}),
    ...(desired.signer ? { signer: desired.signer } : {}),
    workloads: Object.fromEntries([...view.rendered.values()].map((r) => [r.name, { user: r.user, hash: r.hash, files: contentsOf(r) }])),
  }));
  const run: ApplyRun = { generation, items: [], statusItems: [] };
  const scope = { view, observed, generation, settleMs: opts.settleMs ?? ctx.config.apply.settleMs, userAccounts: pLimit(1) };
  const applying = pLimit(ctx.config.apply.parallel);
  const complete = async (item: PlanItem, finish: FinishItem): Promise<void> => {
    const outcome = await finish();
    run.items.push(outcome);
    run.statusItems.push(toStatusItem(outcome, ctx.host.clock.now()));
    if (!HOST_UNTOUCHED.has(item.action)) await timed(ctx.profile, 'apply.record status', () => ctx.store.generations.recordStatus(generation, run.statusItems));
    logItem(ctx.log, outcome, generation, desired.commit);
    opts.onItem?.(outcome);
  };
  // Begun (or waiting for a slot to begin), oldest first: finished in the order they began.
  // One still waiting when the pass is asked to stop never begins, and is left for the next pass like those after it.
  const inHand: { item: PlanItem; begun: Promise<FinishItem | undefined> }[] = [];
  let stopped = false;
  let left = false;
  const stopping = () => {
    ctx.log.warn({ generation }, 'stopping: the remaining workloads are left for the next pass');
    stopped = true;
  };
  const completeOldest = async () => {
    const oldest = inHand.shift()!;
    const finish = await oldest.begun;
    if (finish) await complete(oldest.item, finish);
  };
  const completeAll = async () => {
    while (inHand.length > 0) await completeOldest();
  };
  for (const item of plan.items) {
    if (opts.shouldStop?.()) {
      // The workloads in hand are finished (and reported) before the pass says it stops.
      await completeAll();
      stopping();
      break;
    }
    if (item.action === 'remove') await completeAll();
    // beginItem never throws: a failure is the item's outcome.
    const begin = async () => {
      if (!opts.shouldStop?.()) return beginItem(ctx, scope, item);
      left = true;
      return undefined;
    };
    inHand.push({ item, begun: applying(begin) });
    while (inHand.length > ctx.config.apply.parallel + SETTLING_AT_ONCE) await completeOldest();
    if (item.action === 'remove') await completeAll();
  }
  await completeAll();
  if (left && !stopped) stopping();
  return run;
}

/**
 * How many applied workloads may wait out their settle time beyond those being applied:
 * with one applied at a time, two cover the settle time (1 s) when applying one takes
 * half of it.
 */
const SETTLING_AT_ONCE = 2;

/**
 * How many workloads step 4 looks at at once. Four when each look was a process; over
 * D-Bus a look is a connection and a few questions, and 200 workloads four at a time
 * took 1.7 s in the guest, where the goal for the whole pass is 1.5 s.
 */
const OBSERVE_CONCURRENCY = 16;

/** Plan actions whose item changes nothing on the host. */
const HOST_UNTOUCHED = new Set<PlanItem['action']>(['unchanged', 'keep', 'skip']);

/** Step 8: `complete` and the `current` swap when every item succeeded, gc, last-pass.json. */
async function finish(ctx: PassContext, plan: Planned, run: ApplyRun): Promise<PassResult> {
  const state = await ctx.store.generations.finish(run.generation, run.statusItems);
  const gc = await ctx.store.gc(ctx.config.gc);
  if (gc.deleted.length > 0) ctx.log.info({ deleted: gc.deleted }, 'deleted old generations');
  const result = summarize({ ...plan.base, dryRun: false, items: run.items, generation: run.generation, generationState: state });
  await ctx.store.lastPass.write(lastPassRecord(result, ctx.host.clock.now()));
  return result;
}

async function recordFailedPass(ctx: PassContext, err: unknown): Promise<void> {
  await ctx.store.lastPass
    .write({
      at: ctx.host.clock.now().toISOString(),
      kind: 'pass',
      commit: '',
      source: ctx.config.source.url ?? '',
      exitCode: exitCodeOfError(err),
      summary: `pass failed: ${(err as Error).name}: ${(err as Error).message}`,
      counts: {},
    })
    .catch((e: unknown) => ctx.log.warn({ err: (e as Error).message }, 'could not record the failed pass'));
}

function workloadOfUser(user: string, prefix: string): string {
  return prefix && user.startsWith(prefix) ? user.slice(prefix.length) : user;
}
