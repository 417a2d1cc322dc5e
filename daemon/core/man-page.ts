// moor(1) from the program definition (core/command-tree.ts) and moor.toml(5) from the key
// table of docs/configuration.md: the man pages say what `--help` and the configuration
// reference say, in roff (man(7) macros).

import type { CommandSpec } from './command-tree';

/** Text made safe for roff: backslashes, leading dots and quotes, markdown marks dropped. */
export function roffText(text: string): string {
  const plain = text
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-');
  return plain
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function header(name: string, section: number, date: string, version: string, title: string): string[] {
  return [`.TH ${name.toUpperCase()} ${section} "${date}" "moor ${version}" "moor manual"`, '.SH NAME', `${name} \\- ${roffText(title)}`];
}

export function moorManPage(program: CommandSpec, exitCodes: Record<number, string>, version: string, date: string): string {
  const lines = [
    ...header('moor', 1, date, version, 'keep a host in step with a git repository of Podman Quadlet specs'),
    '.SH SYNOPSIS',
    `.B moor\n[\\-\\-config \\fIFILE\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]`,
    '.SH DESCRIPTION',
    roffText(program.description),
    '.SH GLOBAL OPTIONS',
    ...program.options.flatMap((o) => ['.TP', `.B ${roffText(o.flags)}`, roffText(o.description)]),
    '.SH COMMANDS',
  ];
  // A command with commands of its own (moor fleet status) is listed as each of them.
  for (const c of program.commands.flatMap((c) => (c.commands.length === 0 ? [c] : c.commands.map((s) => ({ ...s, name: `${c.name} ${s.name}` }))))) {
    lines.push('.SS', `.B moor ${roffText(c.name)}${c.usage ? ` ${roffText(c.usage)}` : ''}`, '.PP', roffText(c.description));
    for (const o of c.options) lines.push('.TP', `.B ${roffText(o.flags)}`, roffText(o.description));
  }
  lines.push('.SH EXIT STATUS', ...Object.entries(exitCodes).flatMap(([code, meaning]) => ['.TP', `.B ${code}`, roffText(meaning)]));
  lines.push('.SH FILES', '.TP', '.I /etc/moor/config.toml', 'the configuration, with drop-ins in /etc/moor/config.d/ (see', '.BR moor.toml (5))');
  lines.push('.SH SEE ALSO', '.BR moor.toml (5),', '.BR systemd.timer (5),', '.BR podman-systemd.unit (5)');
  return `${lines.join('\n')}\n`;
}

export interface ConfigKeyRow {
  key: string;
  default: string;
  meaning: string;
}

/** The rows of the `| key | default | meaning |` table of docs/configuration.md. */
export function configKeyRows(markdown: string): ConfigKeyRow[] {
  const rows: ConfigKeyRow[] = [];
  let inTable = false;
  for (const line of markdown.split('\n')) {
    if (/^\|\s*key\s*\|\s*default\s*\|\s*meaning\s*\|/.test(line)) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    if (/^\|\s*-+/.test(line)) continue;
    // A cell may hold "\|" (an escaped pipe): split on the others only.
    const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
    if (cells.length < 3) continue;
    rows.push({ key: cells[0]!.replace(/`/g, ''), default: cells[1]!, meaning: cells.slice(2).join(' | ') });
  }
  return rows;
}

export function configManPage(markdown: string, version: string, date: string): string {
  const rows = configKeyRows(markdown);
  const lines = [
    ...header('moor.toml', 5, date, version, 'configuration of moor'),
    '.SH SYNOPSIS',
    '/etc/moor/config.toml, /etc/moor/config.d/*.toml',
    '.SH DESCRIPTION',
    'A TOML file; drop-ins in config.d/ are read in name order and override it key by key.',
    'Every key is optional. An unknown key is an error. A dotted key below is a key of a table:',
    '.B timeouts.fetch',
    'is',
    '.B fetch',
    'in',
    '.BR [timeouts] .',
    '.SH KEYS',
  ];
  for (const r of rows) lines.push('.TP', `.B ${roffText(r.key)}`, `(default: ${roffText(r.default)})`, '.br', roffText(r.meaning));
  lines.push('.SH SEE ALSO', '.BR moor (1)');
  return `${lines.join('\n')}\n`;
}
