// `{{...}}` in a spec's values: the same placeholders as in transforms (docs/transforms.md),
// filled in for the user the spec is rendered for. Anything else in braces is refused,
// because a literal `{{...}}` would reach the running container unnoticed; quadsync's
// Go-template spellings (`{{.Name}}`) are refused with the name moor uses, as moor's
// values are not guaranteed to be quadsync's.
import type { Problem } from './problem';
import { PLACEHOLDERS, type Identity } from './transforms';
import { isEntry, type UnitFile } from './unit-file';

// Go templates' way to write literal braces, which a quadsync spec may already hold.
const OPEN = '{{"{{"}}';
const CLOSE = '{{"}}"}}';
const TOKEN = /\{\{"\{\{"\}\}|\{\{"\}\}"\}\}|\{\{([^{}]*)\}\}|\{\{/g;

/**
 * Fills in the placeholders of every value the spec itself wrote, in place, and returns a
 * problem for each `{{` that is not one. Values are left as written where there is a problem.
 */
export function expandSpecPlaceholders(unit: UnitFile, identity: Identity, path: string): Problem[] {
  const values = new Map<string, string>([
    ['name', identity.name],
    ['user', identity.user],
    ['uid', String(identity.uid)],
    ['home', identity.home],
  ]);
  const problems: Problem[] = [];
  for (const section of unit.sections) {
    for (const item of section.items) {
      if (!isEntry(item) || !item.value.includes('{{')) continue;
      let bad = false;
      const expanded = item.value.replace(TOKEN, (whole: string, inner: string | undefined) => {
        if (whole === OPEN) return '{{';
        if (whole === CLOSE) return '}}';
        const value = inner === undefined ? undefined : values.get(inner);
        if (value !== undefined) return value;
        bad = true;
        problems.push(placeholderProblem(path, item.line, section.name, item.key, whole, inner));
        return whole;
      });
      if (!bad) item.value = expanded;
    }
  }
  return problems;
}

function placeholderProblem(path: string, line: number, section: string, key: string, whole: string, inner: string | undefined): Problem {
  const known = PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ');
  const where = `${key}= in [${section}]`;
  const meant = inner?.trim().replace(/^\./, '').toLowerCase();
  if (inner !== undefined && meant !== undefined && (PLACEHOLDERS as readonly string[]).includes(meant)) {
    const quadsync = inner.trim().startsWith('.');
    return {
      path,
      line,
      code: 'unknown-placeholder',
      message: `${where} holds ${whole}, ${quadsync ? "quadsync's spelling" : 'not a placeholder as written'}; moor writes it {{${meant}}}`,
      hint:
        `write {{${meant}}} (moor's placeholders: ${known})` +
        // Podman's own templates (LogOpt=tag={{.Name}}) use the same spelling.
        (quadsync ? `; if the braces are meant for Podman, write ${OPEN}${inner}}}` : ''),
    };
  }
  return {
    path,
    line,
    code: 'unknown-placeholder',
    message:
      inner === undefined
        ? `${where} holds "{{" that opens no placeholder; it would be written as it is`
        : `${where} holds ${whole}, which is not a placeholder moor knows; it would be written as it is`,
    hint: `use one of ${known}, or write ${OPEN} for literal braces (${CLOSE} closes them)`,
  };
}
