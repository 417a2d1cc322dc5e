// From a discovered tree and the host's transforms to the files each workload's user
// gets, the units they yield, and one content hash per workload (docs/design.md §6 steps 2 and 3).
import type { Discovery } from './discovery';
import { expectedUnits, targetPath } from './deploy-layout';
import { policyProblems, type JudgedFile, type Policy } from './policy';
import type { Problem } from './problem';
import { renderFile } from './render';
import { hashFiles, QUADLET_SECTION, sha256, type DesiredFile, type RenderedWorkload } from './rendered';
import { groupsWithTransforms, templateFileName, type HostIdentity, type Identity, type TransformSet } from './transforms';
import { isUnitKind, type RepoFile, type Workload } from './types';
import { effectiveValue, parseUnit } from './unit-file';
import { isUnitType, QUADLET_TYPES } from './validate';
import { byText } from './text-order';

// The shapes a render and a generation share live in rendered.ts, which readers of the
// state (moor status, moor logs) import without the policy and its YAML parser.
export { contentsOf, hashesOf, hashFiles, renderedFromFiles, sha256, type DesiredFile, type RenderedWorkload } from './rendered';

/**
 * Problems that make the whole tree unreliable: discovery's structural problems, broken
 * transforms, and group directories no transform covers (strict unless marked).
 */
export function treeProblems(discovery: Discovery, transforms: TransformSet, transformProblems: readonly Problem[]): Problem[] {
  const covered = groupsWithTransforms(transforms);
  const unknownGroups: Problem[] = discovery.groups
    .filter((g) => !g.noTransform && !covered.has(g.name))
    .map((g) => ({
      path: `${g.name}/`,
      code: 'unknown-group',
      message: `group directory "${g.name}" has no transform on this host`,
      hint: `add a transform such as ${g.name}.container to the transforms directory, or put a .moor-no-transform file in ${g.name}/`,
    }));
  return [...discovery.problems.filter((p) => p.workload === undefined), ...transformProblems, ...unknownGroups];
}

/** Every file of a workload, in a stable order. */
export function filesOf(w: Workload): RepoFile[] {
  return [w.spec, ...w.members, ...w.companions];
}

/**
 * The files the host's companion templates make for a workload: `<workload>-<suffix>.<type>`
 * from each `_base-<suffix>.<type>`, in the workload's group. A file of that name among the
 * workload's own wins: the template makes nothing for it (docs/transforms.md).
 */
export function templateFilesOf(w: Workload, transforms: TransformSet): RepoFile[] {
  const own = new Set(filesOf(w).map((f) => f.name));
  const out: RepoFile[] = [];
  for (const t of transforms.templates) {
    const name = templateFileName(t, w.name);
    if (own.has(name)) continue;
    out.push({
      path: t.path,
      name,
      ext: t.type,
      ...(w.group !== undefined ? { group: w.group } : {}),
      kind: (QUADLET_TYPES as readonly string[]).includes(t.type) ? 'quadlet' : isUnitType(t.type) ? 'unit' : 'data',
      content: t.content,
      template: t.path,
    });
  }
  return out;
}

/** What a workload deploys: its repo files, then the files the templates make for it. */
export function deployedFilesOf(w: Workload, transforms: TransformSet): RepoFile[] {
  return [...filesOf(w), ...templateFilesOf(w, transforms)];
}

