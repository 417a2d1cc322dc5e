// Second half of discovery: turn the accepted files into workloads (docs/design.md §2). Pods,
// non-member containers and `.kube` files that extend no .container/.pod stem are
// workloads; members join the longest pod stem they extend with '-'; the files a `.kube`
// reads (Yaml=, ConfigMap=) join its workload; everything else joins the longest workload
// stem it extends with '-' or '.'. Names are resolved across the whole tree, not per group.
import type { FileKind, RepoFile, Workload } from '../types';
import type { Problem } from '../problem';
import { kubeFileRefs } from '../kube-files';
import { substitutePlaceholders, type HostIdentity } from '../transforms';
import { parseUnit } from '../unit-file';
import { isUnitType } from '../validate';
import { SECRET_EXT } from '../secrets';
import { NAME_RULE_HINT, USER_NAME_MAX, nameCharsViolation, reservedNameEntry } from '../user-name';
import { MOORIGNORE, isRepositoryFile } from './ignores';
import type { Candidate } from './walk';
import { byText } from '../text-order';

/** No host given (a caller that renders nothing): `{{host}}` and labels stay unfilled. */
const NO_HOST: HostIdentity = { name: '{{host}}', labels: {} };

const QUADLET_COMPANIONS = new Set(['volume', 'network', 'image', 'build', 'kube']);
const UNIT_TYPES = new Set(['service', 'timer', 'socket', 'path', 'target']);

interface Anchor {
  file: Candidate;
  stem: string;
  kind: Workload['kind'];
  /** Stem of the workload it deploys under (the pod's, for a member). */
  owner: string;
}

export function buildWorkloads(
  candidates: readonly Candidate[],
  userPrefix: string,
  reservedNames: readonly string[] = [],
  host: HostIdentity = NO_HOST,
): { workloads: Workload[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const podStems = new Set(candidates.filter((c) => extOf(c.name) === 'pod').map((c) => stemOf(c.name)));
  const containerOrPodStems = new Set(candidates.filter((c) => ['container', 'pod'].includes(extOf(c.name))).map((c) => stemOf(c.name)));

  const anchors = new Map<string, Anchor[]>();
  const others: Candidate[] = [];
  for (const c of candidates) {
    const ext = extOf(c.name);
    // A .kube that extends a container's or pod's name is that workload's companion.
    const kubeWorkload = ext === 'kube' && longestPrefix(c.name, containerOrPodStems, '-.') === undefined;
    if (ext !== 'container' && ext !== 'pod' && !kubeWorkload) {
      others.push(c);
      continue;
    }
    const stem = stemOf(c.name);
    const owner = ext === 'container' ? (longestPrefix(stem, podStems, '-') ?? stem) : stem;
    const list = anchors.get(stem) ?? [];
    list.push({ file: c, stem, kind: ext as Anchor['kind'], owner });
    anchors.set(stem, list);
  }

  // A stem used twice is ambiguous for its companions too, so nothing hangs off it.
  const unique = new Map<string, Anchor>();
  for (const [stem, list] of anchors) {
    if (list.length === 1 && list[0]) unique.set(stem, list[0]);
    else problems.push(...duplicateStems(stem, list));
  }

  const workloads = new Map<string, Workload>();
  for (const a of unique.values()) {
    if (a.owner !== a.stem || !a.file.ok) continue;
    const user = userPrefix + a.stem;
    const bad = userNameProblem(a, user) ?? reservedNameProblem(a, user, reservedNames);
    if (bad) problems.push(bad);
    workloads.set(a.stem, {
      name: a.stem,
      user,
      kind: a.kind,
      ...(a.file.group !== undefined ? { group: a.file.group } : {}),
      spec: repoFile(a.file, 'quadlet'),
      members: [],
      companions: [],
    });
  }
  for (const a of unique.values()) {
    if (a.owner === a.stem || !a.file.ok) continue;
    workloads.get(a.owner)?.members.push(repoFile(a.file, 'quadlet'));
  }

  const anchorStems = new Set(anchors.keys());
  const ownerOf = (c: Candidate): string | undefined => {
    const stem = longestPrefix(c.name, anchorStems, '-.');
    return stem === undefined ? undefined : unique.get(stem)?.owner;
  };
  const kubes = [
    ...[...unique.values()].filter((a) => a.kind === 'kube').map((a) => ({ file: a.file, owner: a.owner })),
    ...others.filter((c) => extOf(c.name) === 'kube').flatMap((c) => {
      const owner = ownerOf(c);
      return owner === undefined ? [] : [{ file: c, owner }];
    }),
  ];
  const readBy = kubeReads(kubes, candidates, userPrefix, host);
  for (const c of others) {
    const readers = readBy.get(c.path);
    if (readers !== undefined) {
      if (c.ok) for (const owner of readers) workloads.get(owner)?.companions.push(repoFile(c, 'referenced'));
      continue;
    }
    const stem = longestPrefix(c.name, anchorStems, '-.');
    if (stem === undefined) {
      // A refused file already has its problem; an orphan on top would be noise. A
      // repository's own file (LICENSE, renovate.json) is no orphan: it was never meant to deploy.
      if (c.ok && !isRepositoryFile(c.name)) problems.push(orphan(c));
      continue;
    }
    const a = unique.get(stem);
    if (!a || !c.ok) continue;
    workloads.get(a.owner)?.companions.push(repoFile(c, kindOf(extOf(c.name))));
  }

  const result = [...workloads.values()].sort((x, y) => byText(x.name, y.name));
  for (const w of result) {
    problems.push(...dropCollisions(w));
    w.members.sort((x, y) => byText(x.path, y.path));
    w.companions.sort((x, y) => byText(x.path, y.path));
  }
  return { workloads: result, problems };
}

export function extOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1);
}

