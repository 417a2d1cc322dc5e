// A corrupt generation stops nothing (docs/design.md §7): an unreadable record is reported,
// moved aside into quarantine/ by the next holder of the lock, and every pass, gc, status
// and history go on. Passes over the fake host, real files in the state dir.
import { truncateSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateError } from '../../daemon/core/errors';
import type { Manifest } from '../../daemon/state/generation-records';
import { generationRows, statusReport } from '../../daemon/state/reports';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const manifest = (id: number) => join(h.stateDir, 'generations', String(id).padStart(6, '0'), 'manifest.json');

async function threeGenerations(): Promise<void> {
  for (const tag of ['1', '2', '3']) {
    h.commit({ 'web.container': containerSpec(`localhost/web:${tag}`) }, `v${tag}`);
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generationState: 'complete' });
  }
}

/** The next pass (over a new commit) moves generation 1 to quarantine/, says so at error priority, and converges. */
async function expectFirstQuarantined(problem: RegExp): Promise<void> {
  h.commit({ 'web.container': containerSpec('localhost/web:4') }, 'v4');
  const { result } = await h.pass();
  expect(result).toMatchObject({ exitCode: 0, generation: 4, generationState: 'complete' });
  expect(h.logs.some((l) => l.startsWith('<3>generation 1 is corrupt: moved to quarantine/'))).toBe(true);
  const rows = await generationRows(await h.openStore());
  expect(rows.map((r) => [r.generation, r.state])).toEqual([
    [1, 'quarantined'],
    [2, 'complete'],
    [3, 'complete'],
    [4, 'complete'],
  ]);
  expect(rows[0]!.problem).toMatch(problem);
}

describe('a truncated manifest in an old generation', () => {
  it('leaves status and the history readable, the generation shown as corrupt', async () => {
    await threeGenerations();
    truncateSync(manifest(1), 20);
    const store = await h.openStore();
    const report = await statusReport(store);
    expect(report.live).toMatchObject({ generation: 3 });
    const rows = await generationRows(store);
    expect(rows.map((r) => [r.generation, r.state])).toEqual([
      [1, 'corrupt'],
      [2, 'complete'],
      [3, 'complete'],
    ]);
    expect(rows[0]!.problem).toMatch(/manifest\.json: corrupt JSON/);
  });

  it('the next pass quarantines it, logs it at error priority, and converges', async () => {
    await threeGenerations();
    truncateSync(manifest(1), 20);
    await expectFirstQuarantined(/corrupt JSON/);
  });

  it('gc quarantines it and then judges the rest', async () => {
    await threeGenerations();
    writeFileSync(manifest(2), '{"generation": "two"}');
    const store = await h.openStore();
    const report = await store.gc({ keepMin: 1, keepMax: 1, minAgeMs: 0, maxAgeMs: 1 });
    expect(report.deleted).toEqual([1]);
    expect((await store.generations.listQuarantined()).map((q) => q.id)).toEqual([2]);
    expect((await store.generations.list()).map((g) => g.id)).toEqual([3]);
  });
});

describe('a corrupt live generation', () => {
  it('is reported clearly by status, and the next pass re-derives a live one', async () => {
    await threeGenerations();
    truncateSync(manifest(3), 5);
    const before = await statusReport(await h.openStore());
    expect(before.live).toBeUndefined();
    expect(before.liveCorrupt).toMatchObject({ generation: 3, problem: expect.stringMatching(/corrupt JSON/) });

    // Nothing changed in the repo: the host is in step, and the pass records it anew.
    const { result } = await h.pass();
    expect(result).toMatchObject({ exitCode: 0, generation: 4, generationState: 'complete' });
    const after = await statusReport(await h.openStore());
    expect(after.live).toMatchObject({ generation: 4 });
    expect(after.liveCorrupt).toBeUndefined();
    expect(after.live?.commit).toBe(result.commit);
  });
});

describe('a missing workload tree (trees/, docs/design.md §7)', () => {
  const treesDir = () => join(h.stateDir, 'trees');
  const treeOf = async (id: number) => (JSON.parse(await readFile(manifest(id), 'utf8')) as Manifest).workloads.web!.tree!;

  it('makes its generation corrupt, naming the tree; the next pass quarantines it and goes on', async () => {
    await threeGenerations();
    const tree = await treeOf(1);
    await rm(join(treesDir(), tree), { recursive: true });
    const store = await h.openStore();
    expect(await store.generations.info(1)).toMatchObject({ state: 'corrupt', problem: expect.stringContaining(join(treesDir(), tree)) });
    await expect(store.generations.read(1)).rejects.toBeInstanceOf(StateError);
    await expectFirstQuarantined(/the files of workload web in generation 1 are missing/);
  });

  it('of the live generation is reported by status, and the next pass re-derives a live one', async () => {
    await threeGenerations();
    await rm(join(treesDir(), await treeOf(3)), { recursive: true });
    expect((await statusReport(await h.openStore())).liveCorrupt).toMatchObject({ generation: 3 });
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 4, generationState: 'complete' });
    const after = await statusReport(await h.openStore());
    expect(after.live).toMatchObject({ generation: 4 });
    expect((await (await h.openStore()).generations.read(4)).workloads.web!.files['containers/systemd/web.container']).toBe(containerSpec('localhost/web:3'));
  });
});
