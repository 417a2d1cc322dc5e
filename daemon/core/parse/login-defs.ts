// /etc/login.defs: the UID and subordinate-id bounds moor reads (docs/design.md §5: a user
// below UID_MIN is never removed; moor hands out uids and subid ranges inside these
// bounds). The file is "NAME VALUE" lines with '#' comments.

export const DEFAULT_UID_MIN = 1000;

/** The shadow-utils defaults of every key moor reads, used when the file omits one. */
export const LOGIN_DEFS_DEFAULTS = {
  UID_MIN: DEFAULT_UID_MIN,
  UID_MAX: 60000,
  SUB_UID_MIN: 100000,
  SUB_UID_MAX: 600100000,
  SUB_GID_MIN: 100000,
  SUB_GID_MAX: 600100000,
} as const;

export type LoginDefs = { -readonly [K in keyof typeof LOGIN_DEFS_DEFAULTS]: number };

/** Reads UID_MIN; absent or unparsable means the shadow-utils default, 1000. */
export function parseUidMin(text: string): number {
  return parseLoginDefs(text).UID_MIN;
}

/** Reads every key of LOGIN_DEFS_DEFAULTS; an absent or unparsable one keeps its default. */
export function parseLoginDefs(text: string): LoginDefs {
  const out: LoginDefs = { ...LOGIN_DEFS_DEFAULTS };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z_]+)\s+(\S+)/.exec(line);
    if (!match || !(match[1]! in out)) continue;
    const value = parseLoginDefsNumber(match[2] ?? '');
    // useradd reads the last assignment, so a later one wins.
    if (value !== undefined) out[match[1] as keyof LoginDefs] = value;
  }
  return out;
}

// shadow-utils reads numbers with strtol base 0: decimal, 0x hex, leading-0 octal.
function parseLoginDefsNumber(text: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^0[0-7]+$/.test(text)) return parseInt(text.slice(1), 8);
  if (/^\d+$/.test(text)) return Number(text);
  return undefined;
}
