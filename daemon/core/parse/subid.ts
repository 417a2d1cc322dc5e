// /etc/subuid and /etc/subgid: "owner:start:count" lines, the owner a name or a uid
// (subuid(5)). Pure: the host layer reads the files, this reads what they hold.

export interface SubidEntry {
  owner: string;
  start: number;
  count: number;
}

/** Every well-formed line; a malformed one is skipped, as newuidmap skips it. */
export function parseSubidFile(text: string): SubidEntry[] {
  const out: SubidEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([^:]+):(\d+):(\d+)$/.exec(line);
    if (!match) continue;
    out.push({ owner: match[1]!, start: Number(match[2]), count: Number(match[3]) });
  }
  return out;
}
