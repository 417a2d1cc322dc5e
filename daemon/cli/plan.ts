// moor plan: what a pass would do, per workload, with unit diffs. Changes nothing.
import type { Command } from 'commander';
import { runPass } from '../pass/run-pass';
import { configFrom, type SetExit } from './common';
import { emit } from './output';
import { formatPassResult } from './pass-output';
import { withPassLock } from './pass-context';

export function registerPlan(program: Command, setExit: SetExit): void {
  program
    .command('plan')
    .description('show what a pass would do, with unit diffs; changes nothing')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      // Under the lock too: the checkout is shared with passes, and a plan read while a
      // pass moves it would show a state that never existed.
      const result = await withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) =>
        runPass(ctx, { dryRun: true, diffs: true }),
      );
      emit(opts, result, formatPassResult);
      setExit(result.exitCode);
    });
}
