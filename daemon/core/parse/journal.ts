// Output of `journalctl -o json` (entries and their fields) and of Quadlet's generator in
// -dryrun mode (the lines worth putting into an error message).

/**
 * The generator's complaints, without its "quadlet-generator[PID]: " prefix and without
 * progress lines. When a file name is given, only lines naming it are kept, unless none
 * do: then everything is returned, since an unrelated-looking message beats none.
 */
export function parseGeneratorMessages(stderr: string, file?: string): string[] {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/\r$/, '').replace(/^quadlet-generator\[\d+\]:\s*/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('Loading source unit file'));
  if (file === undefined) return lines;
  const about = lines.filter((l) => l.includes(file));
  return about.length > 0 ? about : lines;
}

/**
 * One journal entry of `journalctl -o json`: field → value. journalctl writes a value as a
 * string, as an array of byte values when it is not valid UTF-8 or holds control characters,
 * as null when it is over 4096 bytes (without --all), and as an array of those when the
 * field occurs more than once in the entry.
 */
export type JournalValue = string | number[] | null | (string | number[] | null)[];
export type JournalEntry = Record<string, JournalValue>;

/**
 * Entries from `journalctl -o json` (one JSON object a line). A line that is not a JSON
 * object (a cut-off last line, a "-- No entries --" marker) is skipped: this output only
 * explains, it decides nothing.
 */
export function parseJournalJson(text: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseJournalJsonLine(line);
    if (entry) out.push(entry);
  }
  return out;
}

/** One line of `journalctl -o json`, or undefined when it is not a JSON object. */
export function parseJournalJsonLine(line: string): JournalEntry | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(trimmed) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JournalEntry) : undefined;
  } catch {
    return undefined;
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * A field as text: bytes decoded as UTF-8 (invalid sequences become U+FFFD), the first
 * value of a repeated field; undefined when absent or left out for its size.
 */
export function journalField(entry: JournalEntry, name: string): string | undefined {
  let value = entry[name];
  if (Array.isArray(value) && value.length > 0 && typeof value[0] !== 'number') value = value[0] as string | number[] | null;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((b) => typeof b === 'number')) return decoder.decode(Uint8Array.from(value as number[]));
  return undefined;
}
