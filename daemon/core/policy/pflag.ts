// pflag, the option parser of podman's command line: `--opt value`, `--opt=value`,
// `-o value`, `-ovalue`, short booleans bundled (`-dit`), `--` ends the options. An
// option not in the table is an error: its arity is unknown, and guessing it would
// shift which word is the image or the file.

export interface FlagTable {
  /** Long options that take a value. */
  value: Set<string>;
  /** Long boolean options. */
  bool: Set<string>;
  /** Short option → long name. */
  short: Record<string, string>;
}

export const words = (s: string) => new Set(s.split(/\s+/).filter(Boolean));

export interface ParsedFlag {
  name: string;
  value: string;
  /** As written, for messages. */
  as: string;
}

export interface Parsed {
  flags: ParsedFlag[];
  positionals: string[];
  error?: string;
}

/** pflag over one table; with `interspersed` false, the first positional ends the options. */
export function parseFlags(args: readonly string[], table: FlagTable, interspersed: boolean): Parsed {
  const flags: ParsedFlag[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      if (table.value.has(name)) {
        if (eq >= 0) flags.push({ name, value: arg.slice(eq + 1), as: arg });
        else if (i + 1 < args.length) flags.push({ name, value: args[++i]!, as: `${arg} ${args[i]}` });
        else return { flags, positionals, error: `${arg} without its value` };
      } else if (table.bool.has(name)) {
        flags.push({ name, value: eq < 0 ? 'true' : arg.slice(eq + 1), as: arg });
      } else {
        return { flags, positionals, error: `the option ${arg.slice(0, eq < 0 ? undefined : eq)} is not known to the policy` };
      }
    } else if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const name = table.short[arg[j]!];
        if (name === undefined) return { flags, positionals, error: `the option -${arg[j]} (in ${arg}) is not known to the policy` };
        if (table.value.has(name)) {
          const rest = arg.slice(j + 1).replace(/^=/, '');
          if (rest !== '') flags.push({ name, value: rest, as: arg });
          else if (i + 1 < args.length) flags.push({ name, value: args[++i]!, as: `${arg} ${args[i]}` });
          else return { flags, positionals, error: `${arg} without its value` };
          break;
        }
        const boolValue = arg[j + 1] === '=' ? arg.slice(j + 2) : 'true';
        flags.push({ name, value: boolValue, as: arg });
        if (arg[j + 1] === '=') break;
      }
    } else if (!interspersed) {
      positionals.push(...args.slice(i));
      break;
    } else {
      positionals.push(arg);
    }
  }
  return { flags, positionals };
}

