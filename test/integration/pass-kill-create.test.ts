// A pass killed at every step (DESIGN §7, §13): a pass creating two workloads is abandoned
// before each of its host commands and state writes (and after those where that differs);
// the next pass, a new process over the same host and state dir, converges.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PassHarness, containerSpec, killAndRecover, killPoints, type KillCase } from '../helpers/pass-harness';

// git is not what these tests kill (the other pass tests sync for real every time): each
// source and branch is synced for real once, and its checkout copied into later state dirs.
vi.mock('../../daemon/host/git', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../daemon/host/git')>();
  const { cpSync, rmSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  const synced = new Map<string, { template: string; result: Awaited<ReturnType<typeof real.syncRepo>> }>();
  return {
    ...real,
    async syncRepo(options: Parameters<typeof real.syncRepo>[0]) {
      const known = synced.get(`${options.url}#${options.branch}`);
      if (known) {
        rmSync(options.dir, { recursive: true, force: true });
        cpSync(known.template, options.dir, { recursive: true });
        return known.result;
      }
      const result = await real.syncRepo(options);
      const template = join(dirname(dirname(options.dir)), `synced-${synced.size}`);
      cpSync(options.dir, template, { recursive: true });
      synced.set(`${options.url}#${options.branch}`, { template, result });
      return result;
    },
  };
});

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
