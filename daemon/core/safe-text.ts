// Text from a repository or a workload, made safe to print on a terminal or in the journal
// (docs/design.md §10). Repo content, transform output and a workload user's own messages
// (the Quadlet generator runs as that user) reach root's terminal and the log; a raw escape
// sequence could erase or rewrite what the operator reads, a newline could forge a journal
// line with its own priority, a bidi override could reorder a diff. Each such character is
// shown as a visible escape instead: `\xNN` up to U+00FF, `\u{NNNN}` above.
//
// Escaped: C0 controls (U+0000–U+001F) but tab, DEL, C1 controls (U+0080–U+009F), every
// format character (Unicode category Cf: bidi embeddings, overrides, isolates and marks,
// U+061C, zero-width space/joiners, word joiner, BOM, soft hyphen, tag characters...), the
// line and paragraph separators U+2028/U+2029, unpaired surrogates, and every other
// default-ignorable code point (drawn as nothing: Hangul fillers, variation selectors,
// reserved ones), so no text hides in them. Tab is kept: it moves the cursor forward only. A newline is kept only where a block of lines is meant
// (`lines`); a one-line field escapes it. A backslash is not escaped, so a unit file's
// continuation lines read as written; a literal `\x1b` in a file therefore looks like an
// escaped one, which can mislead about a byte but never hide or rewrite text.

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/gu;

/** `\xNN` for U+0000–U+00FF, `\u{NNNN}` above. */
function escapeCodePoint(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const hex = cp.toString(16);
  return cp <= 0xff ? `\\x${hex.padStart(2, '0')}` : `\\u{${hex.toUpperCase().padStart(4, '0')}}`;
}

/**
 * `text` with every control and invisible format character escaped visibly; with
 * `lines`, `\n` is kept (a block of lines), otherwise it is escaped too (one line).
 * The result holds only printable characters, tab and (with `lines`) newline, so escaping
 * it again changes nothing.
 */
export function safeText(text: string, opts: { lines?: boolean } = {}): string {
  return text.replace(UNSAFE, (ch) => (ch === '\t' || (ch === '\n' && opts.lines) ? ch : escapeCodePoint(ch)));
}

/** A block of lines: `safeText` keeping `\n`. */
export const safeLines = (text: string): string => safeText(text, { lines: true });

/**
 * JSON text (from JSON.stringify) with the characters `safeText` escapes, which
 * JSON.stringify leaves raw (DEL, C1, format characters, U+2028/U+2029), written as
 * `\uXXXX` escapes: the value a parser reads is exactly the same, and the text is safe on
 * a terminal. Outside strings JSON holds none of them; C0 controls appear raw only as the
 * layout's whitespace (JSON.stringify escapes them in strings), and stay.
 */
export function safeJson(json: string): string {
  return json.replace(UNSAFE, (ch) => {
    if (ch.charCodeAt(0) < 0x20) return ch;
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
