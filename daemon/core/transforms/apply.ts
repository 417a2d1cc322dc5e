// Merging transforms into a spec (docs/design.md §3). Each transform is judged against the unit
// as it stood before that transform, so two defaults for one key both land, and a
// group transform sees what the base transform made.
import {
  addSection,
  cloneUnit,
  hasSection,
  isEntry,
  removeKey,
  sectionsNamed,
  type UnitEntry,
  type UnitFile,
  type UnitSection,
} from '../unit-file';
import type { Identity, Transform, TransformRule, TransformSet } from './model';
import { substitutePlaceholders } from './placeholders';
import { transformsFor } from './set';

export interface ApplyOptions {
  /** The spec's type: its extension without the dot. */
  type: string;
  /** The group directory the spec lives in, if any. */
  group?: string;
  transforms: TransformSet;
  identity: Identity;
}

/** Base transform first, then the group's. The spec is never modified. */
export function applyTransforms(spec: UnitFile, opts: ApplyOptions): UnitFile {
  let unit = cloneUnit(spec);
  for (const t of transformsFor(opts.transforms, opts.type, opts.group)) unit = applyTransform(unit, t, opts.identity);
  return unit;
}

export function applyTransform(input: UnitFile, t: Transform, identity: Identity): UnitFile {
  const unit = cloneUnit(input);
  // A section may repeat in the transform as in any unit file: its rules merge in order.
  const bySection = new Map<string, { line: number; rules: TransformRule[] }>();
  for (const s of t.sections) {
    const acc = bySection.get(s.name) ?? { line: s.line, rules: [] };
    acc.rules.push(...s.rules);
    bySection.set(s.name, acc);
  }
  for (const [name, { line, rules }] of bySection) {
    if (rules.length === 0) {
      if (!hasSection(unit, name)) addSection(unit, name, line, t.path);
      continue;
    }
    // Keys are independent: merging one never changes another, so handling them in turn
    // still judges each against the unit before this transform.
    for (const key of new Set(rules.map((r) => r.key))) {
      mergeKey(
        unit,
        { name, line },
        key,
        rules.filter((r) => r.key === key),
        t.path,
        identity,
      );
    }
  }
  return unit;
}

function firstAssignment(sections: UnitSection[], key: string): { section: UnitSection; index: number } | undefined {
  for (const section of sections) {
    const index = section.items.findIndex((i) => isEntry(i) && i.key === key);
    if (index >= 0) return { section, index };
  }
  return undefined;
}

function mergeKey(
  unit: UnitFile,
  section: { name: string; line: number },
  key: string,
  rules: TransformRule[],
  source: string,
  identity: Identity,
): void {
  const anchor = firstAssignment(sectionsNamed(unit, section.name), key);
  const specSets = anchor !== undefined;
  const of = (op: TransformRule['op']) => rules.filter((r) => r.op === op);
  const forced = of('force');
  // A forced value already decides the key; a default beside it would only add noise.
  const defaults = specSets || forced.length > 0 ? [] : of('default');
  if (forced.length > 0 || of('remove').length > 0) removeKey(unit, section.name, key);

  const added: UnitEntry[] = [...of('prepend'), ...forced, ...defaults].map((r) => ({
    key,
    value: substitutePlaceholders(r.value, identity),
    line: r.line,
    source,
  }));
  if (added.length === 0) return;
  if (anchor) {
    // The anchor is the first assignment of its section, so removals never shift its index:
    // new values land where the spec's first value was.
    anchor.section.items.splice(anchor.index, 0, ...added);
  } else {
    const target = sectionsNamed(unit, section.name).at(-1) ?? addSection(unit, section.name, section.line, source);
    target.items.push(...added);
  }
}
