// Human output by default, --json for machines (docs/design.md §10). Commands build one result
// object and hand it here with a function that renders it for people.

export interface OutputOptions {
  json?: boolean;
}

export function emit<T>(opts: OutputOptions, result: T, human: (r: T) => string): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const text = human(result);
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}

/** Left-aligned columns for tables printed to people. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}
