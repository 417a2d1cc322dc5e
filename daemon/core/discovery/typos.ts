// A name that is one slip away from a unit file (`web.contianer`, `web.Container`) would
// otherwise be deployed as a data file, or refused as an orphan with no word of why, so
// it is refused with the name it was probably meant to have.
import { QUADLET_TYPES, PLAIN_UNIT_TYPES, isUnitType } from '../validate';

const UNIT_TYPES: readonly string[] = [...QUADLET_TYPES, ...PLAIN_UNIT_TYPES];

// Data-file extensions within reach of a unit type that are common in their own right.
const KNOWN_DATA = new Set(['patch', 'pot', 'sock']);

/** The unit type an extension is probably a misspelling of, if it is close to exactly one. */
export function misspelledType(ext: string): string | undefined {
  if (ext === '' || isUnitType(ext) || KNOWN_DATA.has(ext.toLowerCase())) return undefined;
  const lower = ext.toLowerCase();
  let best: { type: string; d: number } | undefined;
  for (const type of UNIT_TYPES) {
    // One slip in a short type, two in a long one: `.pem` is not a `.pod`.
    const allowed = type.length <= 5 ? 1 : 2;
    const d = editDistance(lower, type);
    if (d > allowed) continue;
    if (best === undefined || d < best.d) best = { type, d };
  }
  return best?.type;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
