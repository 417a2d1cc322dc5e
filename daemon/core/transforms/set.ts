// Indexing a host's transforms for lookup by type and group.
import type { Problem } from '../problem';
import type { Transform, TransformSet } from './model';
import { parseTransformFile } from './parse';

export function emptyTransformSet(): TransformSet {
  return { base: new Map(), groups: new Map() };
}

/** Two transforms for the same base or group and type cannot both apply: the second is a problem. */
export function buildTransformSet(transforms: readonly Transform[]): { set: TransformSet; problems: Problem[] } {
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
  return { set: { base, groups }, problems };
}

/** Reads and indexes a set of transform files; any problem makes the set unusable as a whole. */
export function loadTransformSet(
  files: readonly { name: string; path: string; content: string }[],
): { set: TransformSet; problems: Problem[] } {
  const parsed: Transform[] = [];
  const problems: Problem[] = [];
  for (const f of files) {
    const r = parseTransformFile(f.name, f.path, f.content);
    if (r.ok) parsed.push(r.transform);
    else problems.push(...r.problems);
  }
  const built = buildTransformSet(parsed);
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
