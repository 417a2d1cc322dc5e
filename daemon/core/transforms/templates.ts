// Companion templates: `_base-<suffix>.<type>` in the transforms directory is a whole unit
// file from which every workload gets `<workload>-<suffix>.<type>`, its placeholders
// substituted for that workload (docs/transforms.md). quadsync repositories rely on them for
// a data volume per workload; read as a group transform, the file would silently apply to
// nothing.
import type { Problem } from '../problem';
import { cloneUnit, isEntry, parseUnit, type UnitFile } from '../unit-file';
import { isTransformType, TRANSFORM_TYPES, type CompanionTemplate, type Identity } from './model';
import { PLACEHOLDER_LIST, substitutePlaceholders, unknownPlaceholders } from './placeholders';

export const TEMPLATE_PREFIX = '_base-';

// The suffix becomes part of a file name under each workload's user: the characters of a
// repository name, no "..", no leading dot.
const SUFFIX = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/;

export type TemplateParseResult = { ok: true; template: CompanionTemplate } | { ok: false; problems: Problem[] };

/** Whether a transforms-directory file name is a companion template's (not a transform's). */
export function isTemplateName(name: string): boolean {
  return name.startsWith(TEMPLATE_PREFIX);
}

export function parseTemplateFile(name: string, path: string, content: string): TemplateParseResult {
  const problems: Problem[] = [];
  const problem = (code: string, message: string, hint: string, line?: number): void => {
    problems.push(line === undefined ? { path, code, message, hint } : { path, line, code, message, hint });
  };
  const rest = name.slice(TEMPLATE_PREFIX.length);
  const dot = rest.lastIndexOf('.');
  const suffix = dot > 0 ? rest.slice(0, dot) : '';
  const type = dot > 0 ? rest.slice(dot + 1) : '';
  if (!SUFFIX.test(suffix) || suffix.includes('..')) {
    problem(
      'template-name',
      `'${name}' is not a companion template name`,
      'name it _base-<suffix>.<type>, e.g. _base-data.volume; the suffix uses letters, digits and _ . @ + - only',
    );
    return { ok: false, problems };
  }
  if (!isTransformType(type)) {
    problem('template-type', `'${name}' makes files of unknown type '${type}'`, `use one of: ${TRANSFORM_TYPES.join(', ')}`);
    return { ok: false, problems };
  }

  const { unit, issues } = parseUnit(content, path);
  for (const issue of issues) problem(issue.code, issue.message, 'fix or remove the line: a template must be read exactly', issue.line);
  for (const section of unit.sections) {
    for (const entry of section.items.filter(isEntry)) {
      if (/^[+!-]/.test(entry.key) || entry.key.includes('{{')) {
        problem(
          'template-key',
          `'${entry.key}' is not a key: a companion template is a whole unit file, not merge rules`,
          `write '${entry.key.replace(/^[+!-]/, '')}=' as the file should read; merge rules (+Key=, !Key=, -Key=) belong in _base.${type} or <group>.${type}`,
          entry.line,
        );
      }
      for (const placeholder of unknownPlaceholders(entry.value)) {
        problem(
          'unknown-placeholder',
          `unknown placeholder ${placeholder} in ${path}:${entry.line}`,
          `use ${PLACEHOLDER_LIST}, written exactly so, with no spaces inside the braces`,
          entry.line,
        );
      }
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, template: { name, path, suffix, type, content } };
}

/** The file a template makes for a workload. */
export function templateFileName(t: CompanionTemplate, workload: string): string {
  return `${workload}-${t.suffix}.${t.type}`;
}

/** The template's unit for one workload: every value with its placeholders substituted. */
export function substituteUnit(unit: UnitFile, identity: Identity): UnitFile {
  const out = cloneUnit(unit);
  for (const section of out.sections) {
    for (const item of section.items) if (isEntry(item)) item.value = substitutePlaceholders(item.value, identity);
  }
  return out;
}
