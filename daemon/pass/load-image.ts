// `moor load-image`, under the pass lock: an image archive loaded into the image store of
// a workload's user, for hosts without a registry. Only a workload a pass applied, or one
// whose user a pass created although its first start failed (an image it lacked, the usual
// case: the user exists only after that pass); the user must be moor's by every ownership
// rule. The archive is read by root and streamed to `podman load` run as the user
// (host/image-load.ts).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HostError, UsageError } from '../core/errors';
import { isValidUserName } from '../core/user-name';
import type { PassContext } from './context';
import { ownershipRefusals } from './ownership';

export interface LoadImageOutcome {
  workload: string;
  user: string;
  uid: number;
  archive: string;
  /** Image names podman reported loading. */
  images: string[];
}

export async function loadImage(ctx: PassContext, workload: string, archiveArg: string): Promise<LoadImageOutcome> {
  const { store, host, config } = ctx;
  if (!isValidUserName(workload)) throw new UsageError(`"${workload}" is not a workload name`);
  const applied = await store.applied.read(workload);
  const user = applied?.user ?? `${config.userPrefix}${workload}`;
  if (!applied && !(await store.ownedUsers.isOwned(user))) {
    throw new UsageError(
      `workload ${workload} is not applied on this host and moor created no user for it (moor status lists the workloads): push its spec and run a pass, which creates its user even when the first start fails for want of the image, then load the image`,
    );
  }
  const archive = resolve(archiveArg);
  const kind = await stat(archive).then(
    (s) => (s.isFile() ? 'file' : 'not a regular file'),
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 'not found' : err.message),
  );
  if (kind !== 'file') throw new UsageError(`${archive}: ${kind}; give the path of an image archive (podman save, docker save)`);
  const entry = await host.users.lookupUser(user);
  if (!entry) throw new HostError(`workload ${workload} has no user ${user} on this host: run a pass (moor reconcile --once) to create it again, then load the image`);
  const refusals = await ownershipRefusals(host, store, config.protectedUsers, entry);
  if (refusals.length > 0) throw new HostError(`refusing to load an image as user ${entry.name}: ${refusals.join(', ')}; nothing was changed`);
  const images = await host.loadImage({ user: entry.name, uid: entry.uid }, archive);
  return { workload, user: entry.name, uid: entry.uid, archive, images };
}
