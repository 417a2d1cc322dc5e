// Reads one transform file. Transforms use unit file syntax with a one-character prefix
// on the key saying how the line merges; everything wrong is reported with its line, as
// a broken transform makes the whole tree unreliable (docs/design.md §6 step 2).
import type { Problem } from '../problem';
import { isEntry, parseUnit } from '../unit-file';
import { isTransformType, TRANSFORM_TYPES, type Transform, type TransformOp, type TransformSection } from './model';
import { PLACEHOLDER_LIST, unknownPlaceholders } from './placeholders';

export type TransformParseResult = { ok: true; transform: Transform } | { ok: false; problems: Problem[] };

const PREFIX_OPS: Record<string, TransformOp> = { '+': 'prepend', '!': 'force', '-': 'remove' };

// A group is a directory name (discovery refuses leading dots and control characters);
// `_base` is reserved for the host-wide transform.
const GROUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/;
const KEY_NAME = /^[^\s=+!\-#;[]\S*$/;

function splitName(name: string): { stem: string; ext: string } | undefined {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return undefined;
  return { stem: name.slice(0, dot), ext: name.slice(dot + 1) };
}

export function parseTransformFile(name: string, path: string, content: string): TransformParseResult {
  const problems: Problem[] = [];
  const problem = (code: string, message: string, hint: string, line?: number): void => {
    problems.push(line === undefined ? { path, code, message, hint } : { path, line, code, message, hint });
  };

  const parts = splitName(name);
  if (!parts || !(parts.stem === '_base' || GROUP_NAME.test(parts.stem))) {
    problem(
      'transform-name',
      `'${name}' is not a transform name`,
      `name it _base.<type> for every spec of a type, <group>.<type> for the group directory <group>/, or _base-<suffix>.<type> for a companion template`,
    );
    return { ok: false, problems };
  }
  if (!isTransformType(parts.ext)) {
    problem(
      'transform-type',
      `'${name}' targets unknown type '${parts.ext}'`,
      `use one of: ${TRANSFORM_TYPES.join(', ')}`,
    );
    return { ok: false, problems };
  }

  const { unit, issues } = parseUnit(content, path);
  for (const issue of issues) {
    problem(issue.code, issue.message, 'fix or remove the line: a transform must be read exactly', issue.line);
  }

  const sections: TransformSection[] = [];
  for (const section of unit.sections) {
    const out: TransformSection = { name: section.name, line: section.line, rules: [] };
    for (const entry of section.items.filter(isEntry)) {
      const op = PREFIX_OPS[entry.key[0]!] ?? 'default';
      const key = op === 'default' ? entry.key : entry.key.slice(1);
      if (!KEY_NAME.test(key)) {
        problem(
          'transform-key',
          `'${entry.key}' is not a key with an optional +, ! or - prefix`,
          'write Key=, +Key=, !Key= or -Key= with no space after the prefix',
          entry.line,
        );
        continue;
      }
      if (op === 'remove' && entry.value !== '') {
        problem(
          'transform-remove-value',
          `'-${key}=' removes ${key} and takes no value, but has '${entry.value}'`,
          `write '-${key}=' to remove it, or '!${key}=${entry.value}' to force that value`,
          entry.line,
        );
        continue;
      }
      const unknown = unknownPlaceholders(entry.value);
      for (const placeholder of unknown) {
        problem(
          'unknown-placeholder',
          `unknown placeholder ${placeholder} in ${path}:${entry.line}`,
          `use ${PLACEHOLDER_LIST}, written exactly so, with no spaces inside the braces`,
          entry.line,
        );
      }
      if (unknown.length > 0) continue;
      out.rules.push({ op, key, value: entry.value, line: entry.line });
    }
    sections.push(out);
  }

  if (problems.length > 0) return { ok: false, problems };
  const transform: Transform = { name, path, type: parts.ext, sections };
  if (parts.stem !== '_base') transform.group = parts.stem;
  return { ok: true, transform };
}
