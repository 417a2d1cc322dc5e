// Step 2 of a pass: where the desired state comes from. Normally the repo (fetched,
// scanned, merged with the host's transforms, validated); while a rollback pins a
// generation, that generation's rendered files, with nothing fetched.
import { join } from 'node:path';
import type { MoorConfig } from '../core/config/schema';
import { fleetLayoutProblems, fleetWorkloads, hostWorkloads, notInFleet, readFleetManifest, sliceFor, type HostSlice } from '../core/fleet';
import type { DiscoveryOptions, TreeEntry, Workload } from '../core/types';
import { filesOf, ownProblemsOf, renderWorkload, renderedFromFiles, treeProblems, validateWorkload, workloadKey, type RenderedWorkload } from '../core/desired';
import type { Problem } from '../core/problem';
import type { HostIdentity, TransformSet, WorkloadAccount } from '../core/transforms';
import { SourceError, TrustError, ValidationError } from '../core/errors';
import { judgeTip, type Signer } from '../core/trust';
import { tipFacts } from '../host/commit-trust';
import { existingGroupProblem } from '../core/user-name';
import { checkoutAt, syncRepo } from '../host/git';
import { ancestryAnswers, readStatusBranches } from '../host/fleet-git';
import { ancestryQuestions, decideRollout, type RolloutDecision } from '../core/rollout';
import { scanTree } from '../host/repo-scan';
import { loadTransformsDir, type LoadedTransforms } from '../host/transforms-load';
import type { DesiredCache } from './desired-cache';
import type { StateStore } from '../state/store';
import { timed, type PassProfile, type PassTimings } from './profile';

export interface DesiredWorkload {
  name: string;
  user: string;
  /** The repo path of its `.container` or `.pod` (unset for a rolled-back generation). */
  spec?: string;
  /** Renders the workload's files for its user's real uid and home (on this host: the slice knows its name and labels). */
  render(account: WorkloadAccount): RenderedWorkload;
}

export interface DesiredState {
  kind: 'pass' | 'rollback';
  commit: string;
  source: string;
  rollbackOf?: number;
  /** The generation a rollback pins, while it pins. */
  pinned?: number;
  workloads: DesiredWorkload[];
  /** Present in the repo but invalid: left exactly as they run now. */
  invalid: Map<string, { user: string; problems: Problem[] }>;
  /** Who signed the commit, when `[trust]` checked it and the signature is good. */
  signer?: Signer;
  /** warn mode: why the commit would have been refused under require. */
  trustWarnings?: string[];
  /** `fleet.after`: the ring rule's decision, and the tip it was made against. */
  rollout?: RolloutDecision & { tip: string };
}

/** A commit's workloads as step 2 found them: what the daemon keeps between passes (desired-cache.ts). */
export interface ReadTree {
  workloads: DesiredWorkload[];
  invalid: Map<string, { user: string; problems: Problem[] }>;
  /**
   * Each workload's result by its content (core/desired.ts workloadKey), and what every
   * result depended on beside it (`context`: the host's name and labels, the repository
   * paths of the transforms): what the next commit's read reuses for a workload whose
   * files did not change.
   */
  reusable: { context: string; byName: Map<string, WorkloadResult> };
}

/** One workload's outcome of step 2, and the key of the content it came from. */
interface WorkloadResult {
  key: string;
  valid?: DesiredWorkload;
  invalid?: { user: string; problems: Problem[] };
}

/** What the trust check of a pass compares the tip with, and what it may waive. */
export interface TrustContext {
  /** The live generation and its commit; unset on a host with none. */
  live?: { commit: string; generation: number };
  /** `--allow-history-rewrite`: this pass only. */
  allowHistoryRewrite: boolean;
}

/**
 * `fleet.after`: the commit the ring rule picks from the fetched tip (core/rollout.ts), read
 * from the status branches fetched into the checkout. Holding keeps the live commit; with
 * none, the pass fails before anything changes (exit 4), naming the ring it waits for.
 */
function ringTarget(config: MoorConfig, ring: string, live: string | undefined, decided: (d: RolloutDecision & { tip: string }) => void) {
  const dir = checkoutDir(config);
  return async (tip: string): Promise<string> => {
    const statuses = await readStatusBranches(dir, config.timeouts.commandMs);
    const input = { ring, branch: config.source.branch, tip, ...(live ? { live } : {}), statuses };
    const decision = decideRollout(input, await ancestryAnswers(dir, ancestryQuestions(input), config.timeouts.commandMs));
    decided({ ...decision, tip });
    if (decision.take) return decision.commit;
    if (live) return live;
    throw new SourceError(
      `fleet.after = "${ring}": ${decision.message}; this host has no live generation to stay at, so nothing was deployed (it deploys once every host of ring ${ring} has published a healthy commit of branch ${config.source.branch})`,
    );
  };
}

export function checkoutDir(config: MoorConfig): string {
  return join(config.stateDir, 'checkout');
}

/** moor's own HOME and GNUPGHOME for signature checks (host/commit-trust.ts). */
export function trustDir(config: MoorConfig): string {
  return join(config.stateDir, 'trust');
}

