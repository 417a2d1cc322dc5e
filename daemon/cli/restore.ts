// moor restore <archive>: put an archived home back into a workload's home
// (pass/restore-archive.ts does it, under the pass lock).
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes';
import { restoreArchive } from '../pass/restore-archive';
import { configFrom, type SetExit } from './common';
import { withPassLock } from './pass-context';

export function registerRestore(program: Command, setExit: SetExit): void {
  program
    .command('restore')
    .description("unpack an archived home (see moor archives) into a workload's home, mapping the old uid and subordinate range to its user's")
    .argument('<archive>', 'an archive name or path from moor archives')
    .option('--workload <name>', 'restore into this workload instead of the one the archive was made of')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .action(async (arg: string, opts: { workload?: string; wait?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const out = await withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) => restoreArchive(ctx, arg, opts.workload));
      process.stdout.write(
        `restored ${out.archive} into ${out.home} (user ${out.user}, uid ${out.uid}); its services were stopped and the next pass restarts them (moor reconcile --once to run it now)\n`,
      );
      setExit(ExitCode.Ok);
    });
}
