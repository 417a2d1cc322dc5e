// moor redeploy <workload>: force a re-apply on the next pass, even with nothing changed.
import type { Command } from 'commander';
import { UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { isValidUserName } from '../core/user-name';
import { configFrom, type SetExit } from './common';
import { emit } from './output';

export function registerRedeploy(program: Command, setExit: SetExit): void {
  program
    .command('redeploy')
    .description('force a workload to be re-applied (files rewritten, services restarted) on the next pass; a workload rolled back from a failed update tries that version again')
    .argument('<workload>', 'the workload name')
    .option('--json', 'print the result as JSON')
    .action(async (workload: string, opts: { json?: boolean }, cmd: Command) => {
      if (!isValidUserName(workload)) throw new UsageError(`"${workload}" is not a workload name`);
      const config = await configFrom(cmd);
      const { openStoreWithoutLock } = await import('./pass-context');
      await (await openStoreWithoutLock(config)).redeploy.request(workload);
      emit(opts, { requested: workload }, (r) => `redeploy of ${r.requested} requested: the next pass re-applies it (moor reconcile --once to run it now)`);
      setExit(ExitCode.Ok);
    });
}
