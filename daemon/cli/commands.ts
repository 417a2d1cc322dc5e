// Every command, one file each.
import type { Command } from 'commander';
import type { SetExit } from './common';
import { registerCheck } from './check';
import { registerRender } from './render';

export function registerCommands(program: Command, setExit: SetExit): void {
  registerCheck(program, setExit);
  registerRender(program, setExit);
}