/**
 * Repo path of each file a `.kube` reads → the workloads whose `.kube` reads it. Only
 * references that name a non-unit file beside the `.kube` count (kube-files.ts); the
 * others are reported when the `.kube` is rendered. Placeholders known before the user
 * exists are filled in, as rendering will.
 */
function kubeReads(kubes: readonly { file: Candidate; owner: string }[], candidates: readonly Candidate[], userPrefix: string, host: HostIdentity): Map<string, Set<string>> {
  const paths = new Set(candidates.map((c) => c.path));
  const out = new Map<string, Set<string>>();
  for (const { file, owner } of kubes) {
    if (!file.ok) continue;
    const identity = { name: owner, user: userPrefix + owner, uid: '%U', home: '%h', host: host.name, labels: host.labels };
    const dir = file.path.slice(0, file.path.length - file.name.length);
    for (const ref of kubeFileRefs(parseUnit(substitutePlaceholders(file.content, identity), file.path).unit)) {
      const path = dir + (ref.name ?? '');
      // A secret is never a file beside the unit, whatever a .kube names.
      if (ref.name === undefined || isUnitType(extOf(ref.name)) || extOf(ref.name) === SECRET_EXT || !paths.has(path)) continue;
      out.set(path, (out.get(path) ?? new Set()).add(owner));
    }
  }
  return out;
}

function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}

function kindOf(ext: string): FileKind {
  if (ext === SECRET_EXT) return 'secret';
  if (QUADLET_COMPANIONS.has(ext)) return 'quadlet';
  if (UNIT_TYPES.has(ext)) return 'unit';
  return 'data';
}

/** The longest stem in `stems` that `name` starts with, followed by one of `seps`. */
function longestPrefix(name: string, stems: ReadonlySet<string>, seps: string): string | undefined {
  for (let i = name.length - 1; i > 0; i--) {
    if (seps.includes(name[i] ?? '') && stems.has(name.slice(0, i))) return name.slice(0, i);
  }
  return undefined;
}

