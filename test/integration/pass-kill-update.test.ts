// A pass that updates one workload and removes another, killed before each of its host
// commands and state writes (and after those where that differs); the next pass converges.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PassHarness, Timeline, containerSpec, killAndRecover, killPoints, type KillCase } from '../helpers/pass-harness';

// git is not what these tests kill: each branch is synced for real once, then copied.
vi.mock('../../daemon/host/git', async (importOriginal) =>
  (await import('../helpers/cached-git-sync')).withCachedSync(await importOriginal()),
);

const h = new PassHarness({ memoryTmp: true });
h.commit(
  {
    'api.container': containerSpec('localhost/api:1'),
    'db.container': containerSpec('localhost/db:1'),
    'web.container': containerSpec('localhost/web:1', 'Volume=web-data.volume:/data'),
    'web-data.volume': '[Volume]\n',
  },
  'three workloads',
  'base',
);
h.commit(
  {
    'db.container': containerSpec('localhost/db:1'),
    'web.container': containerSpec('localhost/web:2', 'Volume=web-data.volume:/data'),
    'web-data.volume': '[Volume]\nLabel=v=2\n',
    'web.env': 'MODE=2\n',
  },
  'update web, drop api',
  'main',
);
const base = h.makeConfig({ source: { branch: 'base' } });

const updating: KillCase = {
  async setup(harness) {
    const first = await harness.pass({}, new Timeline(), base);
    if (first.result.exitCode !== 0) throw new Error(`setup pass failed: ${first.result.summary}`);
    // api, which goes, left a process outside its manager and a file in /tmp.
    const api = harness.fake.passwd.get('api')!.uid;
    harness.fake.spawn(api);
    harness.fake.hostFiles.set('/tmp/api-cache', { uid: api });
  },
  desired: { workloads: { db: ['db.service'], web: ['web-data-volume.service', 'web.service'] } },
  hashes: {},
};
const { events, points } = await killPoints(h, updating);
for (const record of await (await h.openStore()).applied.list()) updating.hashes[record.workload] = record.hash;
afterAll(() => h.cleanup());

describe('a pass updating one workload and removing another, killed at every step', () => {
  it('walks through every host command and state write of the pass', () => {
    expect(Object.keys(updating.hashes)).toEqual(['db', 'web']);
    for (const needed of ['run userdel --remove api', 'state applied.write web', 'state ownedUsers.forget api', 'state applied.delete api', 'state gc']) {
      expect(events).toContain(needed);
    }
    expect(points.filter((p) => p.when === 'before')).toHaveLength(events.length);
  });

  it.each(points)('$when step $step ($event)', async (point) => {
    expect(await killAndRecover(h, updating, point)).toEqual([]);
  });
});
