// Step 7.1: the workload's user exists and is moor's own (docs/design.md §5). A user moor owns
// (in the registry, and found with the marker) is not created again: every update would
// otherwise run useradd, which logs "failed adding user" to the journal each time. Any
// other user is created first and the answer read, never "check, then act": useradd's
// "already exists" (another process made the user since) is the signal to re-check
// ownership. A new user gets a uid and subordinate-id range no user ever had
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
  if (known) {
    const existing = await users.lookupUser(user);
    if (existing && hasManagedMarker(existing)) return settle(users, registry, existing, reservationOf(known));
  }
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
  return settle(users, registry, entry, ids);
}

/**
 * The user moor owns has its range and the registry says so. `reserved` is the range held
 * for it; a user without one (its entry predates ranges) gets a fresh one if it lacks its own.
 */
async function settle(users: UserAccounts, registry: OwnedUsersRegistry, entry: PasswdEntry, reserved: Allocation | undefined): Promise<PasswdEntry> {
  const subids = await ensureSubids(users, entry, async () => (reserved ?? (await reserve(users, registry, entry.name))).subids);
  const known = await registry.get(entry.name);
  // Nothing to write when the registry already holds exactly this (every update of a workload).
  if (known?.state === 'created' && known.uid === entry.uid && known.subids?.start === subids.start && known.subids.count === subids.count) return entry;
  await registry.confirm(entry.name, entry.uid, subids);
  return entry;
}

/** Fresh numbers for a user, reserved in the registry before they are used. */
async function reserve(users: UserAccounts, registry: OwnedUsersRegistry, user: string): Promise<Allocation> {
  const ids = await allocate(users, registry);
  await registry.recordPending(user, ids);
  return ids;
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
async function ensureSubids(users: UserAccounts, entry: PasswdEntry, reservedRange: () => Promise<SubidRange>): Promise<SubidRange> {
  const files = await users.subidFiles();
  const mine = (e: { owner: string }) => e.owner === entry.name || e.owner === String(entry.uid);
  const own = { subuid: files.subuid.find(mine), subgid: files.subgid.find(mine) };
  if (own.subuid && own.subgid) return { start: own.subuid.start, count: own.subuid.count };
  const reserved = await reservedRange();
  const clash = [...files.subuid, ...files.subgid].find((e) => !mine(e) && e.start <= rangeLast(reserved) && reserved.start <= rangeLast(e));
  if (clash) {
    throw new HostError(
      `the range ${formatRange(reserved)} reserved for user ${entry.name} overlaps ${clash.owner}'s range ${formatRange(clash)} in /etc/subuid or /etc/subgid; moor never shares a range: move or remove ${clash.owner}'s range`,
    );
  }
  await users.addSubids(entry.name, reserved, { subuid: !own.subuid, subgid: !own.subgid });
  return own.subuid ? { start: own.subuid.start, count: own.subuid.count } : reserved;
}
