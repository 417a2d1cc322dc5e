// /etc/login.defs: only UID_MIN matters to moor (docs/design.md §5: a user below it is never
// removed). The file is "NAME VALUE" lines with '#' comments.

export const DEFAULT_UID_MIN = 1000;

/** shadow-utils' default lowest subordinate id (SUB_UID_MIN, SUB_GID_MIN). */
export const DEFAULT_SUB_ID_MIN = 100000;

/** Reads UID_MIN; absent or unparsable means the shadow-utils default, 1000. */
export function parseUidMin(text: string): number {
  return parseLoginDefsNumberKey(text, 'UID_MIN', DEFAULT_UID_MIN);
}

/** A numeric key of login.defs; absent or unparsable means `fallback`. */
export function parseLoginDefsNumberKey(text: string, key: string, fallback: number): number {
  let value = fallback;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+)\s+(\S+)/.exec(line);
    if (match?.[1] !== key) continue;
    const parsed = parseLoginDefsNumber(match[2] ?? '');
    // useradd reads the last assignment, so a later one wins.
    if (parsed !== undefined) value = parsed;
  }
  return value;
}

// shadow-utils reads numbers with strtol base 0: decimal, 0x hex, leading-0 octal.
function parseLoginDefsNumber(text: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^0[0-7]+$/.test(text)) return parseInt(text.slice(1), 8);
  if (/^\d+$/.test(text)) return Number(text);
  return undefined;
}
