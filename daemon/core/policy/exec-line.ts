// A unit file's Exec*= value as systemd reads it (systemd.service(5) "Command lines"):
// leading prefixes (`-@:+!`), then words split at whitespace, with single and double
// quotes and C escapes, and environment variables left for systemd to expand at exec.
// Anything systemd would refuse, or that moor cannot turn into a fixed argv, is an error
// here: the policy must not guess what runs.

export interface ExecCommand {
  /** The program, as written (a path or a name looked up in PATH). */
  program: string;
  /** argv after the program (argv[0] itself dropped, also the one `@` gives). */
  args: string[];
  /** Why the argv is not fixed: a `$VAR` expansion, an unknown escape... */
  unfixed?: string;
}

const PREFIX = /^[-@:+!]+/;

export function parseExecLine(value: string): ExecCommand | { error: string } {
  const prefix = PREFIX.exec(value)?.[0] ?? '';
  const words = splitWords(value.slice(prefix.length));
  if ('error' in words) return words;
  const argv = words.words;
  if (prefix.includes('@')) argv.splice(1, 1); // `@prog argv0 args...`
  if (argv.length === 0) return { error: 'an empty command' };
  if (argv.includes(';')) return { error: 'a ";" separating commands' };
  const unfixed = argv.map(dynamicIn).find((d) => d !== undefined);
  const plain = argv.map((w) => w.replaceAll('$$', '$'));
  return { program: plain[0]!, args: plain.slice(1), ...(unfixed ? { unfixed } : {}) };
}

/** Whether a word holds a `$NAME` or `${NAME}` systemd expands at exec ("$$" is a literal "$"). */
function dynamicIn(word: string): string | undefined {
  for (let i = 0; i < word.length; i++) {
    if (word[i] !== '$') continue;
    if (word[i + 1] === '$') {
      i++;
      continue;
    }
    if (/[{A-Za-z_]/.test(word[i + 1] ?? '')) return `the environment variable in "${word}" is expanded only when it runs`;
  }
  return undefined;
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', s: ' ', '\\': '\\', '"': '"', "'": "'" };

/** systemd's extract_first_word with UNQUOTE and CUNESCAPE, over the whole value. */
export function splitWords(text: string): { words: string[] } | { error: string } {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let word = '';
    let quote: string | undefined;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (!quote && /\s/.test(c)) break;
      if (c === '\\') {
        const esc = unescapeAt(text, i + 1);
        if ('error' in esc) return esc;
        word += esc.char;
        i = esc.end - 1;
      } else if (quote ? c === quote : c === '"' || c === "'") {
        quote = quote ? undefined : c;
      } else {
        word += c;
      }
    }
    if (quote) return { error: `an unterminated ${quote} quote` };
    words.push(word);
  }
  return { words };
}

function unescapeAt(text: string, at: number): { char: string; end: number } | { error: string } {
  const c = text[at];
  if (c === undefined) return { error: 'a trailing backslash' };
  if (c in SIMPLE_ESCAPES) return { char: SIMPLE_ESCAPES[c]!, end: at + 1 };
  const hex = (n: number, from: number) => (new RegExp(`^[0-9a-fA-F]{${n}}`).test(text.slice(from, from + n)) ? parseInt(text.slice(from, from + n), 16) : undefined);
  let code: number | undefined;
  let end = at + 1;
  if (c === 'x') [code, end] = [hex(2, at + 1), at + 3];
  else if (c === 'u') [code, end] = [hex(4, at + 1), at + 5];
  else if (c === 'U') [code, end] = [hex(8, at + 1), at + 9];
  else if (/[0-7]/.test(c) && /^[0-7]{3}$/.test(text.slice(at, at + 3))) [code, end] = [parseInt(text.slice(at, at + 3), 8), at + 3];
  if (code === undefined || code === 0 || code > 0x10ffff) return { error: `an invalid escape "\\${c}"` };
  return { char: String.fromCodePoint(code), end };
}
