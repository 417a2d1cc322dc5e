// A pass killed at every step (docs/design.md §7, §13): a pass creating two workloads is abandoned
// before each of its host commands and state writes (and after those where that differs);
// the next pass, a new process over the same host and state dir, converges.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PassHarness, containerSpec, killAndRecover, killPoints, type KillCase } from '../helpers/pass-harness';

// git is not what these tests kill: each branch is synced for real once, then copied.
vi.mock('../../daemon/host/git', async (importOriginal) =>
  (await import('../helpers/cached-git-sync')).withCachedSync(await importOriginal()),
);

const h = new PassHarness({ memoryTmp: true });
h.commit({
  'api.container': containerSpec('localhost/api:1'),
  'web.container': containerSpec('localhost/web:1', 'Volume=web-data.volume:/data'),
  'web-data.volume': '[Volume]\n',
});

const creating: KillCase = {
  setup: async () => undefined,
  desired: { workloads: { api: ['api.service'], web: ['web-data-volume.service', 'web.service'] } },
  hashes: {},
};
const { events, points } = await killPoints(h, creating);
for (const record of await (await h.openStore()).applied.list()) creating.hashes[record.workload] = record.hash;
afterAll(() => h.cleanup());

describe('a pass creating two workloads, killed at every step', () => {
  it('walks through every host command and state write of the pass', () => {
    expect(Object.keys(creating.hashes)).toEqual(['api', 'web']);
    const runs = events.filter((e) => e.startsWith('run '));
    expect(runs.length).toBeGreaterThan(25);
    expect(points.filter((p) => p.when === 'before')).toHaveLength(events.length);
    for (const needed of ['state generations.begin', 'state ownedUsers.recordPending web', 'state applied.write web', 'state generations.finish 1', 'state gc']) {
      expect(events).toContain(needed);
    }
  });

  it.each(points)('$when step $step ($event)', async (point) => {
    expect(await killAndRecover(h, creating, point)).toEqual([]);
  });
});
