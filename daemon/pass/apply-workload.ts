// Step 7 of a pass for one workload (docs/design.md §6): user, linger, user manager, its
// Podman user namespace, files, daemon-reload, (re)starts, health gate. The caller records
// the result; this returns, once the units are up, the rest of the gate (their settle
// time) that gives the applied state, or for an update that failed the cause once the
// previous version runs again (the automatic rollback), or throws; it never touches
// another workload.
import type { WorkloadAccount } from '../core/transforms';
import { posix } from 'node:path';
import { HostError } from '../core/errors';
import { fileAtTarget, unitsOfTargets, type ExpectedUnit } from '../core/deploy-layout';
import { renderedFromFiles, type DesiredFile, type RenderedWorkload } from '../core/desired';
import { secretName } from '../core/secrets';
import type { PlanItem } from '../core/plan';
import { loadedViolations, type Policy } from '../core/policy';
import { parseUnit } from '../core/unit-file';
import type { UserRef } from '../host/systemd';
import type { StateStore } from '../state/store';
import { ensureUser } from './ensure-user';
import { healthGate, untilUp, type UpGate } from './health-gate';
import type { HostOps } from './host-ops';
import { timed, type PassProfile } from './profile';

export interface ApplyContext {
  host: HostOps;
  store: StateStore;
  healthMs: number;
  /** Lets a unit that started stay up this long before the gate passes. */
  settleMs: number;
  /** Runs the creation of users one at a time: useradd and moor's id registry are not safe to run twice at once. */
  userAccounts?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The host policy: what systemd has loaded is judged before anything starts. */
  policy?: Policy;
  profile?: PassProfile;
}

export interface Applied {
  uid: number;
  rendered: RenderedWorkload;
}

/** An update that failed, after which the previous version runs again. */
export interface RolledBack {
  uid: number;
  /** Why the update failed. */
  rolledBack: string;
}

/** Started, its units up: settle() waits out their settle time and says how it ended. */
export interface Started {
  uid: number;
  settle(): Promise<Applied | RolledBack>;
}

/**
 * Applies a workload up to its units being up (or its rollback), and hands back the rest
 * of the health gate: the pass applies the next workload while this one settles
 * (run-pass.ts), so a settle time is not spent once per workload.
 */
export async function startWorkload(
  ctx: ApplyContext,
  item: PlanItem,
  render: (account: WorkloadAccount) => RenderedWorkload,
  previousFiles: Record<string, string>,
  /** The content last applied (from its generation), to put back when the new files do not load or an update fails. */
  loadPrevious: () => Promise<Record<string, string> | undefined> = async () => undefined,
): Promise<Started | RolledBack> {
  const { host } = ctx;
  const part = <T>(name: string, fn: () => Promise<T>): Promise<T> => timed(ctx.profile, `apply.${name}`, fn);
  const serial = ctx.userAccounts ?? ((fn) => fn());
  // Timed once its turn came: the wait for other workloads' users is not this one's work.
  const entry = await serial(() => part('user', () => ensureUser(host.users, ctx.store.ownedUsers, item.user)));
  const who: UserRef = { user: entry.name, uid: entry.uid };
  await part('linger', () => host.logind.enableLinger(who.user));
  await part('user manager', () => host.system.startUserManager(who.uid));
  // Before any unit of the user starts: a Quadlet unit whose podman has to create the
  // user's namespace can lose its READY=1 (host/podman-userns.ts). Every apply does it, so
  // a namespace gone since (a reboot, a restarted user manager) is made again first.
  // Writing, reloading and verifying need no namespace: for a new workload it is made
  // meanwhile (a podman start, 100-200 ms) and awaited before Podman runs as the user (its
  // secrets, the starts); awaited too before any way out, so no command of this workload
  // outlives its apply. An update waits for it first, as a failure must leave the running
  // version untouched (and its namespace is there: a look at pause.pid, host/podman-userns.ts).
  const namespace = part('podman namespace', () => host.preparePodmanUserNamespace(who));
  const namespaceDone = namespace.then(
    () => undefined,
    () => undefined,
  );
  try {
    if (item.action === 'update') await namespace;
    return await applyAsUser(ctx, item, render, previousFiles, loadPrevious, entry, who, namespace);
  } finally {
    await namespaceDone;
  }
}

