// The ownership registry (owned-users.json): the users moor created, and so may remove
// (docs/design.md §5). Protocol: recordPending BEFORE useradd, confirm after it. A crash between
// the two leaves a pending entry, so a user moor created is never forgotten; a pending
// entry whose useradd never ran only means "moor may create this name".
import { z } from 'zod';
import type { Clock } from '../core/ports';
import { StateError } from '../core/errors';
import { readJsonIfExists, writeJsonAtomic } from './atomic';
import { assertSafeName, type StateLayout } from './layout';

export const OwnedUser = z.object({
  uid: z.number().int().nonnegative().optional(),
  createdAt: z.iso.datetime({ offset: true }),
  state: z.enum(['pending', 'created']),
});
export type OwnedUser = z.infer<typeof OwnedUser>;

export const OwnedUsersFile = z.object({ users: z.record(z.string(), OwnedUser) });
export type OwnedUsersFile = z.infer<typeof OwnedUsersFile>;

export interface OwnedUserEntry extends OwnedUser {
  name: string;
}

export class OwnedUsersRegistry {
  // Read-modify-write of one file: concurrent callers in this process take turns, or one
  // update could silently undo another.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly layout: StateLayout,
    private readonly clock: Clock,
  ) {}

  private async load(): Promise<OwnedUsersFile> {
    return (await readJsonIfExists(this.layout.ownedUsers, OwnedUsersFile)) ?? { users: {} };
  }

  private update<T>(change: (file: OwnedUsersFile) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const file = await this.load();
      const result = change(file);
      await writeJsonAtomic(this.layout.ownedUsers, file);
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Written before useradd. Re-creating a name drops the old uid: the new user gets its own. */
  recordPending(name: string): Promise<void> {
    assertSafeName('user', name);
    return this.update((file) => {
      const previous = file.users[name];
      file.users[name] = { createdAt: previous?.createdAt ?? this.clock.now().toISOString(), state: 'pending' };
    });
  }

  /** Written once useradd succeeded (or found the user moor had created before a crash). */
  confirm(name: string, uid: number): Promise<void> {
    assertSafeName('user', name);
    return this.update((file) => {
      const entry = file.users[name];
      if (!entry) throw new StateError(`${this.layout.ownedUsers}: cannot confirm ${name}: it was never recorded as pending`);
      file.users[name] = { ...entry, uid, state: 'created' };
    });
  }

  /** After userdel succeeded (or the user turned out not to exist). Returns false if unknown. */
  forget(name: string): Promise<boolean> {
    assertSafeName('user', name);
    return this.update((file) => {
      if (!(name in file.users)) return false;
      delete file.users[name];
      return true;
    });
  }

  async get(name: string): Promise<OwnedUser | undefined> {
    await this.queue;
    return (await this.load()).users[name];
  }

  /**
   * Pending counts: moor may have run useradd before it crashed. This is one condition of
   * several for removal; the caller must also check the marker, UID_MIN and protected list.
   */
  async isOwned(name: string): Promise<boolean> {
    return (await this.get(name)) !== undefined;
  }

  /** Sorted by name. */
  async list(): Promise<OwnedUserEntry[]> {
    await this.queue;
    const { users } = await this.load();
    return Object.keys(users)
      .sort()
      .map((name) => ({ name, ...(users[name] as OwnedUser) }));
  }
}
