// moor completion bash|zsh: a completion script generated from the program itself.
import type { Command } from 'commander';
import { bashCompletion, zshCompletion } from '../core/completion';
import { UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import type { SetExit } from './common';
import { programTree, rootOf } from './program-tree';

export function registerCompletion(program: Command, setExit: SetExit): void {
  program
    .command('completion')
    .description('print a shell completion script: moor completion bash > /etc/bash_completion.d/moor')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string, _opts: unknown, cmd: Command) => {
      const tree = programTree(rootOf(cmd));
      if (shell === 'bash') process.stdout.write(bashCompletion(tree));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(tree));
      else throw new UsageError(`moor completion: unknown shell "${shell}": bash or zsh`);
      setExit(ExitCode.Ok);
    });
}