async function applyAsUser(
  ctx: ApplyContext,
  item: PlanItem,
  render: (account: WorkloadAccount) => RenderedWorkload,
  previousFiles: Record<string, string>,
  loadPrevious: () => Promise<Record<string, string> | undefined>,
  entry: { home: string },
  who: UserRef,
  namespace: Promise<void>,
): Promise<Started | RolledBack> {
  const { host } = ctx;
  const part = <T>(name: string, fn: () => Promise<T>): Promise<T> => timed(ctx.profile, `apply.${name}`, fn);
  const rendered = render({ name: item.workload, user: who.user, uid: who.uid, home: entry.home });
  if (rendered.problems.length > 0) {
    throw new HostError(`rendering for ${who.user} (uid ${who.uid}) failed: ${rendered.problems.map((p) => p.message).join('; ')}`);
  }
  const fullApply = item.action !== 'update';
  const differs = (f: DesiredFile) => fullApply || previousFiles[f.target] !== f.sha256;
  const isSecret = (target: string) => fileAtTarget(target)?.kind === 'secret';
  const changed = rendered.files.filter((f) => f.kind !== 'secret' && differs(f));
  const removed = Object.keys(previousFiles).filter((t) => !isSecret(t) && !rendered.files.some((f) => f.target === t));
  // Secrets are no files: a changed one is decrypted and given to the user's Podman before
  // anything else changes (one that does not decrypt fails the workload as it runs), and
  // one the repo dropped is removed once the new version is up.
  const changedSecrets = rendered.files.filter((f) => f.kind === 'secret' && differs(f));
  const droppedSecrets = Object.keys(previousFiles).filter((t) => isSecret(t) && !rendered.files.some((f) => f.target === t));
  if (changedSecrets.length > 0) await namespace;
  await part('secrets', () => deliverSecrets(ctx, who, changedSecrets));

  // Units whose files go away are stopped while their files still say what they are.
  const gone = unitsOfTargets(removed);
  if (gone.length > 0) await host.userManager.stop(who, gone.map((u) => u.unit)).catch(() => undefined);

  await part('write files', () =>
    host.writeFiles({
      user: who.user,
      uid: who.uid,
      home: entry.home,
      files: changed.map((f) => ({ path: f.target, content: f.content, mode: 0o644 })),
      remove: removed,
    }),
  );
  await part('daemon-reload', () => host.userManager.daemonReload(who));

  const units = rendered.units;
  const back: Rollback = { who, home: entry.home, written: changed.map((f) => f.target), removed, gone: gone.map((u) => u.unit) };
  try {
    await part('verify', async () => {
      await verifyLoaded(ctx, who, units);
      if (ctx.policy) await verifyPolicy(ctx, ctx.policy, who, entry.home, units, rendered);
    });
  } catch (err) {
    // A workload whose files do not load, or whose loaded units break the policy, is left as it ran: the old files go back before
    // anything restarts, so a later reload or reboot does not drop the running service.
    if (item.action === 'update') return { uid: who.uid, rolledBack: await part('rollback', () => rollBack(ctx, back, [], (err as Error).message, loadPrevious)) };
    const restored = await restoreFiles(ctx, who, entry.home, back.written, removed, loadPrevious);
    throw new HostError(`${(err as Error).message}; ${restored}`);
  }
  const touched = unitsToAct(units, [...changed, ...changedSecrets].map((f) => f.target), rendered, fullApply);
  const deadline = host.clock.now().getTime() + ctx.healthMs;
  // An update that fails brings the previous version back up; a first creation, a
  // redeploy or a drift repair has no other version to go back to.
  const failed = async (err: unknown): Promise<RolledBack> => {
    if (item.action !== 'update') throw err;
    return { uid: who.uid, rolledBack: await part('rollback', () => rollBack(ctx, back, touched.map((u) => u.unit), (err as Error).message, loadPrevious)) };
  };
  let up: UpGate;
  try {
    await namespace;
  } catch (err) {
    // No unit of it started: the workload is left as it was before this apply (an update
    // waited for its namespace before writing anything).
    const restored = await restoreFiles(ctx, who, entry.home, back.written, removed, loadPrevious);
    throw new HostError(`${(err as Error).message}; ${restored}`);
  }
  try {
    await part('start', () => startUnits(ctx, who, touched));
    up = await part('health gate', () =>
      untilUp(
        host.userManager,
        who,
        units.filter((u) => u.gate).map((u) => u.unit),
        { deadline, clock: host.clock, settleMs: ctx.settleMs },
      ),
    );
  } catch (err) {
    return failed(err);
  }
  return {
    uid: who.uid,
    settle: () =>
      part('settle', () => up.settle()).then(
        async (): Promise<Applied> => {
          await part('secrets', () => removeSecrets(ctx, who, droppedSecrets));
          return { uid: who.uid, rendered };
        },
        failed,
      ),
  };
}

