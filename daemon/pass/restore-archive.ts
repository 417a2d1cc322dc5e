// `moor restore`, under the pass lock: an archived home put back into the home of a
// workload's user (by default the workload it was archived from, re-added to the repository
// and applied). The archive is unpacked as that user inside its user namespace
// (docs/design.md §5), so the old uid and subordinate range become the new ones; the
// workload's services are stopped first, and a redeploy request makes the next pass
// restart them. Only into a user every ownership rule says is moor's.
import { unitsOfTargets } from '../core/deploy-layout';
import { HostError, UsageError } from '../core/errors';
import { parseArchiveFileName } from '../core/archive-policy';
import { isValidUserName } from '../core/user-name';
import type { PassContext } from './context';
import { ownershipRefusals } from './ownership';

export interface RestoreOutcome {
  archive: string;
  workload: string;
  user: string;
  uid: number;
  home: string;
}

export async function restoreArchive(ctx: PassContext, archive: string, into?: string): Promise<RestoreOutcome> {
  const { store, host, config } = ctx;
  const path = store.archives.resolve(archive);
  const workload = into ?? parseArchiveFileName(path.slice(path.lastIndexOf('/') + 1))!.workload;
  if (!isValidUserName(workload)) throw new UsageError(`"${workload}" is not a workload name`);
  if (!(await store.archives.list()).some((a) => path.endsWith(`/${a.name}`))) throw new UsageError(`no archive ${archive} (see moor archives)`);
  const user = `${config.userPrefix}${workload}`;
  const entry = await host.users.lookupUser(user);
  if (!entry) throw new UsageError(`workload ${workload} has no user ${user}: add the workload to the repository again and let a pass create it, then restore`);
  const refusals = await ownershipRefusals(host, store, config.protectedUsers, entry);
  if (refusals.length > 0) throw new HostError(`refusing to restore into user ${user}: ${refusals.join(', ')}; nothing was changed`);
  const who = { user, uid: entry.uid };
  const applied = await store.applied.read(workload);
  const units = unitsOfTargets(Object.keys(applied?.hashes ?? {})).map((u) => u.unit);
  if (units.length > 0) await host.userManager.stop(who, units).catch(() => undefined);
  await host.restoreHome(who, path, entry.home);
  await store.redeploy.request(workload);
  return { archive: path, workload, user, uid: entry.uid, home: entry.home };
}
