// moor generations | rollback <N> | resume | gc: the history of passes and moving in it.
import type { Command } from 'commander';
import { UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { configFrom, type SetExit } from './common';
import { emit, table } from './output';
import { formatPassResult } from './pass-output';
import { generationRows } from '../state/reports';
import { reconcileOnce } from './reconcile';

// The state store and the pass load when a command here runs, not with the command line (build.ts).
const passContext = () => import('./pass-context');

export function registerGenerations(program: Command, setExit: SetExit): void {
  program
    .command('generations')
    .description('list generations: complete, failed (partial apply) or aborted (interrupted)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const { openStoreReadOnly } = await passContext();
      const list = await generationRows(await openStoreReadOnly(config));
      emit(opts, { generations: list }, ({ generations: l }) =>
        l.length === 0
          ? 'no generations yet'
          : table([
              ['GEN', 'STATE', 'KIND', 'COMMIT', 'SIGNED BY', 'CREATED', 'NOTE'],
              ...l.map((g) => [
                String(g.generation),
                g.state,
                g.kind === 'rollback' ? `rollback of ${g.rollbackOf}` : (g.kind ?? '-'),
                g.commit?.slice(0, 12) ?? '-',
                g.signer ? `${g.signer.principal} ${g.signer.fingerprint}` : '-',
                g.createdAt,
                [g.current ? 'current' : '', g.pinned ? 'pinned' : '', g.failed.length ? `failed: ${g.failed.join(', ')}` : '', g.rolledBack.length ? `rolled back: ${g.rolledBack.join(', ')}` : '', g.problem ?? ''].filter(Boolean).join('; '),
              ]),
            ]),
      );
      setExit(ExitCode.Ok);
    });

  program
    .command('rollback')
    .description('re-apply generation N and pin it: passes keep it until "moor resume"')
    .argument('<generation>', 'a complete generation number (see moor generations)')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--json', 'print the result as JSON')
    .action(async (arg: string, opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const id = Number(arg);
      if (!Number.isInteger(id) || id <= 0) throw new UsageError(`"${arg}" is not a generation number`);
      const config = await configFrom(cmd);
      const [{ withPassLock }, { runMeteredPass }] = await Promise.all([passContext(), import('../pass/pass-metrics')]);
      const result = await withPassLock(config, { wait: Boolean(opts.wait) }, async (ctx) => {
        const info = await ctx.store.generations.info(id);
        if (!info) throw new UsageError(`generation ${id} does not exist (see moor generations)`);
        if (info.state !== 'complete') throw new UsageError(`generation ${id} is ${info.state}; only a complete generation can be rolled back to`);
        await ctx.store.pin.pin(id);
        ctx.log.warn({ generation: id }, `rollback to generation ${id}: pinned until moor resume`);
        return runMeteredPass(ctx, {});
      });
      emit(opts, result, formatPassResult);
      setExit(result.exitCode);
    });

  program
    .command('resume')
    .description('end a rollback pin and run a pass that follows the repo again (through the daemon when one answers)')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--no-pass', 'only end the pin: the next scheduled pass follows the repo')
    .option('--no-daemon', 'run the pass in this process even when a moor daemon answers on the control socket')
    .option('--json', 'print the result as JSON: unpinned (the generation, or null), and the pass it ran')
    .action(async (opts: { wait?: boolean; pass?: boolean; daemon?: boolean; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const { withPassLock } = await passContext();
      const was = await withPassLock(config, { wait: Boolean(opts.wait) }, async (ctx) => {
        const pin = await ctx.store.pin.read();
        await ctx.store.pin.unpin();
        return pin?.generation;
      });
      if (was === undefined || opts.pass === false) {
        const text =
          was === undefined
            ? 'not pinned: nothing to resume, no pass started'
            : `unpinned generation ${was}: no pass started; the next pass follows the repo again (moor reconcile --once to run it now)`;
        emit(opts, { unpinned: was ?? null }, () => text);
        setExit(ExitCode.Ok);
        return;
      }
      // The pin is gone whatever becomes of this pass: say so before it runs (on stderr
      // with --json, so stdout stays one JSON object).
      (opts.json ? process.stderr : process.stdout).write(`unpinned generation ${was}: running a pass that follows the repo again\n`);
      const result = await reconcileOnce(config, { wait: Boolean(opts.wait), daemon: opts.daemon !== false });
      emit(opts, { unpinned: was, ...result }, formatPassResult);
      setExit(result.exitCode);
    });

  program
    .command('gc')
    .description('delete old generations by the gc policy of the config')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const { withPassLock } = await passContext();
      const report = await withPassLock(config, { wait: Boolean(opts.wait) }, async (ctx) => ({
        ...(await ctx.store.gc(config.gc)),
        archives: await ctx.store.archives.gc({ maxAgeMs: config.removal.archiveMaxAgeMs, maxBytes: config.removal.archiveMaxBytes }),
      }));
      emit(opts, report, (r) =>
        [
          r.decisions.length ? table([['GEN', 'DECISION', 'WHY'], ...r.decisions.map((d) => [String(d.id), d.delete ? 'delete' : 'keep', d.reason])]) : 'no generations',
          '',
          `deleted ${r.deleted.length} generation(s)`,
          ...(r.archives.decisions.length ? ['', table([['ARCHIVE', 'DECISION', 'WHY'], ...r.archives.decisions.map((d) => [d.name, d.delete ? 'delete' : 'keep', d.reason])])] : []),
          `deleted ${r.archives.deleted.length} home archive(s)`,
        ].join('\n'),
      );
      setExit(ExitCode.Ok);
    });
}