export async function desiredFromRepo(
  config: MoorConfig,
  trust: TrustContext = { allowHistoryRewrite: false },
  profile?: PassProfile,
  timings?: PassTimings,
  cache?: DesiredCache<ReadTree>,
): Promise<DesiredState> {
  const url = config.source.url;
  if (!url) throw new SourceError('no source configured: set source.url or source.bare_repo in the config');
  const dir = checkoutDir(config);
  let verdict: { signer?: Signer; reasons: string[] } = { reasons: [] };
  // Judged between fetch and checkout: a refused tip leaves the checkout where it was.
  const vetTip = async (tip: string): Promise<void> => {
    const facts = await tipFacts(tip, trust.live, {
      dir,
      ...(config.trust.allowedSigners ? { allowedSigners: config.trust.allowedSigners } : {}),
      ...(config.trust.gpgKeyring ? { gpgKeyring: config.trust.gpgKeyring } : {}),
      workDir: trustDir(config),
      timeoutMs: config.timeouts.commandMs,
    }).catch((err: unknown) => {
      // warn deploys whatever the check says, a check that could not be made included.
      if (config.trust.mode === 'warn' && err instanceof SourceError) return err;
      throw err;
    });
    if (facts instanceof SourceError) {
      verdict = { reasons: [`commit ${tip} could not be checked: ${facts.message}`] };
      return;
    }
    const judged = judgeTip(config.trust.mode, facts, trust.allowHistoryRewrite || config.trust.allowHistoryRewrite);
    if (!judged.accept) throw new TrustError(tip, judged.reasons);
    verdict = judged;
  };
  let rollout: DesiredState['rollout'];
  const ring = config.fleet.after;
  const reuse = cache?.commitFor(config);
  const fetchStart = performance.now();
  const synced = await timed(profile, 'desired.fetch', () => syncRepo({
    url,
    branch: config.source.branch,
    dir,
    ...(config.source.sshKey ? { sshKey: config.source.sshKey } : {}),
    timeoutMs: config.timeouts.fetchMs,
    budget: config.repoBudget,
    ...(config.trust.mode !== 'off' ? { vetTip } : {}),
    ...(ring !== undefined ? { statusBranches: true, pickTarget: ringTarget(config, ring, trust.live?.commit, (d) => (rollout = d)) } : {}),
    ...(reuse !== undefined ? { reuse } : {}),
  }));
  const { commit } = synced;
  if (timings) timings.fetchMs = performance.now() - fetchStart;
  const transforms = await timed(profile, 'desired.transforms', () => loadTransformsDir(config.transformsDir));
  let tree = cache?.get(config, commit, transforms.fingerprint);
  if (!tree) {
    if (!synced.checkedOut) {
      await timed(profile, 'desired.checkout', () => checkoutAt({ dir, branch: config.source.branch, timeoutMs: config.timeouts.fetchMs, ...(config.source.sshKey ? { sshKey: config.source.sshKey } : {}) }, commit));
    }
    tree = await readTree(config, dir, transforms, profile, cache?.lastRead(config, transforms.fingerprint));
    cache?.set(config, commit, transforms.fingerprint, tree);
  }
  return {
    kind: 'pass',
    commit,
    source: url,
    // Copies: a pass filters and extends these, the cache keeps what the tree holds.
    workloads: [...tree.workloads],
    invalid: new Map(tree.invalid),
    ...(verdict.signer ? { signer: verdict.signer } : {}),
    ...(verdict.reasons.length > 0 ? { trustWarnings: verdict.reasons } : {}),
    ...(rollout ? { rollout } : {}),
  };
}

/**
 * The checked-out tree's workloads: scanned, sliced for this host, discovered and validated.
 * With `last` (the tree read before, under the same config and transforms), a workload whose
 * key is the one it had there gets its result from there, its renders for an account
 * included: the scan, discovery and the tree's own problems are always new.
 */
async function readTree(config: MoorConfig, dir: string, transforms: LoadedTransforms, profile: PassProfile | undefined, last?: ReadTree): Promise<ReadTree> {
  const scanned = await timed(profile, 'desired.scan', () => scanTree(dir, { maxFileBytes: config.maxFileBytes, budget: config.repoBudget }));
  const discovery = await timed(profile, 'desired.discover', async () => {
    const opts = { userPrefix: config.userPrefix, maxFileBytes: config.maxFileBytes, reservedNames: config.reservedNames };
    const slice = hostSlice(scanned, config, opts);
    return { slice, ...hostWorkloads(slice, opts) };
  });
  const { slice } = discovery;
  const host = slice.host;
  // Problems are named by their repository path (hosts/<name>/... for this host's own files).
  const inRepo = (p: Problem): Problem => ({ ...p, path: slice.repoPath(p.path) });
  return timed(profile, 'desired.validate', async () => {
    const tree = treeProblems(discovery.mine, transforms.set, transforms.problems);
    if (tree.length > 0) throw new ValidationError(tree.map(inRepo));
    const context = JSON.stringify([host, transformPaths(transforms.set).map((p) => slice.repoPath(p))]);
    const before = last?.reusable.context === context ? last.reusable.byName : undefined;
    const own = ownProblemsOf(discovery.mine, config.protectedUsers);
    const byName = new Map<string, WorkloadResult>();
    const invalid = new Map<string, { user: string; problems: Problem[] }>();
    const workloads: DesiredWorkload[] = [];
    for (const w of discovery.mine.workloads) {
      const problems = own(w);
      const key = workloadKey(w, problems, filesOf(w).map((f) => slice.repoPath(f.path)));
      const kept = before?.get(w.name);
      const result = kept?.key === key ? kept : workloadResult(w, key, validateWorkload(w, transforms.set, host, problems, config.policy).problems.map(inRepo), slice, transforms, host);
      byName.set(w.name, result);
      if (result.valid) workloads.push(result.valid);
      if (result.invalid) invalid.set(w.name, result.invalid);
    }
    return { workloads, invalid, reusable: { context, byName } };
  });
}

