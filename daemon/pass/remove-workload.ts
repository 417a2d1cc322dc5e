// Step 7 for a remove item: stop its units, end its user manager, delete its user. A user
// is removed only when every ownership rule agrees (docs/design.md §5); otherwise nothing at
// all is touched and the item fails loudly, every pass, until an operator decides.
import { HostError } from '../core/errors';
import { unitsOfTargets } from '../core/deploy-layout';
import type { FileHashes } from '../core/types';
import { hasManagedMarker } from '../host/users';
import type { StateStore } from '../state/store';
import type { HostOps } from './host-ops';

export interface RemoveContext {
  host: HostOps;
  store: StateStore;
  protectedUsers: readonly string[];
}

/** A workload as far as removal needs it; `hashes` is empty for a user that never applied. */
export interface RemovalTarget {
  workload: string;
  user: string;
  hashes: FileHashes;
}

export async function removeWorkload(ctx: RemoveContext, record: RemovalTarget): Promise<'removed' | 'already-gone'> {
  const { host, store } = ctx;
  const user = record.user;
  const entry = await host.users.lookupUser(user);
  if (!entry) {
    await store.ownedUsers.forget(user);
    await store.applied.delete(record.workload);
    return 'already-gone';
  }
  const refusals: string[] = [];
  if (ctx.protectedUsers.includes(user)) refusals.push('it is a protected user');
  if (!(await store.ownedUsers.isOwned(user))) refusals.push("it is not in moor's ownership registry");
  if (!hasManagedMarker(entry)) refusals.push('it lacks the moor-managed marker');
  const uidMin = await host.users.uidMin();
  if (entry.uid < uidMin) refusals.push(`its uid ${entry.uid} is below UID_MIN ${uidMin}`);
  if (refusals.length > 0) {
    throw new HostError(`refusing to remove user ${user}: ${refusals.join(', ')}; nothing was changed`);
  }

  const who = { user, uid: entry.uid };
  const units = unitsOfTargets(Object.keys(record.hashes)).map((u) => u.unit);
  // The user manager may already be gone (linger lost, a reboot): stopping is best effort,
  // terminate-user and userdel below end whatever still runs.
  if (units.length > 0) await host.userManager.stop(who, units).catch(() => undefined);
  await host.logind.disableLinger(user);
  await host.logind.terminateUser(user);
  await host.system.stopUserManager(entry.uid).catch(() => undefined);
  await host.users.removeUser(user);
  await store.ownedUsers.forget(user);
  await store.applied.delete(record.workload);
  return 'removed';
}