/** What an update changed, for putting the previous version back. */
interface Rollback {
  who: UserRef;
  home: string;
  /** Targets the update wrote. */
  written: readonly string[];
  /** Targets the update removed. */
  removed: readonly string[];
  /** Units the update stopped because their files went away. */
  gone: readonly string[];
}

/**
 * The automatic rollback of a failed update: the units the new version started that the
 * previous one lacks are stopped, the previous files go back (from the generation that
 * applied them), daemon-reload, the units the update stopped or (re)started are
 * (re)started as the previous version defines them, and its health gate runs again,
 * bounded as the first. Returns the failure of the update; throws, naming both failures,
 * when the previous version does not come back.
 */
async function rollBack(
  ctx: ApplyContext,
  back: Rollback,
  started: readonly string[],
  cause: string,
  loadPrevious: () => Promise<Record<string, string> | undefined>,
): Promise<string> {
  const { host } = ctx;
  const { who } = back;
  try {
    const previous = await loadPrevious();
    if (!previous) throw new HostError('the files of the previous version are no longer kept (its generation was deleted)');
    const before = renderedFromFiles('previous', who.user, previous);
    const kept = new Set(before.units.map((u) => u.unit));
    const newOnly = started.filter((u) => !kept.has(u));
    if (newOnly.length > 0) await host.userManager.stop(who, newOnly).catch(() => undefined);
    const targets = [...back.written, ...back.removed];
    await host.writeFiles({
      user: who.user,
      uid: who.uid,
      home: back.home,
      files: targets.filter((t) => t in previous).map((t) => ({ path: t, content: previous[t]!, mode: 0o644 })),
      remove: back.written.filter((t) => !(t in previous)),
    });
    await host.userManager.daemonReload(who);
    const again = new Set([...started, ...back.gone]);
    await startUnits(ctx, who, before.units.filter((u) => again.has(u.unit)));
    await healthGate(
      host.userManager,
      who,
      before.units.filter((u) => u.gate).map((u) => u.unit),
      { deadline: host.clock.now().getTime() + ctx.healthMs, clock: host.clock, settleMs: ctx.settleMs },
    );
    return cause;
  } catch (err) {
    throw new HostError(`${cause}; rolling back to the previous version failed too: ${(err as Error).message}`);
  }
}

/** Step 7.6: a Quadlet generator error only shows as a missing unit; say why. */
async function verifyLoaded(ctx: ApplyContext, who: UserRef, units: readonly ExpectedUnit[]): Promise<void> {
  if (units.length === 0) return;
  const statuses = await ctx.host.userManager.show(who, units.map((u) => u.unit));
  const missing = units.filter((u) => statuses.get(u.unit)?.loadState !== 'loaded');
  if (missing.length === 0) return;
  const messages = await ctx.host.userManager.generatorMessages(who);
  const names = missing.map((u) => `${u.unit} (from ${u.source}, LoadState=${statuses.get(u.unit)?.loadState ?? 'unknown'})`);
  throw new HostError(`not loaded after daemon-reload: ${names.join(', ')}${messages.length ? ` — generator says: ${messages.join(' | ')}` : ''}`);
}

/**
 * Step 7.6, under a policy: what will actually run is each unit as systemd loaded it (for
 * a Quadlet file, the generator's output), read back with `systemctl --user cat` and
 * judged as the static check judged the spec. Services and sockets have Exec lines.
 */
async function verifyPolicy(ctx: ApplyContext, policy: Policy, who: UserRef, home: string, units: readonly ExpectedUnit[], rendered: RenderedWorkload): Promise<void> {
  const loaded = [];
  for (const u of units.filter((x) => /\.(service|socket)$/.test(x.unit))) {
    loaded.push({ unit: u.unit, loaded: parseUnit(await ctx.host.userManager.cat(who, u.unit)).unit });
  }
  // `podman kube play /home/u/.config/.../app.yaml` is judged on the YAML moor deployed
  // there (`%h` is the home systemd puts there when it runs the line).
  const deployed = new Map(rendered.files.map((f) => [posix.normalize(`${home}/.config/${f.target}`), { path: f.source, content: f.content }]));
  const fileAt = (path: string) => {
    const expanded = path.replace(/^%h(?=\/)/, home);
    return expanded.startsWith('/') && !expanded.includes('%') ? deployed.get(posix.normalize(expanded)) : undefined;
  };
  const violations = loadedViolations(policy, loaded, { home, uid: who.uid, user: who.user }, fileAt);
  if (violations.length === 0) return;
  throw new HostError(`refused by the host policy, nothing was started: ${violations.map((v) => `${v.message} (fix: ${v.hint})`).join('; ')}`);
}

