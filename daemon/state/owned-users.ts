// The ownership registry (owned-users.json): the users moor created, and so may remove
// (docs/design.md §5). Protocol: recordPending BEFORE useradd, confirm after it. A crash between
// the two leaves a pending entry, so a user moor created is never forgotten; a pending
// entry whose useradd never ran only means "moor may create this name".
// The registry also makes sure no uid or subordinate-id range is handed out twice: the
// pending entry reserves them before useradd, the high-water marks only ever rise, and a
// removed user leaves a tombstone (name, uid, range, removedAt) behind.
// A file written before tombstones and marks existed reads fine: both start empty, and
// the marks then start from the highest uid and range of the users listed.
import { statSync } from 'node:fs';
import * as z from 'zod/mini';
import { rangeLast, type Allocation, type HighWater, type SubidRange } from '../core/id-allocation';
import type { Clock } from '../core/ports';
import { StateError } from '../core/errors';
import { readJsonIfExists, writeJsonAtomic } from './atomic';
import { assertSafeName, type StateLayout } from './layout';

const Id = z.int().check(z.nonnegative());
const Range = z.object({ start: Id, count: z.int().check(z.positive()) });

export const OwnedUser = z.object({
  /** Reserved before useradd (pending), the user's own once created. */
  uid: z.optional(Id),
  /** The subuid and subgid range reserved for the user (absent for users made before ranges were recorded). */
  subids: z.optional(Range),
  createdAt: z.iso.datetime({ offset: true }),
  state: z.enum(['pending', 'created']),
});
export type OwnedUser = z.infer<typeof OwnedUser>;

/** What is left of a user moor removed: its numbers are never handed out again. */
export const RemovedUser = z.object({
  name: z.string(),
  uid: z.optional(Id),
  subids: z.optional(Range),
  removedAt: z.iso.datetime({ offset: true }),
});
export type RemovedUser = z.infer<typeof RemovedUser>;

export const OwnedUsersFile = z.object({
  users: z.record(z.string(), OwnedUser),
  removed: z.optional(z.array(RemovedUser)),
  /** The highest uid and one past the highest subordinate id ever handed out. */
  highWater: z.optional(z.object({ uid: Id, subidEnd: Id })),
});
export type OwnedUsersFile = z.infer<typeof OwnedUsersFile>;

/** The marks as recorded, raised to cover every uid and range the file still names. */
function highWaterOf(file: OwnedUsersFile): HighWater {
  const mark = { uid: file.highWater?.uid ?? 0, subidEnd: file.highWater?.subidEnd ?? 0 };
  for (const e of [...Object.values(file.users), ...(file.removed ?? [])]) raise(mark, e.uid, e.subids);
  return mark;
}

function raise(mark: HighWater, uid: number | undefined, subids: SubidRange | undefined): void {
  if (uid !== undefined) mark.uid = Math.max(mark.uid, uid);
  if (subids) mark.subidEnd = Math.max(mark.subidEnd, rangeLast(subids) + 1);
}

export interface OwnedUserEntry extends OwnedUser {
  name: string;
}

export class OwnedUsersRegistry {
  // Read-modify-write of one file: concurrent callers in this process take turns, or one
  // update could silently undo another.
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The file as last read, with the identity of what it was read from. A pass asks about
   * every workload's user: parsing the whole file each time made a pass quadratic in the
   * number of workloads. Every write renames a new file into place, so inode, size and
   * mtime tell a changed file, whoever wrote it.
   */
  private cache: { key: string; file: OwnedUsersFile } | undefined;

  constructor(
    private readonly layout: StateLayout,
    private readonly clock: Clock,
  ) {}

