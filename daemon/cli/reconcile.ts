// moor reconcile --once: one pass in this process, under the pass lock.
import type { Command } from 'commander';
import { runPass } from '../agent/pass';
import { configFrom, type SetExit } from './common';
import { emit } from './output';
import { formatPassResult } from './pass-output';
import { withPassLock } from './pass-context';

interface ReconcileOptions {
  once?: boolean;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
  allowMassRemoval?: boolean;
}

export function registerReconcile(program: Command, setExit: SetExit): void {
  program
    .command('reconcile')
    .description('fetch the repo and bring this host in step with it')
    .option('--once', 'run one pass in this process and exit')
    .option('--dry-run', 'plan only: change nothing')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--allow-mass-removal', 'allow a pass that removes every workload or more than max_removals')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      const config = await configFrom(cmd);
      const result = await withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) =>
        runPass(ctx, { dryRun: Boolean(opts.dryRun), allowMassRemoval: Boolean(opts.allowMassRemoval) }),
      );
      emit(opts, result, formatPassResult);
      setExit(result.exitCode);
    });
}
