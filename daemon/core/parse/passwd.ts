// `getent passwd` and `getent group` lines (NSS, so LDAP/sssd users look the same as
// /etc/passwd ones). Pure: the host layer runs getent, these read what it printed.

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  /** The comment field; moor marks its users with "moor-managed" here. */
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  /** Supplementary members only: users whose primary group this is are not listed. */
  members: string[];
}

function parseId(text: string, what: string, line: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`bad ${what} "${text}" in getent line: ${line}`);
  return Number(text);
}

/** One line of `getent passwd`: name:password:uid:gid:gecos:home:shell. */
export function parsePasswdLine(line: string): PasswdEntry {
  const trimmed = line.replace(/\r?\n$/, '');
  const fields = trimmed.split(':');
  // GECOS may not contain ':', so exactly seven fields; anything else is not a passwd line.
  if (fields.length !== 7) throw new Error(`not a passwd line (${fields.length} fields): ${trimmed}`);
  const [name, , uid, gid, gecos, home, shell] = fields as [string, string, string, string, string, string, string];
  if (name === '') throw new Error(`passwd line without a name: ${trimmed}`);
  return {
    name,
    uid: parseId(uid, 'uid', trimmed),
    gid: parseId(gid, 'gid', trimmed),
    gecos,
    home,
    shell,
  };
}

/** Every non-empty line of `getent passwd` output. */
export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(parsePasswdLine);
}

/** The first comma-separated GECOS field (full name), where tools put a marker. */
export function gecosFullName(gecos: string): string {
  return gecos.split(',')[0] ?? '';
}

/** One line of `getent group`: name:password:gid:member,member. */
export function parseGroupLine(line: string): GroupEntry {
  const trimmed = line.replace(/\r?\n$/, '');
  const fields = trimmed.split(':');
  if (fields.length !== 4) throw new Error(`not a group line (${fields.length} fields): ${trimmed}`);
  const [name, , gid, members] = fields as [string, string, string, string];
  if (name === '') throw new Error(`group line without a name: ${trimmed}`);
  return {
    name,
    gid: parseId(gid, 'gid', trimmed),
    members: members === '' ? [] : members.split(',').map((m) => m.trim()).filter((m) => m !== ''),
  };
}

export function parseGroups(text: string): GroupEntry[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(parseGroupLine);
}
