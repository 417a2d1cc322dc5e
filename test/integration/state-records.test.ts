import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../daemon/core/ports';
import { StateError } from '../../daemon/core/errors';
import { openStateStore, type StateStore } from '../../daemon/state/store';

function fakeClock() {
  let t = Date.parse('2025-06-01T12:00:00.000Z');
  const clock: Clock & { advance(ms: number): void } = {
    now: () => new Date(t),
    sleep: async () => undefined,
    advance: (ms) => {
      t += ms;
    },
  };
  return clock;
}

let dir: string;
let clock: ReturnType<typeof fakeClock>;
let store: StateStore;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'moor-records-'));
  clock = fakeClock();
  store = await openStateStore(dir, { clock });
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const mode = async (path: string) => (await fs.stat(path)).mode & 0o7777;

const record = {
  workload: 'web',
  user: 'web',
  uid: 1001,
  hash: 'sha256:abc',
  hashes: { 'containers/systemd/web.container': 'e3b0c442' },
  generation: 4,
  commit: 'ab12cd3',
};

describe('applied records', () => {
  it('writes, reads, lists and deletes', async () => {
    const written = await store.applied.write(record);
    expect(written.appliedAt).toBe('2025-06-01T12:00:00.000Z');
    await store.applied.write({ ...record, workload: 'api', user: 'api', appliedAt: '2025-05-01T00:00:00.000Z' });
    expect(await store.applied.read('web')).toEqual(written);
    expect((await store.applied.list()).map((r) => r.workload)).toEqual(['api', 'web']);
    expect(await mode(join(dir, 'applied', 'web.json'))).toBe(0o600);
    expect(await store.applied.delete('web')).toBe(true);
    expect(await store.applied.delete('web')).toBe(false);
    expect(await store.applied.read('web')).toBeUndefined();
  });

  it('reads a record written before the file hashes were named `hashes` (`files`), and writes it back as `hashes`', async () => {
    const { hashes, ...rest } = record;
    const legacy = { ...rest, files: hashes, appliedAt: '2025-05-01T00:00:00.000Z' };
    await fs.writeFile(join(dir, 'applied', 'web.json'), JSON.stringify(legacy), { mode: 0o600 });
    const read = await store.applied.read('web');
    expect(read).toEqual({ ...rest, hashes, appliedAt: legacy.appliedAt });
    expect(read).not.toHaveProperty('files');
    await store.applied.write(read!);
    const onDisk = JSON.parse(await fs.readFile(join(dir, 'applied', 'web.json'), 'utf8')) as Record<string, unknown>;
    expect(onDisk.hashes).toEqual(hashes);
    expect(onDisk).not.toHaveProperty('files');
  });

  it('ignores temporary files of interrupted writes when listing', async () => {
    await store.applied.write(record);
    await fs.writeFile(join(dir, 'applied', 'web.json.123456789'), '{"half');
    expect((await store.applied.list()).map((r) => r.workload)).toEqual(['web']);
  });

  it('refuses workload names that are not single safe path segments', async () => {
    for (const name of ['../x', 'a/b', '.hidden', '', 'Web']) {
      await expect(store.applied.read(name)).rejects.toThrow(StateError);
    }
    await expect(store.applied.write({ ...record, hashes: { '../../x': 'h' } })).rejects.toThrow(StateError);
  });

  it('a corrupt record is a StateError naming the file', async () => {
    const path = join(dir, 'applied', 'web.json');
    await fs.writeFile(path, 'not json');
    await expect(store.applied.read('web')).rejects.toThrow(path);
    await expect(store.applied.list()).rejects.toThrow(StateError);
  });

  it('a record filed under another workload name is a StateError', async () => {
    await store.applied.write(record);
    await fs.rename(join(dir, 'applied', 'web.json'), join(dir, 'applied', 'api.json'));
    await expect(store.applied.read('api')).rejects.toThrow(/holds the record of workload "web"/);
  });
});

const WEB_IDS = { uid: 1001, subids: { start: 100000, count: 65536 } };
const ids = (uid: number) => ({ uid, subids: { start: 100000 + (uid - 1000) * 65536, count: 65536 } });

