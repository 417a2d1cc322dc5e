// Generations keep each workload's files once (docs/design.md §7): a tree under trees/ by
// content, named by every generation that holds it; gc deletes the trees no generation
// names, and a byte budget (gc.max_bytes) bounds the whole, winning over
// min_age and keep_min but never taking the live or pinned generation.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateStore, type StateStore } from '../../daemon/state/store';
import type { GenerationInput } from '../../daemon/state/generations';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let dir: string;
let store: StateStore;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'moor-blobs-'));
  store = await openStateStore(dir);
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const KEEP_ALL = { keepMin: 100, keepMax: 100, minAgeMs: 365 * 86_400_000, maxAgeMs: 3650 * 86_400_000 };

function input(data: string): GenerationInput {
  return {
    kind: 'pass',
    commit: 'c'.repeat(40),
    source: '/srv/git/x.git',
    workloads: { web: { user: 'web', hash: 'h', files: { 'containers/systemd/web.container': '[Container]\nImage=web\n', 'moor/files/web.env': data } } },
  };
}

async function complete(data: string): Promise<number> {
  const id = await store.generations.begin(input(data));
  await store.generations.finish(id, [{ workload: 'web', user: 'web', action: 'create', result: 'ok', durationMs: 1, at: new Date().toISOString() }]);
  return id;
}

describe('content stored once', () => {
  const trees = async () => (await fs.readdir(join(dir, 'trees'))).filter((n) => !n.startsWith('.'));

  it('two generations with the same files share one tree', async () => {
    const big = 'x'.repeat(512 * 1024);
    await complete(big);
    const b = await complete(big);
    expect(await trees()).toHaveLength(1);
    expect((await store.generations.read(b)).workloads.web!.files['moor/files/web.env']).toBe(big);
    expect(await store.generations.bytesOnDisk()).toBeLessThan(1.5 * big.length);
  });

  it('workloads of one generation with the same files, written at once, share one tree', async () => {
    const big = 'z'.repeat(256 * 1024);
    const workloads = Object.fromEntries(
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].map((w) => [w, { user: w, hash: 'h', files: { 'moor/files/shared.env': big } }]),
    );
    const id = await store.generations.begin({ kind: 'pass', commit: 'c'.repeat(40), source: '/srv/git/x.git', workloads });
    expect(await trees()).toHaveLength(1);
    expect(Object.values((await store.generations.read(id)).workloads).map((w) => w.files['moor/files/shared.env'] === big)).toEqual(Array(10).fill(true));
    expect(await store.generations.bytesOnDisk()).toBeLessThan(1.5 * big.length);
  });

  it('gc deletes the trees no generation names any more', async () => {
    const first = await complete('one\n');
    await complete('two\n');
    await complete('three\n');
    expect(await trees()).toHaveLength(3);
    await store.generations.delete(first);
    await store.generations.sweepUnreferenced();
    expect(await trees()).toHaveLength(2);
  });
});

describe('gc.max_bytes', () => {
  it('wins over min_age and keep_min, oldest first, and never takes the live generation', async () => {
    const mb = (n: number) => `${String(n)}`.padEnd(900 * 1024, 'x');
    for (let i = 1; i <= 6; i++) await complete(mb(i));
    const live = await store.generations.current();
    expect(live).toBe(6);
    const report = await store.gc({ ...KEEP_ALL, maxBytes: 2 * 1024 * 1024 });
    expect(report.deleted).toEqual([1, 2, 3, 4]);
    expect(report.decisions.find((d) => d.id === 1)?.reason).toMatch(/gc\.max_bytes/);
    expect(await store.generations.bytesOnDisk()).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(await store.generations.current()).toBe(6);
    // A budget below the live generation keeps the live one anyway.
    await store.gc({ ...KEEP_ALL, maxBytes: 1 });
    expect((await store.generations.list()).map((g) => g.id)).toEqual([6]);
  });

  it('keeps the state dir within the budget over many pushes of a changing 900 KB file', async () => {
    const h = new PassHarness({ config: { gc: { max_bytes: 4 * 1024 * 1024, min_age: 30 * 86_400_000, keep_min: 10 } } });
    try {
      for (let i = 0; i < 20; i++) {
        h.commit({ 'web.container': containerSpec(), 'web.env': `N=${i}\n${'y'.repeat(900 * 1024)}\n` }, `push ${i}`);
        expect((await h.pass()).result.exitCode).toBe(0);
        expect(await (await h.openStore()).generations.bytesOnDisk()).toBeLessThanOrEqual(4 * 1024 * 1024);
      }
      expect((await (await h.openStore()).generations.current())).toBeDefined();
    } finally {
      h.cleanup();
    }
  }, 120_000);
});
