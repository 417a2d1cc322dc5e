// systemd's unit file syntax, read the way systemd's own conf-parser reads it, so that
// what moor validates and merges is what the user manager will see. Lines systemd would
// skip with a warning are reported as issues instead of being silently dropped.
import type { ParseResult, UnitComment, UnitSection, UnitSyntaxIssue } from './model';

const BOM = '\uFEFF';

/** systemd's WHITESPACE: JavaScript's trim() would also eat NBSP and friends, systemd keeps them. */
export function stripWhitespace(s: string): string {
  return s.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
}

function isCommentLine(raw: string): boolean {
  const first = raw.replace(/^[ \t\n\r]+/, '')[0];
  return first === '#' || first === ';';
}

/** A trailing run of backslashes of odd length ends in an unescaped backslash: a continuation. */
function endsInContinuation(s: string): boolean {
  let run = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) run++;
  return run % 2 === 1;
}

// systemd's string_is_safe(): no control characters, quotes or backslashes in a section name.
const UNSAFE_SECTION = /[\u0000-\u001f\u007f\\"']/;

export function parseUnit(text: string, source?: string): ParseResult {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  // systemd's read_line() ends a line at \n, \r\n or a lone \r.
  const lines = body.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const preamble: UnitComment[] = [];
  const sections: UnitSection[] = [];
  const issues: UnitSyntaxIssue[] = [];
  let current: UnitSection | undefined;
  // After a broken header systemd stops reading the file; we keep reading to report
  // more, but assignments under the broken header belong to no section and are dropped.
  let inBrokenSection = false;

  let continuation: string | undefined;
  let continuationLine = 0;

  const handleLogical = (logical: string, lineNo: number): void => {
    const l = stripWhitespace(logical);
    if (l === '') return;
    if (l.startsWith('[')) {
      const name = l.endsWith(']') && l.length >= 2 ? l.slice(1, -1) : undefined;
      if (name === undefined || name === '' || UNSAFE_SECTION.test(name)) {
        issues.push({
          line: lineNo,
          code: 'bad-section',
          message: `invalid section header '${l}': a header is '[Name]' alone on its line`,
        });
        current = undefined;
        inBrokenSection = true;
        return;
      }
      current = { name, line: lineNo, items: [] };
      sections.push(current);
      inBrokenSection = false;
      return;
    }
    if (!current) {
      if (!inBrokenSection) {
        issues.push({
          line: lineNo,
          code: 'outside-section',
          message: `assignment '${l}' before any [Section] header is ignored by systemd`,
        });
      }
      return;
    }
    const eq = l.indexOf('=');
    if (eq < 0) {
      issues.push({ line: lineNo, code: 'missing-equals', message: `line '${l}' has no '=': systemd ignores it` });
      return;
    }
    const key = stripWhitespace(l.slice(0, eq));
    if (key === '') {
      issues.push({ line: lineNo, code: 'empty-key', message: `line '${l}' has no key before '=': systemd ignores it` });
      return;
    }
    const value = stripWhitespace(l.slice(eq + 1));
    current.items.push(source === undefined ? { key, value, line: lineNo } : { key, value, line: lineNo, source });
  };

  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    if (isCommentLine(raw)) {
      // Skipped even inside a continuation, as systemd does; kept in the model so a
      // rewrite keeps it, placed before the entry it interrupted.
      const comment = { comment: stripWhitespace(raw), line: lineNo };
      if (current) current.items.push(comment);
      else if (!inBrokenSection) preamble.push(comment);
      return;
    }
    // Whitespace after a final backslash still continues the line. systemd would keep the
    // backslash and read the next line on its own, but Podman's Quadlet parser (which reads
    // Quadlet files) joins them, and no author writes `\ ` meaning a literal backslash.
    const physical = raw.replace(/[ \t]+$/, '');
    const joined = continuation === undefined ? physical : continuation + physical;
    if (continuation === undefined) continuationLine = lineNo;
    if (endsInContinuation(joined)) {
      continuation = joined.slice(0, -1) + ' ';
      return;
    }
    continuation = undefined;
    handleLogical(joined, continuationLine);
  });

  if (continuation !== undefined) {
    issues.push({
      line: continuationLine,
      code: 'unterminated-continuation',
      message: 'the file ends inside a line continued with a trailing backslash',
    });
    // systemd still parses what it has collected; keep the same meaning.
    handleLogical(continuation, continuationLine);
  }

  return { unit: { preamble, sections }, issues };
}
