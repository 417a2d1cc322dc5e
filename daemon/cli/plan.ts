// moor plan: what a pass would do, per workload, with unit diffs. Changes nothing.
// With --host NAME: what host NAME of a fleet would do with a checkout (cli/plan-host.ts).
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes';
import { configFrom, type SetExit } from './common';
import { emit } from './output';

interface PlanOptions {
  wait?: boolean;
  json?: boolean;
  host?: string;
  repo?: string;
  source?: string;
  transforms?: string;
}

export function registerPlan(program: Command, setExit: SetExit): void {
  program
    .command('plan')
    .description('show what a pass would do, with unit diffs; changes nothing')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--host <name>', 'what host NAME of a fleet would do with the checkout --repo, against the status it published (from any machine)')
    .option('--repo <dir>', 'with --host: the checkout to plan (default: the current directory)')
    .option('--source <url>', 'with --host: where the host publishes its status (default: source.url)')
    .option('--transforms <dir>', 'with --host: the transforms directory the host has (default: transforms_dir of the config)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: PlanOptions, cmd: Command) => {
      const config = await configFrom(cmd);
      if (opts.host !== undefined) {
        const { planHost, formatHostPlan } = await import('./plan-host');
        const plan = await planHost(config, { host: opts.host, ...(opts.repo ? { repo: opts.repo } : {}), ...(opts.source ? { source: opts.source } : {}), ...(opts.transforms ? { transforms: opts.transforms } : {}) });
        emit(opts, plan, formatHostPlan);
        return setExit(plan.problems.length > 0 ? ExitCode.Invalid : ExitCode.Ok);
      }
      if (opts.repo || opts.source || opts.transforms) throw new (await import('../core/errors')).UsageError('--repo, --source and --transforms go with --host NAME');
      // The pass and the lock load here, not with the command line (build.ts).
      const [{ runPass }, { withPassLock }, { formatPassResult }] = await Promise.all([import('../pass/run-pass'), import('./pass-context'), import('./pass-output')]);
      // Under the lock too: the checkout is shared with passes, and a plan read while a
      // pass moves it would show a state that never existed.
      const result = await withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) => runPass(ctx, { dryRun: true, diffs: true }));
      emit(opts, result, formatPassResult);
      setExit(result.exitCode);
    });
}
