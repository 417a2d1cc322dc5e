// Human output by default, --json for machines (docs/design.md §10). Commands build one result
// object and hand it here with a function that renders it for people. Both are made safe
// for a terminal here, the one way out to stdout: text for people shows control and
// invisible characters escaped (core/safe-text.ts); JSON keeps every value exact.
import { safeJson, safeLines, safeText } from '../core/safe-text';
import { JSON_SCHEMA } from '../core/json-schema';

export interface OutputOptions {
  json?: boolean;
}

/** The JSON a command prints: the result, its schema version first. A list goes under a key of its own. */
export function jsonOutput(result: object): string {
  return safeJson(JSON.stringify({ schema: JSON_SCHEMA, ...result }, null, 2));
}

export function emit<T extends object>(opts: OutputOptions, result: T, human: (r: T) => string): void {
  if (opts.json) {
    process.stdout.write(`${jsonOutput(result)}\n`);
  } else {
    // The functions that build the text escape one-line fields themselves (a newline in
    // one must not start a line of its own); this catches the rest, keeping the lines.
    const text = safeLines(human(result));
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}

/** Left-aligned columns for tables printed to people; each cell is one line. */
export function table(rows: string[][]): string {
  const safe = rows.map((row) => row.map((cell) => safeText(cell)));
  const widths: number[] = [];
  for (const row of safe) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return safe
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}