export function renderWorkload(
  w: Workload,
  transforms: TransformSet,
  identity: Identity,
  ownProblems: readonly Problem[] = [],
  /** With a host policy, every merged unit is judged too (docs/policy.md). */
  policy?: Policy,
): RenderedWorkload {
  const problems: Problem[] = [...ownProblems];
  const files: DesiredFile[] = [];
  const serviceNames = new Map<string, string>();
  const judged: Omit<JudgedFile, 'unitName'>[] = [];
  for (const file of deployedFilesOf(w, transforms)) {
    const r = renderFile(file, w, transforms, identity);
    problems.push(...r.problems);
    if (r.content === undefined) continue;
    if (r.unit && isUnitKind(file.kind)) judged.push({ path: file.path, name: file.name, ext: file.ext, kind: file.kind, unit: r.unit });
    const section = QUADLET_SECTION[file.ext];
    const serviceName = section && r.unit ? effectiveValue(r.unit, section, 'ServiceName') : undefined;
    if (serviceName) serviceNames.set(file.path, serviceName);
    files.push({
      target: targetPath(file.kind, file.name),
      source: file.path,
      name: file.name,
      ext: file.ext,
      kind: file.kind,
      content: r.content,
      sha256: sha256(r.content),
      ...(r.ciphertext !== undefined ? { ciphertext: r.ciphertext } : {}),
    });
  }
  files.sort((a, b) => byText(a.target, b.target));
  const units = expectedUnits(files.map((f) => ({ ...f, path: f.source, serviceName: serviceNames.get(f.source) })));
  if (policy) {
    problems.push(...policyProblems(policy, w.name, judged.map((j) => ({ ...j, unitName: units.find((u) => u.source === j.path)?.unit ?? j.name })), dataFileOf(files)));
  }
  return { name: w.name, user: w.user, files, units, hash: hashFiles(files), problems };
}

/** A file deployed beside the units by name, as rendered: the YAML a `.kube` names, for the policy. */
const dataFileOf = (files: readonly DesiredFile[]) => (name: string) => {
  const f = files.find((x) => x.kind === 'referenced' && x.name === name);
  return f ? { path: f.source, content: f.content } : undefined;
};

/**
 * Stands in for a user that does not exist yet (check, render, step-2 validation):
 * systemd's own specifiers, which a user unit resolves to the same values.
 */
export function specifierIdentity(w: Pick<Workload, 'name' | 'user'>, host: HostIdentity): Identity {
  return { name: w.name, user: w.user, uid: '%U', home: '%h', host: host.name, labels: host.labels };
}

export interface ValidatedTree {
  /** Problems that fail the whole pass before anything changes. */
  tree: Problem[];
  /** Every workload rendered for validation (with systemd specifiers for uid and home). */
  workloads: RenderedWorkload[];
}

/**
 * Step 2 of a pass, and all of `moor check`: discover, merge and validate everything, for
 * the host the workloads are rendered on (`{{host}}`, `{{label.KEY}}`).
 */
export function validateTree(
  discovery: Discovery,
  transforms: TransformSet,
  transformProblems: readonly Problem[],
  host: HostIdentity,
  protectedUsers: readonly string[] = ['root'],
  policy?: Policy,
): ValidatedTree {
  const own = ownProblemsOf(discovery, protectedUsers);
  return {
    tree: treeProblems(discovery, transforms, transformProblems),
    workloads: discovery.workloads.map((w) => validateWorkload(w, transforms, host, own(w), policy)),
  };
}

/**
 * Each workload's problems found before it is rendered: discovery's about it (a clash with
 * another workload among them) and a protected user. Discovery's problems are grouped once,
 * not searched once per workload.
 */
export function ownProblemsOf(discovery: Discovery, protectedUsers: readonly string[]): (w: Workload) => Problem[] {
  const found = new Map<string, Problem[]>();
  for (const p of discovery.problems) {
    if (p.workload === undefined) continue;
    const list = found.get(p.workload);
    if (list) list.push(p);
    else found.set(p.workload, [p]);
  }
  return (w) => [
    ...(found.get(w.name) ?? []),
    ...(protectedUsers.includes(w.user)
      ? [{ path: w.spec.path, code: 'protected-user', workload: w.name, message: `workload "${w.name}" would run as the protected user ${w.user}`, hint: 'rename the spec (or set user_prefix) so its user is not protected' }]
      : []),
  ];
}

/** One workload rendered for validation, with systemd specifiers for uid and home. */
export function validateWorkload(w: Workload, transforms: TransformSet, host: HostIdentity, own: readonly Problem[], policy?: Policy): RenderedWorkload {
  return renderWorkload(w, transforms, specifierIdentity(w, host), own, policy);
}

/**
 * What a workload's validation and render depend on beyond the transforms, the host and
 * the config: its files (path, kind, group, content), its problems from discovery and
 * `extra` (the repository path of each file, in a fleet). Two workloads with the same key
 * render the same under the same transforms, host and config (a pure function of them).
 */
export function workloadKey(w: Workload, own: readonly Problem[], extra: readonly string[]): string {
  return sha256(JSON.stringify([w, own, extra]));
}
