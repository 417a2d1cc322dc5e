// The commander program as data (core/command-tree.ts), for the completion scripts and the
// man page: every command and option exactly as `--help` lists them.
import type { Command } from 'commander';
import type { CommandSpec } from '../core/command-tree';

export function programTree(cmd: Command): CommandSpec {
  return {
    name: cmd.name(),
    description: cmd.description(),
    usage: cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' '),
    options: cmd.options
      .filter((o) => !o.hidden)
      .map((o) => ({
        flags: o.flags,
        ...(o.long ? { long: o.long } : {}),
        ...(o.short ? { short: o.short } : {}),
        takesValue: o.required || o.optional,
        description: o.description,
      })),
    commands: cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden).map(programTree),
  };
}

/** The root program of the command being run. */
export function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}