/**
 * Which units to (re)start: all of them on a full apply; otherwise those whose own file
 * changed, and every unit when a data file, a file a .kube reads, a secret, or a
 * volume/network changed (services read those, and cannot tell us which).
 */
function unitsToAct(units: readonly ExpectedUnit[], changedTargets: readonly string[], rendered: RenderedWorkload, full: boolean): ExpectedUnit[] {
  if (full) return [...units];
  const changedSources = new Set(rendered.files.filter((f) => changedTargets.includes(f.target)).map((f) => f.source));
  const shared = rendered.files.some(
    (f) => changedSources.has(f.source) && (f.kind === 'data' || f.kind === 'referenced' || f.kind === 'secret' || ['volume', 'network', 'image', 'build'].includes(f.ext)),
  );
  return units.filter((u) => shared || changedSources.has(u.source));
}

/** Step 7.7: restart services, start (never restart) oneshot Quadlet units, enable timers. */
async function startUnits(ctx: ApplyContext, who: UserRef, units: readonly ExpectedUnit[]): Promise<void> {
  const um = ctx.host.userManager;
  const of = (action: ExpectedUnit['action']) => units.filter((u) => u.action === action).map((u) => u.unit);
  const run = async (what: string, job: () => Promise<void>) => {
    try {
      await job();
    } catch (err) {
      // The health gate that follows names the unit and its log; keep systemctl's word too.
      throw new HostError(`${what}: ${(err as Error).message}`);
    }
  };
  if (of('start').length) await run('start', () => um.start(who, of('start')));
  if (of('restart').length) await run('restart', () => um.restart(who, of('restart'))).catch(async (err: Error) => {
    await healthGate(um, who, of('restart'), { deadline: 0, clock: ctx.host.clock });
    throw err;
  });
  if (of('enable-start').length) {
    await run('enable', () => um.enable(who, of('enable-start')));
    await run('restart', () => um.restart(who, of('enable-start')));
  }
}

/**
 * The changed secrets, decrypted all at once (a HostError naming the file that does not
 * decrypt, before any is given), then each created or replaced in the user's Podman. A
 * secret rendered from a generation (a rollback) carries no ciphertext: the user's value
 * is left as it is.
 */
async function deliverSecrets(ctx: ApplyContext, who: UserRef, secrets: readonly DesiredFile[]): Promise<void> {
  const files = secrets.flatMap((f) => (f.ciphertext === undefined ? [] : [{ source: f.source, name: secretName(f.name), ciphertext: f.ciphertext }]));
  if (files.length === 0) return;
  const values = await ctx.host.secrets.decrypt(files);
  try {
    for (const f of files) await ctx.host.secrets.create(who, f.name, values.get(f.name)!);
  } finally {
    for (const v of values.values()) v.fill(0);
  }
}

/** The Podman secrets of these targets (moor gave them; the repo no longer has them), removed from the user's store. */
async function removeSecrets(ctx: ApplyContext, who: UserRef, targets: readonly string[]): Promise<void> {
  for (const t of targets) await ctx.host.secrets.remove(who, secretName(fileAtTarget(t)!.name));
}

async function restoreFiles(
  ctx: ApplyContext,
  who: UserRef,
  home: string,
  written: readonly string[],
  removed: readonly string[],
  loadPrevious: () => Promise<Record<string, string> | undefined>,
): Promise<string> {
  try {
    const previous = (await loadPrevious()) ?? {};
    const back = [...written, ...removed].filter((t) => t in previous);
    await ctx.host.writeFiles({
      user: who.user,
      uid: who.uid,
      home,
      files: back.map((t) => ({ path: t, content: previous[t]!, mode: 0o644 })),
      remove: written.filter((t) => !(t in previous)),
    });
    await ctx.host.userManager.daemonReload(who);
    return back.length > 0 ? 'the previously applied files were put back' : 'the new files were removed';
  } catch (err) {
    return `putting the previous files back failed too: ${(err as Error).message}`;
  }
}
