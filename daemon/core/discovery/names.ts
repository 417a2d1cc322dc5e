// Checks on the names in a repository path. Names reach logs, the journal and the
// terminal of whoever runs `moor check`, so anything that can hide or fake text there
// (control and bidi characters) or escape the tree (`..`, backslashes) is refused
// before any other rule looks at the name.

export interface NameIssue {
  code: string;
  message: string;
  hint: string;
}

// C0 and C1 controls, DEL, and the zero-width and bidirectional marks that make a name
// print differently from what it is.
const INVISIBLE_RE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** The path with invisible characters spelled out, safe to print. */
export function displayPath(path: string): string {
  return path.replace(INVISIBLE_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A problem with one path component that no ignore rule may excuse. */
export function hostileNameIssue(segment: string, path: string): NameIssue | undefined {
  const shown = displayPath(path);
  const invisible = segment.match(INVISIBLE_RE);
  if (invisible) {
    const codes = [...new Set(invisible)].map((c) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
    return {
      code: 'control-char',
      message: `${shown}: the name contains a control or invisible character (${codes.join(', ')})`,
      hint: 'rename it using printable characters only',
    };
  }
  if (segment.includes('\\')) {
    return {
      code: 'backslash',
      message: `${shown}: the name contains a backslash`,
      hint: 'rename it without "\\"',
    };
  }
  if (segment.includes('..')) {
    return {
      code: 'dot-dot',
      message: `${shown}: ".." is not allowed in a name (it could point outside the tree)`,
      hint: 'rename it without ".."',
    };
  }
  if (segment === '' || segment === '.') {
    return {
      code: 'bad-path',
      message: `${shown}: the path has an empty or "." component`,
      hint: 'use plain relative paths inside the repository',
    };
  }
  return undefined;
}

export function isHidden(segment: string): boolean {
  return segment.startsWith('.');
}

export function hiddenIssue(path: string, hint?: string): NameIssue {
  return {
    code: 'hidden-file',
    message: `${path}: names starting with "." are ignored, but this one is a file moor would read (hidden files are easy to miss in review)`,
    hint: hint ?? 'rename it without the leading dot, or list it in .moorignore',
  };
}