  /** The file as it is now. Shared with the cache: callers only read it (update() copies). */
  private async load(): Promise<Readonly<OwnedUsersFile>> {
    // Synchronous: asked once per workload in a pass, where an asynchronous stat is a trip
    // through Node's thread pool each (500 workloads: 30-40 ms, against 1-2 ms).
    let key: string | undefined;
    try {
      const s = statSync(this.layout.ownedUsers, { bigint: true });
      key = `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      key = undefined;
    }
    if (key !== undefined && this.cache?.key === key) return this.cache.file;
    const file = (await readJsonIfExists(this.layout.ownedUsers, OwnedUsersFile)) ?? { users: {} };
    this.cache = key === undefined ? undefined : { key, file };
    return file;
  }

  private update<T>(change: (file: OwnedUsersFile) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const file = structuredClone(await this.load()) as OwnedUsersFile;
      const result = change(file);
      await writeJsonAtomic(this.layout.ownedUsers, file);
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Written before useradd, with the uid and range useradd will be given: they count as
   * handed out from here on, whatever happens next. Re-creating a name drops the old
   * numbers: the new user gets its own.
   */
  recordPending(name: string, ids: Allocation): Promise<void> {
    assertSafeName('user', name);
    return this.update((file) => {
      const previous = file.users[name];
      const mark = highWaterOf(file);
      raise(mark, ids.uid, ids.subids);
      file.highWater = mark;
      file.users[name] = { uid: ids.uid, subids: ids.subids, createdAt: previous?.createdAt ?? this.clock.now().toISOString(), state: 'pending' };
    });
  }

  /**
   * Written once useradd succeeded (or found the user moor had created before a crash),
   * with the user's uid as NSS reports it and its range when known.
   */
  confirm(name: string, uid: number, subids?: SubidRange): Promise<void> {
    assertSafeName('user', name);
    return this.update((file) => {
      const entry = file.users[name];
      if (!entry) throw new StateError(`${this.layout.ownedUsers}: cannot confirm ${name}: it was never recorded as pending`);
      const range = subids ?? entry.subids;
      const mark = highWaterOf(file);
      raise(mark, uid, range);
      file.highWater = mark;
      file.users[name] = { ...entry, uid, ...(range ? { subids: range } : {}), state: 'created' };
    });
  }

  /**
   * After userdel succeeded (or the user turned out not to exist): the user is no longer
   * moor's, and a tombstone keeps its uid and range from ever being handed out again.
   * Returns false if unknown.
   */
  forget(name: string): Promise<boolean> {
    assertSafeName('user', name);
    return this.update((file) => {
      const entry = file.users[name];
      if (!entry) return false;
      file.highWater = highWaterOf(file);
      const tombstone: RemovedUser = { name, removedAt: this.clock.now().toISOString() };
      if (entry.uid !== undefined) tombstone.uid = entry.uid;
      if (entry.subids) tombstone.subids = entry.subids;
      file.removed = [...(file.removed ?? []), tombstone];
      delete file.users[name];
      return true;
    });
  }

  /**
   * Takes back a pending entry whose useradd found the name taken by a user moor did not
   * make: nothing was created, so no tombstone; the numbers it reserved stay spent (the
   * high-water marks keep them). Returns false if unknown.
   */
  withdraw(name: string): Promise<boolean> {
    assertSafeName('user', name);
    return this.update((file) => {
      if (!(name in file.users)) return false;
      file.highWater = highWaterOf(file);
      delete file.users[name];
      return true;
    });
  }

  /** The highest uid and range ever handed out (by this registry or listed in it). */
  async highWater(): Promise<HighWater> {
    await this.queue;
    return highWaterOf(await this.load());
  }

  /** Every user moor removed, oldest first. */
  async removed(): Promise<RemovedUser[]> {
    await this.queue;
    return structuredClone((await this.load()).removed ?? []);
  }

  async get(name: string): Promise<OwnedUser | undefined> {
    await this.queue;
    const entry = (await this.load()).users[name];
    return entry === undefined ? undefined : structuredClone(entry);
  }

  /**
   * Pending counts: moor may have run useradd before it crashed. This is one condition of
   * several for removal; the caller must also check the marker, UID_MIN and protected list.
   */
  async isOwned(name: string): Promise<boolean> {
    await this.queue;
    return (await this.load()).users[name] !== undefined;
  }

  /** Sorted by name. */
  async list(): Promise<OwnedUserEntry[]> {
    await this.queue;
    const { users } = await this.load();
    return Object.keys(users)
      .sort()
      .map((name) => ({ name, ...structuredClone(users[name] as OwnedUser) }));
  }
}
