// Step 7.1: the workload's user exists and is moor's own (docs/design.md §5). Create first and
// read the answer, never "check, then act": useradd's "already exists" is the signal to
// re-check ownership.
import { HostError } from '../core/errors';
import type { PasswdEntry } from '../core/parse/passwd';
import { hasManagedMarker, MANAGED_GROUP, type UserAccounts } from '../host/users';
import type { OwnedUsersRegistry } from '../state/owned-users';

export async function ensureUser(users: UserAccounts, registry: OwnedUsersRegistry, user: string): Promise<PasswdEntry> {
  // Every workload user is a member of the marker group: it must exist first.
  await users.ensureGroup(MANAGED_GROUP);
  const known = await registry.get(user);
  // Written ahead of useradd, so a crash between the two never leaves a user moor made
  // but does not know it owns.
  if (!known) await registry.recordPending(user);
  const outcome = await users.createUser(user);
  const entry = await users.lookupUser(user);
  if (outcome.status === 'exists') {
    const marked = entry !== null && hasManagedMarker(entry);
    if (!known || !marked) {
      // Not ours: take back the pending entry written above, and touch nothing else.
      if (!known) await registry.forget(user);
      const why = !known ? 'it is not in moor\'s ownership registry' : 'it lacks the moor-managed marker';
      throw new HostError(
        `user ${user} already exists and was not created by moor (${why}); moor adopts no existing user: rename the workload or remove the user`,
      );
    }
  }
  if (!entry) throw new HostError(`user ${user} was created but getent passwd does not find it`);
  await registry.confirm(user, entry.uid);
  return entry;
}