describe('owned users', () => {
  it('goes pending → created → removed, leaving a tombstone', async () => {
    const users = store.ownedUsers;
    expect(await users.isOwned('web')).toBe(false);
    await users.recordPending('web', WEB_IDS);
    expect(await users.isOwned('web')).toBe(true);
    expect(await users.get('web')).toEqual({ ...WEB_IDS, state: 'pending', createdAt: '2025-06-01T12:00:00.000Z' });
    await users.confirm('web', 1001);
    expect(await users.list()).toEqual([
      { name: 'web', ...WEB_IDS, state: 'created', createdAt: '2025-06-01T12:00:00.000Z' },
    ]);
    expect(await mode(join(dir, 'owned-users.json'))).toBe(0o600);
    clock.advance(60_000);
    expect(await users.forget('web')).toBe(true);
    expect(await users.forget('web')).toBe(false);
    expect(await users.isOwned('web')).toBe(false);
    expect(await users.list()).toEqual([]);
    expect(JSON.parse(await fs.readFile(join(dir, 'owned-users.json'), 'utf8'))).toEqual({
      users: {},
      removed: [{ name: 'web', ...WEB_IDS, removedAt: '2025-06-01T12:01:00.000Z' }],
      highWater: { uid: 1001, subidEnd: 165536 },
    });
    expect(await users.highWater()).toEqual({ uid: 1001, subidEnd: 165536 });
  });

  it('keeps the high-water marks when a pending entry is withdrawn (useradd found the name taken)', async () => {
    await store.ownedUsers.recordPending('web', WEB_IDS);
    expect(await store.ownedUsers.withdraw('web')).toBe(true);
    expect(await store.ownedUsers.withdraw('web')).toBe(false);
    expect(await store.ownedUsers.isOwned('web')).toBe(false);
    expect(await store.ownedUsers.removed()).toEqual([]);
    expect(await store.ownedUsers.highWater()).toEqual({ uid: 1001, subidEnd: 165536 });
  });

  it('the marks only ever rise: a second user, then removing both, keeps the highest', async () => {
    await store.ownedUsers.recordPending('web', ids(1005));
    await store.ownedUsers.recordPending('api', ids(1002));
    await store.ownedUsers.confirm('api', 1002);
    await store.ownedUsers.forget('web');
    await store.ownedUsers.forget('api');
    expect(await store.ownedUsers.highWater()).toEqual({ uid: 1005, subidEnd: 100000 + 6 * 65536 });
    expect((await store.ownedUsers.removed()).map((r) => [r.name, r.uid])).toEqual([['web', 1005], ['api', 1002]]);
  });

  it('reads a registry written before tombstones and marks: the marks start from the highest uid in it', async () => {
    const path = join(dir, 'owned-users.json');
    await fs.writeFile(
      path,
      JSON.stringify({
        users: {
          web: { uid: 1003, createdAt: '2025-01-01T00:00:00.000Z', state: 'created' },
          api: { uid: 1001, createdAt: '2025-01-01T00:00:00.000Z', state: 'created' },
          new: { createdAt: '2025-01-01T00:00:00.000Z', state: 'pending' },
        },
      }),
    );
    expect((await store.ownedUsers.list()).map((u) => u.name)).toEqual(['api', 'new', 'web']);
    expect(await store.ownedUsers.highWater()).toEqual({ uid: 1003, subidEnd: 0 });
    expect(await store.ownedUsers.removed()).toEqual([]);
    // Removing a user of that era leaves a tombstone without a range.
    await store.ownedUsers.forget('web');
    expect(await store.ownedUsers.removed()).toEqual([{ name: 'web', uid: 1003, removedAt: '2025-06-01T12:00:00.000Z' }]);
    expect(await store.ownedUsers.highWater()).toEqual({ uid: 1003, subidEnd: 0 });
  });

  it('survives a restart between useradd and confirm: the pending entry and its numbers are on disk', async () => {
    await store.ownedUsers.recordPending('web', WEB_IDS);
    const reopened = await openStateStore(dir, { clock });
    expect(await reopened.ownedUsers.get('web')).toMatchObject({ state: 'pending', ...WEB_IDS });
    expect(await reopened.ownedUsers.highWater()).toEqual({ uid: 1001, subidEnd: 165536 });
    await reopened.ownedUsers.confirm('web', 1001);
    expect(await reopened.ownedUsers.get('web')).toMatchObject({ state: 'created', ...WEB_IDS });
  });

  it('refuses to confirm a user never recorded as pending', async () => {
    await expect(store.ownedUsers.confirm('ghost', 1003)).rejects.toThrow(/never recorded as pending/);
    expect(await store.ownedUsers.list()).toEqual([]);
  });

  it('re-creating a user keeps the first createdAt and takes the new numbers', async () => {
    await store.ownedUsers.recordPending('web', WEB_IDS);
    await store.ownedUsers.confirm('web', 1001);
    clock.advance(60_000);
    await store.ownedUsers.recordPending('web', ids(1002));
    expect(await store.ownedUsers.get('web')).toEqual({ ...ids(1002), state: 'pending', createdAt: '2025-06-01T12:00:00.000Z' });
  });

  it('loses no update when calls overlap', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `user${i}`);
    await Promise.all(names.map((n, i) => store.ownedUsers.recordPending(n, ids(2000 + i))));
    await Promise.all(names.map((n, i) => store.ownedUsers.confirm(n, 2000 + i)));
    const listed = await store.ownedUsers.list();
    expect(listed.map((u) => u.name)).toEqual([...names].sort());
    expect(listed.every((u) => u.state === 'created')).toBe(true);
    expect((await store.ownedUsers.highWater()).uid).toBe(2019);
  });

  it('a failed update does not block the next one', async () => {
    await expect(store.ownedUsers.confirm('ghost', 1)).rejects.toThrow();
    await store.ownedUsers.recordPending('web', WEB_IDS);
    expect(await store.ownedUsers.isOwned('web')).toBe(true);
  });

  it('a corrupt registry is a StateError naming the file', async () => {
    const path = join(dir, 'owned-users.json');
    await fs.writeFile(path, JSON.stringify({ users: { web: { state: 'adopted' } } }));
    await expect(store.ownedUsers.isOwned('web')).rejects.toThrow(path);
    await expect(store.ownedUsers.recordPending('api', WEB_IDS)).rejects.toThrow(StateError);
  });
});

