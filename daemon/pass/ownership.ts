// The ownership rules (docs/design.md §5) for acting on an existing user's files and
// processes: removing it, or restoring an archive into its home. Every rule must agree;
// each one that does not is named.
import type { PasswdEntry } from '../core/parse/passwd';
import { hasManagedMarker } from '../host/users';
import type { StateStore } from '../state/store';
import type { HostOps } from './host-ops';

/** Why moor must not act on this user; empty when it may. */
export async function ownershipRefusals(host: HostOps, store: StateStore, protectedUsers: readonly string[], entry: PasswdEntry): Promise<string[]> {
  const refusals: string[] = [];
  if (protectedUsers.includes(entry.name)) refusals.push('it is a protected user');
  if (!(await store.ownedUsers.isOwned(entry.name))) refusals.push("it is not in moor's ownership registry");
  if (!hasManagedMarker(entry)) refusals.push('it lacks the moor-managed marker');
  const uidMin = await host.users.uidMin();
  if (entry.uid < uidMin) refusals.push(`its uid ${entry.uid} is below UID_MIN ${uidMin}`);
  return refusals;
}
