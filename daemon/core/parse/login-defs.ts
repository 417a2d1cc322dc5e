// /etc/login.defs: only UID_MIN matters to moor (docs/design.md §5: a user below it is never
// removed). The file is "NAME VALUE" lines with '#' comments.

export const DEFAULT_UID_MIN = 1000;

/** Reads UID_MIN; absent or unparsable means the shadow-utils default, 1000. */
export function parseUidMin(text: string): number {
  let uidMin = DEFAULT_UID_MIN;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^UID_MIN\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = parseLoginDefsNumber(match[1] ?? '');
    // useradd reads the last assignment, so a later one wins.
    if (value !== undefined) uidMin = value;
  }
  return uidMin;
}

// shadow-utils reads numbers with strtol base 0: decimal, 0x hex, leading-0 octal.
function parseLoginDefsNumber(text: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^0[0-7]+$/.test(text)) return parseInt(text.slice(1), 8);
  if (/^\d+$/.test(text)) return Number(text);
  return undefined;
}
