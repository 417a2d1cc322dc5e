// smol-toml reports positions for syntax errors only. To name the line of a key that
// fails validation, find where the key is assigned: its table header (or a dotted key)
// and then the `key =` line inside that table.

/** 1-based line of the assignment of `path` (e.g. ["timeouts", "health"]), if found. */
export function findKeyLine(text: string, path: readonly (string | number)[]): number | undefined {
  const keys = path.filter((p): p is string => typeof p === 'string');
  if (keys.length === 0) return undefined;
  const lines = text.split(/\r?\n/);
  let table: string[] = [];
  let tableLine: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      table = header[1]!.split('.').map((s) => unquote(s.trim()));
      if (sameStart(keys, table) && keys.length === table.length) tableLine = i + 1;
      continue;
    }
    const assign = /^("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=/.exec(line);
    if (!assign) continue;
    const full = [...table, ...assign[1]!.split('.').map((s) => unquote(s.trim()))];
    if (sameStart(keys, full)) return i + 1;
  }
  return tableLine;
}

function sameStart(want: readonly string[], have: readonly string[]): boolean {
  const n = Math.min(want.length, have.length);
  for (let i = 0; i < n; i++) if (want[i] !== have[i]) return false;
  return have.length >= want.length;
}

function unquote(s: string): string {
  return /^(["']).*\1$/.test(s) ? s.slice(1, -1) : s;
}
