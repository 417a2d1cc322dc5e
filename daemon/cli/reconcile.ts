// moor reconcile --once: one pass, then exit. A running daemon runs it (after the one it
// may be running) unless --no-daemon, a dry run, a mass-removal or a history-rewrite
// allowance keeps it in this process, under the pass lock. `moor daemon` is the long-lived loop; `moor
// reconcile` without --once is refused rather than guessed at.
import type { Command } from 'commander';
import type { MoorConfig } from '../core/config/schema';
import { UsageError } from '../core/errors';
import { exitCodeOfError } from '../core/exit-codes';
import type { PassResult } from '../pass/pass-result';
import type { PassProfileReport } from '../pass/profile';
import type { PassContext, PassOptions } from '../pass/run-pass';
import { configFrom, type SetExit } from './common';
import { emit } from './output';
import { formatPassResult, formatProfile } from './pass-output';

interface ReconcileOptions {
  once?: boolean;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
  allowMassRemoval?: boolean;
  allowHistoryRewrite?: boolean;
  daemon?: boolean;
  profile?: boolean;
}

export function registerReconcile(program: Command, setExit: SetExit): void {
  program
    .command('reconcile')
    .description('fetch the repo and bring this host in step with it')
    .option('--once', 'run one pass and exit (required: the long-lived loop is "moor daemon")')
    .option('--dry-run', 'plan only: change nothing')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--allow-mass-removal', 'allow a pass that removes every workload or more than max_removals')
    .option('--allow-history-rewrite', 'deploy a tip that does not descend from the live commit (a force-push to an older or unrelated history), this pass only')
    .option('--json', 'print the result as JSON')
    .option('--no-daemon', 'run the pass in this process even when a moor daemon answers on the control socket (by default it runs the pass)')
    .option('--profile', 'time each step of the pass and each kind of host command, and print the sums (runs the pass in this process)')
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      if (!opts.once) throw new UsageError('moor reconcile runs one pass with --once; for passes on a schedule and on every push, run "moor daemon" (moor.service)');
      const config = await configFrom(cmd);
      if (opts.profile) {
        const profiled = await profiledPass(config, opts);
        emit(opts, profiled, (r) => `${formatPassResult(r)}\n${formatProfile(r.profile)}`);
        setExit(profiled.exitCode);
        return;
      }
      const result = await reconcileOnce(config, opts);
      emit(opts, result, formatPassResult);
      setExit(result.exitCode);
    });
}

/**
 * One pass: a running daemon runs it (after the one it may be running); a dry run, a
 * mass-removal or a history-rewrite allowance stays with this process and its own lock
 * (an allowance is for this pass alone, not for whichever pass the daemon runs next), as
 * does --no-daemon or no daemon answering. Also how `moor resume` starts its pass.
 */
export async function reconcileOnce(config: MoorConfig, opts: ReconcileOptions): Promise<PassResult> {
  if (opts.daemon !== false && !opts.dryRun && !opts.allowMassRemoval && !opts.allowHistoryRewrite) {
    const { reconcileViaRunningDaemon } = await import('./via-daemon');
    const viaDaemon = await reconcileViaRunningDaemon(config, { progress: !opts.json && Boolean(process.stderr.isTTY) });
    if (viaDaemon) return viaDaemon;
  }
  // The pass and all it drives load only when this process runs one (build.ts).
  const [{ withPassLock }, { announcedPass }] = await Promise.all([import('./pass-context'), import('./pass-notify')]);
  if (opts.dryRun) return withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) => loggedPass(ctx, opts));
  return announcedPass(config, (run) => withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) => run(loggedPass(ctx, opts))));
}

/**
 * A pass in this process, announced in the journal as the daemon announces its passes
 * (pass started, pass finished), so a timer's passes are found by the same MESSAGE_IDs. A
 * dry run changes nothing and is not announced.
 */
async function loggedPass(ctx: PassContext, opts: ReconcileOptions): Promise<PassResult> {
  const [{ runPass }, { runMeteredPass }, { logPassFailed, logPassFinished, logPassStarted }] = await Promise.all([import('../pass/run-pass'), import('../pass/pass-metrics'), import('../pass/pass-result')]);
  if (opts.dryRun) return runPass(ctx, passOptions(opts));
  logPassStarted(ctx.log, opts.daemon === false ? 'moor reconcile --once --no-daemon' : 'moor reconcile --once');
  try {
    const result = await runMeteredPass(ctx, passOptions(opts));
    logPassFinished(ctx.log, result);
    return result;
  } catch (err) {
    logPassFailed(ctx.log, exitCodeOfError(err), `pass failed: ${(err as Error).name}: ${(err as Error).message}`);
    throw err;
  }
}

/** One pass in this process, every step and host command timed: the result with its profile. */
async function profiledPass(config: MoorConfig, opts: ReconcileOptions): Promise<PassResult & { profile: PassProfileReport }> {
  const [{ withPassLock }, { announcedPass }] = await Promise.all([import('./pass-context'), import('./pass-notify')]);
  const pass = (run: <T>(p: Promise<T>) => Promise<T>) =>
    withPassLock(config, { wait: Boolean(opts.wait), profile: true }, async (ctx) => {
      const result = await run(loggedPass(ctx, opts));
      return { ...result, profile: ctx.profile!.report() };
    });
  return opts.dryRun ? pass((p) => p) : announcedPass(config, pass);
}

function passOptions(opts: ReconcileOptions): PassOptions {
  return { dryRun: Boolean(opts.dryRun), allowMassRemoval: Boolean(opts.allowMassRemoval), allowHistoryRewrite: Boolean(opts.allowHistoryRewrite) };
}
