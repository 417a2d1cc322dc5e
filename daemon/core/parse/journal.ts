// Output of `journalctl -n N --no-pager` and of Quadlet's generator in -dryrun mode, reduced
// to the lines worth putting into an error message.

/** Log lines without journalctl's own "-- No entries --" / "-- Boot ... --" markers. */
export function parseJournalLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !/^-- .* --$/.test(l.trim()));
}

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
