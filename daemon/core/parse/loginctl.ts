// `loginctl show-user NAME -p Linger -p State`: KEY=VALUE lines.

export interface LoginUser {
  linger: boolean;
  /** offline, lingering, online, active or closing. */
  state: string;
}

export function parseLoginctlShowUser(text: string): LoginUser {
  const props = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not a loginctl show-user line: ${line}`);
    props.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const linger = props.get('Linger');
  if (linger !== undefined && linger !== 'yes' && linger !== 'no') {
    throw new Error(`unexpected Linger=${linger} in loginctl output`);
  }
  return { linger: linger === 'yes', state: props.get('State') ?? 'offline' };
}
