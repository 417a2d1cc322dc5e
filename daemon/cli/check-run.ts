// moor check <dir>, run: the checkout validated the way a host would, with no root and no
// systemd (cli/check.ts registers the command and loads this when it runs).
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { HostError, UsageError, ValidationError } from '../core/errors';
import { fleetLayoutProblems, fleetWorkloads, hostWorkloads, notInFleet, readFleetManifest, sliceFor, unassignedWorkloads, type HostSlice } from '../core/fleet';
import { HOST_NAME_PATTERN, type MoorConfig } from '../core/config/schema';
import type { DiscoveryOptions, TreeEntry } from '../core/types';
import { validateTree, type RenderedWorkload } from '../core/desired';
import { secretName } from '../core/secrets';
import { decryptSecrets } from '../host/secrets';
import { formatProblem, sortProblems, type Problem } from '../core/problem';
import { ExitCode } from '../core/exit-codes';
import { safeText } from '../core/safe-text';
import { ExecaRunner } from '../host/exec';
import { scanTree } from '../host/repo-scan';
import { hasManagedMarker, UserAccounts } from '../host/users';
import { existingGroupProblem } from '../core/user-name';
import { loadTransformsDir } from '../host/transforms-load';
import { unusedTransforms } from '../core/transforms';
import { configFrom, type SetExit } from './common';
import { emit } from './output';
import { formatCommitVerdict, verifyCommit, type CommitVerdict, type VerifyCommitOptions } from './verify-commit';
import { byText } from '../core/text-order';

export interface CheckOptions extends Partial<VerifyCommitOptions> {
  transforms?: string;
  identity?: string;
  json?: boolean;
  host?: string;
  label: Record<string, string>;
}

