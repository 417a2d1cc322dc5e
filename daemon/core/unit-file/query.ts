// Reading and editing a UnitFile with systemd's semantics: a section name may repeat
// (systemd merges the repeats in file order), a key may repeat (lists), and an empty
// assignment resets what came before it.
import { isEntry, type UnitComment, type UnitEntry, type UnitFile, type UnitSection } from './model';

export function sectionsNamed(unit: UnitFile, name: string): UnitSection[] {
  return unit.sections.filter((s) => s.name === name);
}

export function hasSection(unit: UnitFile, name: string): boolean {
  return unit.sections.some((s) => s.name === name);
}

/** Every assignment of `key` in every `[section]`, in file order, empty ones included. */
export function entriesOf(unit: UnitFile, section: string, key: string): UnitEntry[] {
  const out: UnitEntry[] = [];
  for (const s of sectionsNamed(unit, section)) {
    for (const item of s.items) if (isEntry(item) && item.key === key) out.push(item);
  }
  return out;
}

/** Raw values as written, across repeated sections, empty assignments included. */
export function valuesOf(unit: UnitFile, section: string, key: string): string[] {
  return entriesOf(unit, section, key).map((e) => e.value);
}

/** The file assigns `key` in `[section]` at all (an empty assignment counts). */
export function setsKey(unit: UnitFile, section: string, key: string): boolean {
  return entriesOf(unit, section, key).length > 0;
}

/**
 * The value a single-value setting ends up with: the last assignment wins. undefined when
 * never assigned; "" when the last assignment is empty (a reset to the default).
 */
export function effectiveValue(unit: UnitFile, section: string, key: string): string | undefined {
  const entries = entriesOf(unit, section, key);
  return entries.length === 0 ? undefined : entries[entries.length - 1]!.value;
}

/** The values a list setting ends up with: an empty assignment drops everything before it. */
export function effectiveValues(unit: UnitFile, section: string, key: string): string[] {
  const out: string[] = [];
  for (const value of valuesOf(unit, section, key)) {
    if (value === '') out.length = 0;
    else out.push(value);
  }
  return out;
}

/** The entries of one section in order, without comments. */
export function entriesIn(section: UnitSection): UnitEntry[] {
  return section.items.filter(isEntry);
}

/** A deep copy: editing it never touches the original. */
export function cloneUnit(unit: UnitFile): UnitFile {
  return {
    preamble: unit.preamble.map((c) => ({ ...c })),
    sections: unit.sections.map((s) => ({ ...s, items: s.items.map((i) => ({ ...i })) })),
  };
}

/** Appends an entry to the last `[section]`, creating the section at the end when absent. */
export function appendEntry(unit: UnitFile, section: string, entry: UnitEntry, newSectionLine = entry.line): void {
  const target = sectionsNamed(unit, section).at(-1) ?? addSection(unit, section, newSectionLine, entry.source);
  target.items.push(entry);
}

export function addSection(unit: UnitFile, name: string, line: number, source?: string): UnitSection {
  const section: UnitSection = source === undefined ? { name, line, items: [] } : { name, line, source, items: [] };
  unit.sections.push(section);
  return section;
}

/** Removes every assignment of `key` from every `[section]`; returns how many went. */
export function removeKey(unit: UnitFile, section: string, key: string): number {
  let removed = 0;
  for (const s of sectionsNamed(unit, section)) {
    const kept = s.items.filter((i) => !(isEntry(i) && i.key === key));
    removed += s.items.length - kept.length;
    s.items = kept;
  }
  return removed;
}

/**
 * A comparable projection: sections, keys, values and comments in order, without line
 * numbers or sources. Two units with equal projections mean the same to systemd.
 */
export function unitShape(unit: UnitFile): unknown {
  const item = (i: UnitEntry | UnitComment) => (isEntry(i) ? [i.key, i.value] : i.comment);
  return {
    preamble: unit.preamble.map((c) => c.comment),
    sections: unit.sections.map((s) => ({ name: s.name, items: s.items.map(item) })),
  };
}
