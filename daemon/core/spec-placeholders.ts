// `{{...}}` in a spec's values: the same placeholders as in transforms (docs/transforms.md),
// filled in for the user the spec is rendered for. Anything else in braces is refused,
// because a literal `{{...}}` would reach the running container unnoticed; quadsync's
// Go-template spellings (`{{.Name}}`) are refused with the name moor uses, as moor's
// values are not guaranteed to be quadsync's.
import type { Problem } from './problem';
import { labelKeyOf, PLACEHOLDER_LIST, PLACEHOLDERS, placeholderValue, type Identity } from './transforms';
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
  const problems: Problem[] = [];
  for (const section of unit.sections) {
    for (const item of section.items) {
      if (!isEntry(item) || !item.value.includes('{{')) continue;
      let bad = false;
      const expanded = item.value.replace(TOKEN, (whole: string, inner: string | undefined) => {
        if (whole === OPEN) return '{{';
        if (whole === CLOSE) return '}}';
        const value = inner === undefined ? undefined : placeholderValue(inner, identity);
        if (value !== undefined) return value;
        bad = true;
        const label = inner === undefined ? undefined : labelKeyOf(inner);
        problems.push(
          label !== undefined
            ? missingLabelProblem(path, item.line, `${item.key}= in [${section.name}]`, label, identity.host)
            : placeholderProblem(path, item.line, section.name, item.key, whole, inner),
        );
        return whole;
      });
      if (!bad) item.value = expanded;
    }
  }
  return problems;
}

/**
 * `{{label.KEY}}` for a host without that label: the workload's problem on that host alone,
 * since another host of the fleet may have it.
 */
export function missingLabelProblem(path: string, line: number, where: string, key: string, host: string): Problem {
  return {
    path,
    line,
    code: 'missing-label',
    message: `${where} uses {{label.${key}}}, but host ${host} has no label "${key}"`,
    hint: `give host ${host} the label: labels = { ${key} = "..." } under [hosts.${host}] in fleet.toml, or [host] labels in its configuration`,
  };
}

function placeholderProblem(path: string, line: number, section: string, key: string, whole: string, inner: string | undefined): Problem {
  const known = PLACEHOLDER_LIST;
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