export async function runCheck(dir: string, opts: CheckOptions, cmd: Command, setExit: SetExit): Promise<void> {
  const config = await configFrom(cmd);
  const root = resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${dir}: not a directory`);
  if ((opts.allowedSigners || opts.gpgKeyring) && !opts.verifyCommit) throw new UsageError('--allowed-signers and --gpg-keyring go with --verify-commit REV');
  const commit = opts.verifyCommit ? await verifyCommit(root, { ...opts, verifyCommit: opts.verifyCommit }, config) : undefined;
  const transformsDir = resolve(opts.transforms ?? config.transformsDir);
  let entries;
  try {
    entries = await scanTree(root, { maxFileBytes: config.maxFileBytes, budget: config.repoBudget });
  } catch (err) {
    // A tree over budget is not looked at further: its one problem is the answer.
    if (!(err instanceof ValidationError)) throw err;
    const result: CheckResult = { ok: false, dir: root, transforms: transformsDir, workloads: [], problems: [...err.problems], notes: [], ...(commit ? { commit } : {}) };
    emit(opts, result, (r) => human(r, true));
    return setExit(exitOf(result));
  }
  const transforms = await loadTransformsDir(transformsDir);
  const discoveryOptions = { userPrefix: config.userPrefix, maxFileBytes: config.maxFileBytes, reservedNames: config.reservedNames };
  if (opts.host !== undefined && !HOST_NAME_PATTERN.test(opts.host)) throw new UsageError(`--host ${JSON.stringify(opts.host)}: not a host name (lower-case letters, digits and "-")`);
  const fleet = readFleetManifest(entries);
  const notes: string[] = [];
  const lookups = new GroupLookups(config.timeouts.commandMs, notes);
  const common = { transforms, config, identity: opts.identity, lookups };
  let result: CheckResult;
  if (fleet.manifest === undefined && fleet.problems.length === 0) {
    // A single-host repository: the whole tree, for this host's name and labels.
    const host = { name: opts.host ?? config.host.name, labels: { ...config.host.labels, ...opts.label } };
    const one = await checkSlice(entries, sliceFor(entries, undefined, host), discoveryOptions, common);
    // A transform for a group this repository lacks applies to nothing: said here, where
    // the repository and the host's transforms meet, not by a pass.
    const unused = unusedTransforms(transforms.set, one.groups);
    const problems = sortProblems([...one.problems, ...unused]);
    result = { ok: problems.length === 0, dir: root, transforms: transformsDir, workloads: one.workloads, problems, notes };
  } else {
    const checked = await checkFleet(entries, fleet, opts, discoveryOptions, common);
    result = { ok: checked.ok, dir: root, transforms: transformsDir, workloads: checked.workloads, problems: checked.problems, notes, hosts: checked.hosts };
  }
  if (commit) result = { ...result, commit };
  emit(opts, result, (r) => human(r, transforms.found));
  setExit(exitOf(result));
}

interface CheckedWorkload {
  name: string;
  user: string;
  files: string[];
  units: string[];
  valid: boolean;
}

/** One host of a fleet repository: its slice, rendered with its name and labels. */
interface CheckedHost {
  name: string;
  roles: readonly string[];
  labels: Readonly<Record<string, string>>;
  workloads: CheckedWorkload[];
  /** Problems of this host alone (those of every host are the result's own). */
  problems: Problem[];
}

interface CheckResult {
  ok: boolean;
  dir: string;
  transforms: string;
  /** A fleet: every workload once, valid when valid on every host checked that deploys it. */
  workloads: CheckedWorkload[];
  /** A fleet: the problems of the whole tree, said once; each host's own are under `hosts`. */
  problems: Problem[];
  /** Only for a repository with fleet.toml: each host checked. */
  hosts?: CheckedHost[];
  /** What could not be checked here. */
  notes: string[];
  /** --verify-commit: whether a host in trust mode require would accept the commit. */
  commit?: CommitVerdict;
}



interface SliceCheckContext {
  transforms: Awaited<ReturnType<typeof loadTransformsDir>>;
  config: MoorConfig;
  identity: string | undefined;
  lookups: GroupLookups;
}

interface SliceCheck {
  workloads: CheckedWorkload[];
  /** Every problem of the slice, named by its repository path. */
  problems: Problem[];
  /** The group directories of the tree the slice saw. */
  groups: string[];
}

/** One host's slice checked as that host's pass would: its tree, then its workloads rendered for it. */
async function checkSlice(entries: readonly TreeEntry[], slice: HostSlice, discoveryOptions: DiscoveryOptions, ctx: SliceCheckContext): Promise<SliceCheck> {
  const { all, mine: discovery } = hostWorkloads(slice, discoveryOptions);
  const checked = validateTree(discovery, ctx.transforms.set, ctx.transforms.problems, slice.host, ctx.config.protectedUsers, ctx.config.policy);
  for (const w of checked.workloads) {
    if (w.problems.length > 0) continue;
    const spec = discovery.workloads.find((d) => d.name === w.name)!.spec.path;
    if (await ctx.lookups.taken(w.user)) w.problems.push(existingGroupProblem(spec, w.name, w.user));
  }
  if (ctx.identity !== undefined) {
    for (const w of checked.workloads) w.problems.push(...(await undecryptable(w, resolve(ctx.identity))));
  }
  const inRepo = (p: Problem): Problem => ({ ...p, path: slice.repoPath(p.path) });
  return {
    workloads: checked.workloads.map((w) => ({
      name: w.name,
      user: w.user,
      files: w.files.map((f) => slice.repoPath(f.source)),
      units: w.units.map((u) => u.unit),
      valid: w.problems.length === 0,
    })),
    problems: [...checked.tree, ...checked.workloads.flatMap((w) => w.problems)].map(inRepo),
    groups: all.groups.map((g) => g.name),
  };
}

/**
 * Every host fleet.toml names (or the one `--host` names), each slice checked with that
 * host's name and the labels the manifest gives it. A problem every host has is the
 * tree's, said once; the rest are said for the host they affect.
 */
async function checkFleet(
  entries: readonly TreeEntry[],
  fleet: ReturnType<typeof readFleetManifest>,
  opts: CheckOptions,
  discoveryOptions: DiscoveryOptions,
  ctx: SliceCheckContext,
): Promise<Omit<CheckResult, 'dir' | 'transforms' | 'notes'>> {
  const manifest = fleet.manifest;
  if (manifest === undefined) return { ok: false, workloads: [], problems: sortProblems(fleet.problems), hosts: [] };
  const known = fleetWorkloads(entries, manifest, discoveryOptions);
  const tree: Problem[] = [
    ...fleetLayoutProblems(entries, manifest, known),
    // Only for the whole fleet: one host's slice says nothing of what the others are given.
    ...(opts.host === undefined ? unassignedWorkloads(manifest, known) : []),
    ...unusedTransforms(ctx.transforms.set, [...known.groups]),
  ];
  const names = opts.host !== undefined ? [opts.host] : manifest.hosts.map((h) => h.name);
  const hosts: CheckedHost[] = [];
  for (const name of names) {
    const slice = sliceFor(entries, manifest, { name, labels: opts.label });
    const checked = await checkSlice(entries, slice, discoveryOptions, ctx);
    const unknown = notInFleet(slice, 'give it labels a role selects (--label KEY=VALUE here)');
    hosts.push({ name, roles: slice.roles, labels: slice.host.labels, workloads: checked.workloads, problems: [...unknown, ...checked.problems] });
  }
  // A tree problem every host of several has is the tree's: said once, not once per host.
  const key = (p: Problem) => JSON.stringify([p.path, p.line, p.code, p.message]);
  const everywhere = hosts.length < 2 ? new Set<string>() : new Set(hosts[0]!.problems.filter((p) => p.workload === undefined).map(key).filter((k) => hosts.every((h) => h.problems.some((p) => key(p) === k))));
  const shared = hosts[0]?.problems.filter((p) => everywhere.has(key(p))) ?? [];
  for (const h of hosts) h.problems = sortProblems(h.problems.filter((p) => !everywhere.has(key(p))));
  const problems = sortProblems([...tree, ...shared]);
  const workloads = new Map<string, CheckedWorkload>();
  for (const w of hosts.flatMap((h) => h.workloads)) {
    const seen = workloads.get(w.name);
    workloads.set(w.name, seen ? { ...seen, valid: seen.valid && w.valid } : w);
  }
  return {
    ok: problems.length === 0 && hosts.every((h) => h.problems.length === 0),
    workloads: [...workloads.values()].sort((a, b) => byText(a.name, b.name)),
    problems,
    hosts,
  };
}

/** Whether a workload's user name is a group of this host, asked once per user; getent missing is said once. */
class GroupLookups {
  private readonly answers = new Map<string, boolean>();
  private unknown = false;
  constructor(
    private readonly timeoutMs: number,
    private readonly notes: string[],
  ) {}

  async taken(user: string): Promise<boolean> {
    if (this.unknown) return false;
    const known = this.answers.get(user);
    if (known !== undefined) return known;
    const answer = await groupTaken(user, this.timeoutMs);
    if (answer === 'unknown') {
      this.unknown = true;
      this.notes.push('note: getent is not available here: workload names were not checked against the groups of this host');
      return false;
    }
    this.answers.set(user, answer);
    return answer;
  }
}

/**
 * Whether this host has a group of the user's name that is not the group of a moor user
 * of that name (on a host moor deploys to, its own users' groups exist). Best effort:
 * 'unknown' when getent cannot be run here.
 */
async function groupTaken(user: string, timeoutMs: number): Promise<boolean | 'unknown'> {
  const accounts = new UserAccounts(new ExecaRunner(), { timeoutMs });
  try {
    if (!(await accounts.groupExists(user))) return false;
    const entry = await accounts.lookupUser(user);
    return !(entry !== null && hasManagedMarker(entry));
  } catch {
    return 'unknown';
  }
}

/** A refused commit first, as on a host: its tree would not even be looked at (exit 4). */
function exitOf(result: CheckResult): ExitCode {
  if (result.commit && !result.commit.accepted) return ExitCode.SourceUnavailable;
  return result.ok ? ExitCode.Ok : ExitCode.Invalid;
}

/**
 * `--identity`: each secret of the workload that does not decrypt with the identity, as a
 * problem naming the file. The values are dropped (zeroed) at once and never shown.
 */
async function undecryptable(w: RenderedWorkload, identity: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const f of w.files) {
    if (f.kind !== 'secret' || f.ciphertext === undefined) continue;
    try {
      const values = await decryptSecrets(identity, [{ source: f.source, name: secretName(f.name), ciphertext: f.ciphertext }]);
      for (const v of values.values()) v.fill(0);
    } catch (err) {
      if (!(err instanceof HostError)) throw err;
      // The identity file itself cannot be used: one usage error, not a problem per secret.
      if (!err.message.startsWith(f.source)) throw new UsageError(`--identity: ${err.message}`);
      problems.push({ path: f.source, code: 'secret-does-not-decrypt', message: err.message, hint: `encrypt ${f.name} again to the recipient of ${identity} (age-keygen -y ${identity})`, workload: w.name });
    }
  }
  return problems;
}

function human(r: CheckResult, transformsFound: boolean): string {
  const lines: string[] = [];
  if (!transformsFound) lines.push(`note: transforms directory ${r.transforms} does not exist (use --transforms DIR)`);
  lines.push(...r.notes.map((note) => safeText(note)));
  if (r.commit) lines.push(safeText(formatCommitVerdict(r.commit)));
  // A problem quotes the repo's own lines: one line each, whatever they hold.
  for (const p of r.problems) lines.push(safeText(formatProblem(p)));
  if (r.hosts !== undefined) return [...lines, ...fleetLines(r, r.hosts)].join('\n');
  const valid = r.workloads.filter((w) => w.valid).length;
  if (r.ok) {
    lines.push(`ok: ${r.workloads.length} workload${r.workloads.length === 1 ? '' : 's'} valid in ${r.dir}`);
    for (const w of r.workloads) lines.push(safeText(`  ${w.name} (user ${w.user}): ${w.units.join(', ') || 'no units'}`));
  } else {
    const files = new Set(r.problems.map((p) => p.path)).size;
    lines.push(`${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in ${files} path${files === 1 ? '' : 's'}; ${valid} of ${r.workloads.length} workloads valid`);
  }
  return lines.join('\n');
}

/** A fleet: each host's problems under its name, then its workloads, then one summary line. */
function fleetLines(r: CheckResult, hosts: readonly CheckedHost[]): string[] {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines: string[] = [];
  for (const h of hosts) {
    const valid = h.workloads.filter((w) => w.valid).length;
    const roles = h.roles.length > 0 ? `roles ${h.roles.join(', ')}` : 'no roles';
    const verdict = h.problems.length === 0 ? `${valid === h.workloads.length ? 'ok' : 'invalid'}, ${plural(h.workloads.length, 'workload')}` : `${plural(h.problems.length, 'problem')}; ${valid} of ${plural(h.workloads.length, 'workload')} valid`;
    lines.push(safeText(`host ${h.name} (${roles}): ${verdict}`));
    for (const p of h.problems) lines.push(safeText(`  ${formatProblem(p)}`));
    for (const w of h.workloads) lines.push(safeText(`  ${w.name} (user ${w.user}): ${w.units.join(', ') || 'no units'}${w.valid ? '' : ' [invalid]'}`));
  }
  const total = r.problems.length + hosts.reduce((n, h) => n + h.problems.length, 0);
  lines.push(r.ok ? `ok: ${plural(hosts.length, 'host')}, ${plural(r.workloads.length, 'workload')} valid in ${r.dir}` : `${plural(total, 'problem')} across ${plural(hosts.length, 'host')} in ${r.dir}`);
  return lines;
}
