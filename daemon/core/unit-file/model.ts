// The in-memory model of a systemd unit file (docs/design.md §4). Written by hand because no
// library implements systemd's own syntax: repeated keys keep every value in order,
// `Key=` resets a list, a trailing backslash continues a line, `#`/`;` comments, and
// section and key names are case-sensitive. Generic INI parsers get each of these wrong.

export interface UnitEntry {
  key: string;
  /** The logical value: continuations joined, surrounding whitespace stripped, escapes kept as written. */
  value: string;
  /** 1-based line where the assignment starts in its source file. */
  line: number;
  /** The file the entry came from (a spec or a transform), for error messages. */
  source?: string;
}

export interface UnitComment {
  /** The comment line as written, including its leading `#` or `;`. */
  comment: string;
  line: number;
}

export type UnitItem = UnitEntry | UnitComment;

export interface UnitSection {
  name: string;
  line: number;
  /** Set when the section was added by a transform: the transform's path (`line` is then in that file). */
  source?: string;
  /** Entries and comments in file order. */
  items: UnitItem[];
}

export interface UnitFile {
  /** Comments before the first section header. */
  preamble: UnitComment[];
  /** Sections in file order; a name may repeat, as systemd merges repeated sections. */
  sections: UnitSection[];
}

/** A line systemd would ignore with a warning: moor reports it instead. */
export interface UnitSyntaxIssue {
  line: number;
  code: 'missing-equals' | 'outside-section' | 'bad-section' | 'empty-key' | 'unterminated-continuation';
  message: string;
}

export interface ParseResult {
  unit: UnitFile;
  issues: UnitSyntaxIssue[];
}

export function isEntry(item: UnitItem): item is UnitEntry {
  return (item as UnitEntry).key !== undefined;
}