describe('pin', () => {
  it('pins, reads and unpins', async () => {
    expect(await store.pin.read()).toBeUndefined();
    expect(await store.pin.pin(7)).toEqual({ generation: 7, pinnedAt: '2025-06-01T12:00:00.000Z' });
    expect(await store.pin.read()).toEqual({ generation: 7, pinnedAt: '2025-06-01T12:00:00.000Z' });
    expect(await mode(join(dir, 'pin.json'))).toBe(0o600);
    expect(await store.pin.unpin()).toBe(true);
    expect(await store.pin.unpin()).toBe(false);
    expect(await store.pin.read()).toBeUndefined();
  });

  it('a corrupt pin is a StateError naming the file', async () => {
    await fs.writeFile(join(dir, 'pin.json'), '{"generation": 0}');
    await expect(store.pin.read()).rejects.toThrow(join(dir, 'pin.json'));
  });
});

describe('redeploy requests', () => {
  it('requests, lists and clears', async () => {
    await store.redeploy.request('web');
    await store.redeploy.request('api');
    expect(await store.redeploy.has('web')).toBe(true);
    const listed = await store.redeploy.list();
    expect(listed.map((r) => r.workload)).toEqual(['api', 'web']);
    expect(listed[0]?.requestedAt).toBe('2025-06-01T12:00:00.000Z');
    expect(await mode(join(dir, 'redeploy', 'web'))).toBe(0o600);
    expect(await store.redeploy.clear('web')).toBe(true);
    expect(await store.redeploy.clear('web')).toBe(false);
    expect(await store.redeploy.has('web')).toBe(false);
  });

  it('clearing with a token keeps a request made after the pass read the list', async () => {
    const seen = await store.redeploy.request('web');
    const again = await store.redeploy.request('web');
    expect(await store.redeploy.clear('web', seen.token)).toBe(false);
    expect(await store.redeploy.has('web')).toBe(true);
    expect(await store.redeploy.clear('web', again.token)).toBe(true);
    expect(await store.redeploy.list()).toEqual([]);
  });

  it('ignores temporary files and refuses unsafe names', async () => {
    await fs.writeFile(join(dir, 'redeploy', 'web.4242'), '');
    expect(await store.redeploy.list()).toEqual([]);
    await expect(store.redeploy.request('../../etc/x')).rejects.toThrow(StateError);
  });
});