/** A validated workload's result: invalid with its problems, or valid with its render for an account. */
function workloadResult(w: Workload, key: string, problems: Problem[], slice: HostSlice, transforms: LoadedTransforms, host: HostIdentity): WorkloadResult {
  if (problems.length > 0) return { key, invalid: { user: w.user, problems } };
  // Rendering is pure: a pass with the same account (the daemon's next pass, through the
  // cache, of this commit or of one where this workload's key is the same) gets the
  // workload rendered last time.
  let last: { key: string; rendered: RenderedWorkload } | undefined;
  const valid: DesiredWorkload = {
    name: w.name,
    user: w.user,
    spec: slice.repoPath(w.spec.path),
    render: (account) => {
      const key = `${account.name}\0${account.user}\0${account.uid}\0${account.home}`;
      if (last?.key !== key) last = { key, rendered: renderWorkload(w, transforms.set, { ...account, host: host.name, labels: host.labels }) };
      return last.rendered;
    },
  };
  return { key, valid };
}

/** Every path a transform or a companion template is named by in problems. */
function transformPaths(set: TransformSet): string[] {
  return [...set.base.values(), ...[...set.groups.values()].flatMap((g) => [...g.values()]), ...set.templates].map((t) => t.path);
}

/**
 * This host's slice of the tree (docs/fleet.md): the whole tree without fleet.toml; with
 * it, fleet.toml's problems and the layout's fail the pass before anything changes, as
 * does a host the manifest neither names nor selects.
 */
function hostSlice(scanned: readonly TreeEntry[], config: MoorConfig, opts: DiscoveryOptions): HostSlice {
  const fleet = readFleetManifest(scanned);
  if (fleet.problems.length > 0) throw new ValidationError(fleet.problems);
  const slice = sliceFor(scanned, fleet.manifest, config.host);
  if (fleet.manifest === undefined) return slice;
  const layout = fleetLayoutProblems(scanned, fleet.manifest, fleetWorkloads(scanned, fleet.manifest, opts));
  if (layout.length > 0) throw new ValidationError(layout);
  const unknown = notInFleet(slice, "set [host] name in this host's configuration to the name the manifest gives it");
  if (unknown.length > 0) throw new ValidationError(unknown);
  return slice;
}

export async function desiredFromGeneration(store: StateStore, generation: number): Promise<DesiredState> {
  const content = await store.generations.read(generation);
  const workloads: DesiredWorkload[] = Object.entries(content.workloads).map(([name, w]) => {
    const fixed = renderedFromFiles(name, w.user, w.files);
    return { name, user: w.user, render: () => fixed };
  });
  return {
    kind: 'rollback',
    commit: content.manifest.commit,
    source: content.manifest.source,
    rollbackOf: content.manifest.rollbackOf ?? generation,
    workloads,
    invalid: new Map(),
    // What a rollback re-applies was verified when it was first deployed, by this signer.
    ...(content.manifest.signer ? { signer: content.manifest.signer } : {}),
  };
}

export interface GroupLookup {
  /** Whether moor's ownership registry knows this user (then its group is moor's own). */
  owns(user: string): Promise<boolean>;
  groupExists(name: string): Promise<boolean>;
  userExists(name: string): Promise<boolean>;
}

/**
 * A workload whose user moor does not own yet, and whose name is already a group of this
 * host with no user behind it, becomes invalid: useradd would make a user of a group
 * someone else made (a package's `docker`, a site's `admins`). A foreign user of that
 * name is left to ensureUser, which refuses to adopt it with its own message.
 */
export async function refuseExistingGroups(desired: DesiredState, lookup: GroupLookup): Promise<DesiredState> {
  const workloads: DesiredWorkload[] = [];
  const invalid = new Map(desired.invalid);
  for (const w of desired.workloads) {
    if (!(await lookup.owns(w.user)) && (await lookup.groupExists(w.user)) && !(await lookup.userExists(w.user))) {
      invalid.set(w.name, { user: w.user, problems: [existingGroupProblem(w.spec ?? w.name, w.name, w.user)] });
    } else {
      workloads.push(w);
    }
  }
  return { ...desired, workloads, invalid };
}
