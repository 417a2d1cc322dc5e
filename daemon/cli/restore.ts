// moor restore <archive>: put an archived home back into a workload's home
// (pass/restore-archive.ts does it, under the pass lock).
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes';
import { configFrom, type SetExit } from './common';
import { emit } from './output';

export function registerRestore(program: Command, setExit: SetExit): void {
  program
    .command('restore')
    .description("unpack an archived home (see moor archives) into a workload's home, mapping the old uid and subordinate range to its user's")
    .argument('<archive>', 'an archive name or path from moor archives')
    .option('--workload <name>', 'restore into this workload instead of the one the archive was made of')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--json', 'print the result as JSON')
    .action(async (arg: string, opts: { workload?: string; wait?: boolean; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const [{ withPassLock }, { restoreArchive }] = await Promise.all([import('./pass-context'), import('../pass/restore-archive')]);
      const out = await withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) => restoreArchive(ctx, arg, opts.workload));
      emit(
        opts,
        out,
        (o) => `restored ${o.archive} into ${o.home} (user ${o.user}, uid ${o.uid}); its services were stopped and the next pass restarts them (moor reconcile --once to run it now)`,
      );
      setExit(ExitCode.Ok);
    });
}