function repoFile(c: Candidate, kind: FileKind): RepoFile {
  return {
    path: c.path,
    name: c.name,
    ext: extOf(c.name),
    ...(c.group !== undefined ? { group: c.group } : {}),
    kind,
    content: c.content,
  };
}

function userNameProblem(a: Anchor, user: string): Problem | undefined {
  const chars = nameCharsViolation(a.stem);
  if (chars !== undefined) {
    return {
      path: a.file.path,
      code: 'invalid-user-name',
      message: `workload name ${JSON.stringify(a.stem)} ${chars}; the name of a .${a.kind} is the Linux user it runs as`,
      hint: `rename ${a.file.name}: ${NAME_RULE_HINT}`,
      workload: a.stem,
    };
  }
  const userWhy = nameCharsViolation(user);
  if (userWhy !== undefined || user.length > USER_NAME_MAX) {
    const why = userWhy ?? `is ${user.length} characters long; Linux user names are at most ${USER_NAME_MAX}`;
    const room = USER_NAME_MAX - (user.length - a.stem.length);
    return {
      path: a.file.path,
      code: 'invalid-user-name',
      message: `user ${JSON.stringify(user)} (user_prefix + ${JSON.stringify(a.stem)}) ${why}`,
      hint:
        userWhy !== undefined
          ? 'fix user_prefix in the moor configuration'
          : `shorten the name of ${a.file.name} to at most ${Math.max(room, 0)} characters`,
      workload: a.stem,
    };
  }
  return undefined;
}

/**
 * The user name (user_prefix + stem) is also the name of the group useradd makes for it:
 * one that carries privilege, or will once a package creates it, is refused.
 */
function reservedNameProblem(a: Anchor, user: string, extra: readonly string[]): Problem | undefined {
  const entry = reservedNameEntry(user, extra);
  if (entry === undefined) return undefined;
  const named = user === a.stem ? `workload name ${JSON.stringify(a.stem)}` : `user ${JSON.stringify(user)} (user_prefix + ${JSON.stringify(a.stem)})`;
  return {
    path: a.file.path,
    code: 'reserved-user-name',
    message: `${named} is reserved (${entry === user ? 'a' : `${JSON.stringify(entry)}: a`} name that can carry privilege on a host); moor would create a user and a group of that name`,
    hint: `rename ${a.file.name} (or set user_prefix) so the user is not a reserved name`,
    workload: a.stem,
  };
}

function duplicateStems(stem: string, list: readonly Anchor[]): Problem[] {
  const paths = list.map((a) => a.file.path).sort(byText);
  return paths.map((path) => ({
    path,
    code: 'duplicate-stem',
    message: `${JSON.stringify(stem)} is defined more than once (${paths.join(', ')}); a .container, .pod or .kube name must be unique in the whole tree`,
    hint: 'rename or remove all but one of them',
  }));
}

function orphan(c: Candidate): Problem {
  return {
    path: c.path,
    code: 'orphan',
    message: `${c.path} belongs to no workload: its name does not start with the name of a .container, .pod or .kube followed by "-" or ".", and no .kube reads it`,
    hint: `rename it after its workload (<name>-${c.name} or <name>.<ext>), name it in a .kube's Yaml= or ConfigMap=, or list it in ${MOORIGNORE}`,
  };
}

/** Files of one workload that would land on the same path under its user. */
function dropCollisions(w: Workload): Problem[] {
  const byName = new Map<string, string[]>();
  for (const f of [w.spec, ...w.members, ...w.companions]) {
    byName.set(f.name, [...(byName.get(f.name) ?? []), f.path]);
  }
  const problems: Problem[] = [];
  for (const [name, paths] of byName) {
    if (paths.length < 2) continue;
    paths.sort(byText);
    for (const path of paths) {
      problems.push({
        path,
        code: 'duplicate-file',
        message: `${paths.join(', ')} would all be deployed as ${name} under user ${JSON.stringify(w.user)}`,
        hint: 'rename or remove all but one of them',
      });
    }
    w.companions = w.companions.filter((f) => f.name !== name);
  }
  return problems;
}
