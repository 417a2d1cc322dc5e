// Indexing a host's transforms for lookup by type and group.
import type { Problem } from '../problem';
import type { CompanionTemplate, Transform, TransformSet } from './model';
import { parseTransformFile } from './parse';
import { isTemplateName, parseTemplateFile } from './templates';

export function emptyTransformSet(): TransformSet {
  return { base: new Map(), groups: new Map(), templates: [] };
}

/** Two transforms for the same base or group and type cannot both apply: the second is a problem. */
export function buildTransformSet(
  transforms: readonly Transform[],
  templates: readonly CompanionTemplate[] = [],
): { set: TransformSet; problems: Problem[] } {
  const base = new Map<string, Transform>();
  const groups = new Map<string, Map<string, Transform>>();
  const problems: Problem[] = [];
  for (const t of transforms) {
    const byType = t.group === undefined ? base : (groups.get(t.group) ?? new Map<string, Transform>());
    const earlier = byType.get(t.type);
    if (earlier) {
      problems.push({
        path: t.path,
        code: 'duplicate-transform',
        message: `${t.name} is also defined by ${earlier.path}`,
        hint: 'keep one transform file per group and type',
      });
      continue;
    }
    byType.set(t.type, t);
    if (t.group !== undefined) groups.set(t.group, byType);
  }
  const sorted = [...templates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { set: { base, groups, templates: sorted }, problems };
}

/** Reads and indexes a set of transform files; any problem makes the set unusable as a whole. */
export function loadTransformSet(
  files: readonly { name: string; path: string; content: string }[],
): { set: TransformSet; problems: Problem[] } {
  const parsed: Transform[] = [];
  const templates: CompanionTemplate[] = [];
  const problems: Problem[] = [];
  for (const f of files) {
    if (isTemplateName(f.name)) {
      const r = parseTemplateFile(f.name, f.path, f.content);
      if (r.ok) templates.push(r.template);
      else problems.push(...r.problems);
      continue;
    }
    const r = parseTransformFile(f.name, f.path, f.content);
    if (r.ok) parsed.push(r.transform);
    else problems.push(...r.problems);
  }
  const built = buildTransformSet(parsed, templates);
  return { set: built.set, problems: [...problems, ...built.problems] };
}

/** Groups that have at least one transform: a group directory without one is an error unless marked. */
export function groupsWithTransforms(set: TransformSet): Set<string> {
  const out = new Set<string>();
  for (const [group, byType] of set.groups) if (byType.size > 0) out.add(group);
  return out;
}

/** The transforms that apply to a spec of `type` in `group`, in the order they apply: base, then group. */
export function transformsFor(set: TransformSet, type: string, group?: string): Transform[] {
  const out: Transform[] = [];
  const base = set.base.get(type);
  if (base) out.push(base);
  const own = group === undefined ? undefined : set.groups.get(group)?.get(type);
  if (own) out.push(own);
  return out;
}

/**
 * Group transforms whose group directory the repository does not have: a typo, a group
 * renamed, or a file meant as a companion template. A host may hold transforms for groups
 * it does not deploy yet, so this is `moor check`'s problem, never a pass's.
 */
export function unusedTransforms(set: TransformSet, groups: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  for (const [group, byType] of set.groups) {
    if (groups.includes(group)) continue;
    for (const t of byType.values()) {
      const near = closest(group, groups);
      const fixes = [
        ...(near ? [`rename it ${near}.${t.type} if it is meant for ${near}/`] : []),
        ...(group.startsWith('_base') ? [`name a companion template _base-<suffix>.${t.type}`] : []),
        'remove it if the group is gone',
      ];
      problems.push({
        path: t.path,
        code: 'unused-transform',
        message: `${t.name} applies to the group directory ${group}/, which the repository does not have${groups.length > 0 ? ` (its groups: ${groups.join(', ')})` : ' (it has no group directory)'}`,
        hint: fixes.join('; or '),
      });
    }
  }
  return problems;
}

/** The group name within two edits of `name`, if one is. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d <= 2 && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
