// Reads a native journal entry back as journald does (systemd.journal-fields(7), "Native
// Journal Protocol"): `NAME=value\n`, or `NAME\n` + 64-bit little-endian length + value +
// `\n`. Every field, in order, duplicates kept: a test sees a forged field if one exists.
export function decodeJournalEntry(entry: Buffer): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  let at = 0;
  while (at < entry.length) {
    const newline = entry.indexOf(0x0a, at);
    if (newline < 0) throw new Error(`entry ends without a newline at byte ${at}`);
    const line = entry.subarray(at, newline).toString('utf8');
    const eq = line.indexOf('=');
    if (eq >= 0) {
      fields.push([line.slice(0, eq), line.slice(eq + 1)]);
      at = newline + 1;
      continue;
    }
    const length = Number(entry.readBigUInt64LE(newline + 1));
    const start = newline + 9;
    fields.push([line, entry.subarray(start, start + length).toString('utf8')]);
    if (entry[start + length] !== 0x0a) throw new Error(`binary field ${line} is not followed by a newline`);
    at = start + length + 1;
  }
  return fields;
}
