// Step 7 for a remove item: stop its units, end its user manager and every process of its
// uid and subordinate range, archive its home, delete what it left outside the home,
// delete its user. A user is removed only when every ownership rule agrees
// (docs/design.md §5); otherwise nothing at all is touched and the item fails loudly, every
// pass, until an operator decides. Each step is safe to repeat: a pass killed anywhere in
// between is finished by the next one.
import type { Logger } from 'pino';
import type { MoorConfig } from '../core/config/schema';
import { HostError } from '../core/errors';
import { unitsOfTargets } from '../core/deploy-layout';
import type { Owners } from '../core/leftovers';
import type { FileHashes } from '../core/types';
import { ownershipRefusals } from './ownership';
import type { StateStore } from '../state/store';
import type { HostOps } from './host-ops';

export interface RemoveContext {
  host: HostOps;
  store: StateStore;
  config: Pick<MoorConfig, 'protectedUsers' | 'removal' | 'timeouts'>;
  log?: Logger;
}

/** A workload as far as removal needs it; `hashes` is empty for a user that never applied. */
export interface RemovalTarget {
  workload: string;
  user: string;
  hashes: FileHashes;
}

export interface RemovalOutcome {
  status: 'removed' | 'already-gone';
  /** The archive of the home, when one was made. */
  archive?: string;
}

export async function removeWorkload(ctx: RemoveContext, record: RemovalTarget): Promise<RemovalOutcome> {
  const { host, store, config } = ctx;
  const user = record.user;
  const entry = await host.users.lookupUser(user);
  if (!entry) {
    await store.ownedUsers.forget(user);
    await store.applied.delete(record.workload);
    return { status: 'already-gone' };
  }
  const refusals = await ownershipRefusals(host, store, config.protectedUsers, entry);
  if (refusals.length > 0) {
    throw new HostError(`refusing to remove user ${user}: ${refusals.join(', ')}; nothing was changed`);
  }
  // Read before userdel deletes them; a range that is not the user's alone refuses here.
  const sub = await host.leftovers.subordinateIds(user, entry.uid);
  const owners: Owners = { user, uid: entry.uid, ranges: sub.uids };

  // Stop.
  const who = { user, uid: entry.uid };
  const units = unitsOfTargets(Object.keys(record.hashes)).map((u) => u.unit);
  // The user manager may already be gone (linger lost, a reboot): stopping is best effort,
  // terminate-user, the slice and the kill below end whatever still runs.
  if (units.length > 0) await host.userManager.stop(who, units).catch(() => undefined);
  await host.logind.disableLinger(user);
  await host.logind.terminateUser(user);
  await host.system.stopUserManager(entry.uid).catch(() => undefined);
  await host.system.stopUserSlice(entry.uid);

  // Kill: what runs outside the slice (a pause process left in an administrator's session
  // by `runuser -u USER podman ...`, anything started through runuser or su, a container
  // process of the subordinate range) would keep userdel from ever succeeding.
  const killed = await host.leftovers.killAll(owners, config.timeouts.stopMs);
  if (killed > 0) ctx.log?.warn({ workload: record.workload, user, uid: entry.uid, killed }, `${record.workload}: killed ${killed} process(es) of ${user} running outside its user manager`);

  // Archive: nothing is deleted unless the home is safe in an archive (or purge was chosen).
  let archive: string | undefined;
  if (config.removal.home === 'archive') {
    const dest = store.archives.newPath(record.workload, entry.uid);
    const made = await host.archiveHome({
      home: entry.home,
      uid: entry.uid,
      gid: entry.gid,
      subuids: sub.uids,
      subgids: sub.gids,
      dest,
      timeoutMs: config.timeouts.archiveMs,
    });
    if (made === 'archived') archive = dest;
  }

  // Clean, then delete the user and its home.
  await host.leftovers.removeAll(owners);
  await host.users.removeUser(user);
  await store.ownedUsers.forget(user);
  await store.applied.delete(record.workload);
  if (archive !== undefined) {
    ctx.log?.info({ workload: record.workload, user, uid: entry.uid, archive }, `${record.workload}: home of ${user} archived to ${archive}`);
    const gc = await store.archives.gc({ maxAgeMs: config.removal.archiveMaxAgeMs, maxBytes: config.removal.archiveMaxBytes }, undefined, archive);
    if (gc.deleted.length > 0) ctx.log?.info({ deleted: gc.deleted }, 'deleted old home archives');
  }
  return { status: 'removed', ...(archive !== undefined ? { archive } : {}) };
}
