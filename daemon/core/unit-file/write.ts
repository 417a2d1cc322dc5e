// Writes a UnitFile back as text that parseUnit reads to the same sections, keys and
// values. Anything the syntax cannot carry is refused rather than written with a
// different meaning.
import { isEntry, type UnitEntry, type UnitFile } from './model';

export class UnwritableUnitError extends Error {
  override readonly name = 'UnwritableUnitError';
  constructor(
    readonly section: string,
    readonly key: string,
    reason: string,
  ) {
    super(`[${section}] ${key}: ${reason}`);
  }
}

function checkEntry(section: string, entry: UnitEntry): void {
  const { key, value } = entry;
  if (key === '' || /[=\r\n]/.test(key) || /^[ \t#;[]/.test(key) || /[ \t]$/.test(key)) {
    throw new UnwritableUnitError(section, key, 'the key cannot be written as a unit file key');
  }
  if (/[\r\n]/.test(value)) throw new UnwritableUnitError(section, key, 'the value contains a line break');
  if (/^[ \t]|[ \t]$/.test(value)) {
    throw new UnwritableUnitError(section, key, 'the value has surrounding whitespace, which the parser strips');
  }
  const trailing = /\\+$/.exec(value)?.[0].length ?? 0;
  if (trailing % 2 === 1) {
    throw new UnwritableUnitError(section, key, 'the value ends in an unescaped backslash, which would continue the line');
  }
}

function checkSectionName(name: string): void {
  if (name === '' || /[\u0000-\u001f\u007f\\"'\]]/.test(name)) {
    throw new UnwritableUnitError(name, '', 'the section name cannot be written as a header');
  }
}

/** @throws UnwritableUnitError when an entry cannot be expressed in unit file syntax. */
export function writeUnit(unit: UnitFile): string {
  const blocks: string[] = [];
  if (unit.preamble.length > 0) blocks.push(unit.preamble.map((c) => c.comment).join('\n'));
  for (const section of unit.sections) {
    checkSectionName(section.name);
    const lines = [`[${section.name}]`];
    for (const item of section.items) {
      if (isEntry(item)) {
        checkEntry(section.name, item);
        lines.push(`${item.key}=${item.value}`);
      } else {
        lines.push(item.comment);
      }
    }
    blocks.push(lines.join('\n'));
  }
  return blocks.length === 0 ? '' : `${blocks.join('\n\n')}\n`;
}
