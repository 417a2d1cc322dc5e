// moor load-image <workload> <archive>: an image archive loaded into a workload's own
// image store, for hosts without a registry (pass/load-image.ts does it, under the
// pass lock).
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes';
import { configFrom, type SetExit } from './common';
import { emit } from './output';

export function registerLoadImage(program: Command, setExit: SetExit): void {
  program
    .command('load-image')
    .description("load an image archive (podman save, docker save) into a workload's image store, as its user")
    .argument('<workload>', 'a workload a pass applied, or whose user a pass created (see moor status)')
    .argument('<archive>', 'the archive, read by root and given to podman load as the workload user')
    .option('--wait', 'queue behind a running pass instead of exiting 3')
    .option('--json', 'print the result as JSON')
    .action(async (workload: string, archive: string, opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const [{ withPassLock }, { loadImage }] = await Promise.all([import('./pass-context'), import('../pass/load-image')]);
      const out = await withPassLock(config, { wait: Boolean(opts.wait) }, (ctx) => loadImage(ctx, workload, archive));
      emit(opts, out, (o) =>
        `loaded ${o.images.length > 0 ? o.images.join(', ') : 'the archive'} into the image store of ${o.user} (uid ${o.uid}), workload ${o.workload}`,
      );
      setExit(ExitCode.Ok);
    });
}
