// The command line as data: what `moor --help` shows, taken from the program definition
// (cli/program-tree.ts), and turned here into shell completion scripts and the moor(1)
// man page, so the three never disagree.

export interface OptionSpec {
  /** As declared: "-n, --lines <n>". */
  flags: string;
  long?: string;
  short?: string;
  /** The option takes a value. */
  takesValue: boolean;
  description: string;
}

export interface CommandSpec {
  name: string;
  description: string;
  /** "<workload> [archive]" */
  usage: string;
  options: OptionSpec[];
  commands: CommandSpec[];
}
