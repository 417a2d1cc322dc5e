// Step 7.1: the workload's user exists and is moor's own (docs/design.md §5). Create first and
// read the answer, never "check, then act": useradd's "already exists" is the signal to
// re-check ownership. A new user gets a uid and subordinate-id range no user ever had
// (core/id-allocation.ts), reserved in the registry before useradd runs.
import { HostError } from '../core/errors';
import { allocateIds, formatRange, rangeLast, type Allocation, type SubidRange } from '../core/id-allocation';
import type { PasswdEntry } from '../core/parse/passwd';
import { hasManagedMarker, MANAGED_GROUP, type UserAccounts } from '../host/users';
import type { OwnedUser, OwnedUsersRegistry } from '../state/owned-users';

/** How many uids a pass tries for one user when useradd reports each one as taken. */
export const MAX_UID_ATTEMPTS = 10;

export async function ensureUser(users: UserAccounts, registry: OwnedUsersRegistry, user: string): Promise<PasswdEntry> {
  // Every workload user is a member of the marker group: it must exist first.
  await users.ensureGroup(MANAGED_GROUP);
  const known = await registry.get(user);
  // Written ahead of useradd, so a crash between the two never leaves a user moor made
  // but does not know it owns, nor hands its uid and range to another user.
  let ids = reservationOf(known);
  if (!ids) {
    ids = await allocate(users, registry);
    await registry.recordPending(user, ids);
  }
  let outcome = await users.createUser(user, ids);
  // Another user holds the uid (made outside moor since it was read): the next free one.
  for (let attempt = 1; outcome.status === 'uid-taken'; attempt++) {
    if (attempt >= MAX_UID_ATTEMPTS) {
      throw new HostError(`user ${user} was not created: useradd found each of ${attempt} uids taken (last: ${outcome.message}); moor tries again next pass`);
    }
    ids = await allocate(users, registry);
    await registry.recordPending(user, ids);
    outcome = await users.createUser(user, ids);
  }
  const entry = await users.lookupUser(user);
  if (outcome.status === 'exists') {
    const marked = entry !== null && hasManagedMarker(entry);
    if (!known || !marked) {
      // Not ours: take back the pending entry written above, and touch nothing else.
      if (!known) await registry.withdraw(user);
      const why = !known ? 'it is not in moor\'s ownership registry' : 'it lacks the moor-managed marker';
      throw new HostError(
        `user ${user} already exists and was not created by moor (${why}); moor adopts no existing user: rename the workload or remove the user`,
      );
    }
  }
  if (!entry) throw new HostError(`user ${user} was created but getent passwd does not find it`);
  const subids = await ensureSubids(users, entry, ids.subids);
  await registry.confirm(user, entry.uid, subids);
  return entry;
}

/** The uid and range a registry entry already holds (reserved, or the user's own). */
function reservationOf(known: OwnedUser | undefined): Allocation | undefined {
  return known?.uid !== undefined && known.subids ? { uid: known.uid, subids: known.subids } : undefined;
}

async function allocate(users: UserAccounts, registry: OwnedUsersRegistry): Promise<Allocation> {
  const policy = await users.idPolicy();
  const highWater = await registry.highWater();
  const takenUids = await users.listUids();
  const files = await users.subidFiles();
  return allocateIds({ policy, highWater, takenUids, takenRanges: [...files.subuid, ...files.subgid] });
}

/**
 * The user has a range in /etc/subuid and /etc/subgid: the one reserved for it is added
 * where it has none (a new user, or a crash between useradd and usermod). A user that
 * already has one keeps it. Returns the user's subuid range.
 */
async function ensureSubids(users: UserAccounts, entry: PasswdEntry, reserved: SubidRange): Promise<SubidRange> {
  const files = await users.subidFiles();
  const mine = (e: { owner: string }) => e.owner === entry.name || e.owner === String(entry.uid);
  const own = { subuid: files.subuid.find(mine), subgid: files.subgid.find(mine) };
  if (own.subuid && own.subgid) return { start: own.subuid.start, count: own.subuid.count };
  const clash = [...files.subuid, ...files.subgid].find((e) => !mine(e) && e.start <= rangeLast(reserved) && reserved.start <= rangeLast(e));
  if (clash) {
    throw new HostError(
      `the range ${formatRange(reserved)} reserved for user ${entry.name} overlaps ${clash.owner}'s range ${formatRange(clash)} in /etc/subuid or /etc/subgid; moor never shares a range: move or remove ${clash.owner}'s range`,
    );
  }
  await users.addSubids(entry.name, reserved, { subuid: !own.subuid, subgid: !own.subgid });
  return own.subuid ? { start: own.subuid.start, count: own.subuid.count } : reserved;
}
