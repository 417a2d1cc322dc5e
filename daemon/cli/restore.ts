// moor restore <archive>: put an archived home back into the home of a workload's user (by
// default the workload it was archived from, re-added to the repository and applied). The
// archive is unpacked as that user inside its user namespace (docs/design.md §5), so the old
// uid and subordinate range become the new ones; its services are stopped first and
// restarted by the next pass.
import type { Command } from 'commander';
import { unitsOfTargets } from '../core/deploy-layout';
import { HostError, UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { parseArchiveFileName } from '../core/archive-policy';
import { isValidUserName } from '../core/user-name';
import { hasManagedMarker } from '../host/users';
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
      const out = await withPassLock(config, { wait: Boolean(opts.wait) }, async ({ store, host }) => {
        const path = store.archives.resolve(arg);
        const workload = opts.workload ?? parseArchiveFileName(path.slice(path.lastIndexOf('/') + 1))!.workload;
        if (!isValidUserName(workload)) throw new UsageError(`"${workload}" is not a workload name`);
        if (!(await store.archives.list()).some((a) => path.endsWith(`/${a.name}`))) throw new UsageError(`no archive ${arg} (see moor archives)`);
        const user = `${config.userPrefix}${workload}`;
        const entry = await host.users.lookupUser(user);
        if (!entry) throw new UsageError(`workload ${workload} has no user ${user}: add the workload to the repository again and let a pass create it, then restore`);
        if (!(await store.ownedUsers.isOwned(user)) || !hasManagedMarker(entry)) {
          throw new HostError(`refusing to restore into ${user}: moor does not own it (registry and moor-managed marker); nothing was changed`);
        }
        const who = { user, uid: entry.uid };
        const applied = await store.applied.read(workload);
        const units = unitsOfTargets(Object.keys(applied?.hashes ?? {})).map((u) => u.unit);
        if (units.length > 0) await host.userManager.stop(who, units).catch(() => undefined);
        await host.restoreHome(who, path, entry.home);
        await store.redeploy.request(workload);
        return { archive: path, workload, user, uid: entry.uid, home: entry.home };
      });
      process.stdout.write(
        `restored ${out.archive} into ${out.home} (user ${out.user}, uid ${out.uid}); its services were stopped and the next pass restarts them (moor reconcile --once to run it now)\n`,
      );
      setExit(ExitCode.Ok);
    });
}
