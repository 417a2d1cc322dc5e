import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GcPolicy } from '../../daemon/core/gc-policy';
import type { Clock } from '../../daemon/core/ports';
import type { StatusItem } from '../../daemon/state/generation-records';
import type { GenerationInput } from '../../daemon/state/generations';
import { openStateStore, type StateStore } from '../../daemon/state/store';

const DAY = 86_400_000;
const POLICY: GcPolicy = { keepMin: 2, keepMax: 4, minAgeMs: 7 * DAY, maxAgeMs: 30 * DAY };

function fakeClock() {
  let t = Date.parse('2025-01-01T00:00:00.000Z');
  const clock: Clock & { advance(ms: number): void } = {
    now: () => new Date(t),
    sleep: async () => undefined,
    advance: (ms) => {
      t += ms;
    },
  };
  return clock;
}

const input: GenerationInput = {
  kind: 'pass',
  commit: 'c0ffee1',
  source: '/srv/git/ops.git',
  workloads: { web: { user: 'web', hash: 'h', files: { 'containers/systemd/web.container': '[Container]\n' } } },
};

const item = (result: StatusItem['result']): StatusItem => ({
  workload: 'web',
  user: 'web',
  action: 'update',
  result,
  durationMs: 1,
  at: '2025-01-01T00:00:00.000Z',
});

let dir: string;
let clock: ReturnType<typeof fakeClock>;
let store: StateStore;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'moor-gc-'));
  clock = fakeClock();
  store = await openStateStore(dir, { clock });
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** One generation per outcome, a day apart. */
async function history(outcomes: ('complete' | 'failed' | 'crash')[]): Promise<void> {
  for (const outcome of outcomes) {
    const id = await store.generations.begin(input);
    if (outcome === 'complete') await store.generations.finish(id, [item('ok')]);
    if (outcome === 'failed') await store.generations.finish(id, [item('failed')]);
    clock.advance(DAY);
  }
  await store.generations.recoverAborted();
}

const dirs = async () => (await fs.readdir(join(dir, 'generations'))).filter((n) => /^\d+$/.test(n)).map(Number);

describe('StateStore.gc', () => {
  it('deletes exactly the directories the policy selects', async () => {
    // 1-6 complete, 7 failed, 8 crashed, 9 failed, 10-11 complete, one a day.
    const six = Array<'complete'>(6).fill('complete');
    await history([...six, 'failed', 'crash', 'failed', 'complete', 'complete']);
    clock.advance(20 * DAY); // 11 is now 21 days old, 1 is 31
    const report = await store.gc(POLICY);
    // 11,10 keep_min; 6,5 fill keep_max; 4..1 beyond it; 7 older failed; 8 aborted; 9 newest failed.
    expect(report.deleted).toEqual([1, 2, 3, 4, 7, 8]);
    expect(await dirs()).toEqual([5, 6, 9, 10, 11]);
    expect(report.decisions.find((d) => d.id === 9)?.reason).toContain('diagnosis');
    expect(await store.generations.current()).toBe(11);
  });

  it('never deletes current or the pinned generation', async () => {
    await history(['complete', 'complete', 'complete', 'complete', 'complete']);
    await store.pin.pin(1);
    clock.advance(100 * DAY);
    const report = await store.gc({ keepMin: 0, keepMax: 0, minAgeMs: 0, maxAgeMs: 0 });
    expect(report.deleted).toEqual([2, 3, 4]);
    expect(await dirs()).toEqual([1, 5]);
    expect(await store.generations.current()).toBe(5);
    expect((await store.generations.read(1)).workloads).toEqual(input.workloads);
  });

  it('keeps everything younger than min_age', async () => {
    await history(['complete', 'complete', 'complete', 'complete', 'complete', 'complete']);
    expect((await store.gc(POLICY)).deleted).toEqual([]);
    expect(await dirs()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('does not touch the generation of a pass in progress', async () => {
    await history(['complete']);
    const running = await store.generations.begin(input);
    clock.advance(100 * DAY);
    const report = await store.gc({ keepMin: 0, keepMax: 0, minAgeMs: 0, maxAgeMs: 0 });
    expect(report.deleted).toEqual([]);
    expect(await dirs()).toEqual([1, running]);
  });

  it('numbers continue after GC', async () => {
    await history(['complete', 'complete', 'crash']);
    clock.advance(100 * DAY);
    expect((await store.gc({ keepMin: 1, keepMax: 1, minAgeMs: 0, maxAgeMs: 0 })).deleted).toEqual([1, 3]);
    expect(await store.generations.begin(input)).toBe(4);
  });

  it('sweeps temporary files of writes killed long ago, and spares fresh ones', async () => {
    const stale = [join(dir, 'owned-users.json.11'), join(dir, 'applied', 'web.json.22'), join(dir, 'redeploy', 'web.33')];
    for (const path of stale) {
      await fs.writeFile(path, '');
      const old = new Date(Date.now() - 2 * 3_600_000);
      await fs.utimes(path, old, old);
    }
    const fresh = join(dir, 'pin.json.44');
    await fs.writeFile(fresh, '');
    const keep = join(dir, 'applied', 'notes.txt');
    await fs.writeFile(keep, '');
    const report = await store.gc(POLICY, new Date());
    expect(report.swept.sort()).toEqual(['applied/web.json.22', 'owned-users.json.11', 'redeploy/web.33']);
    await fs.access(fresh);
    await fs.access(keep);
  });
});
