import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../daemon/core/ports';
import type { StatusItem } from '../../daemon/state/generation-records';
import type { GenerationInput } from '../../daemon/state/generations';
import { openStateStore, type StateStore } from '../../daemon/state/store';

function fakeClock(start = '2025-06-01T12:00:00.000Z'): Clock {
  const t = Date.parse(start);
  return { now: () => new Date(t), sleep: async () => undefined };
}

const input: GenerationInput = {
  kind: 'pass',
  commit: 'ab12cd3',
  source: '/srv/git/ops.git',
  workloads: { web: { user: 'web', hash: 'h', files: { 'containers/systemd/web.container': '[Container]\n' } } },
};

function item(result: StatusItem['result'] = 'ok'): StatusItem {
  return { workload: 'web', user: 'web', action: 'update', result, durationMs: 3, at: '2025-06-01T12:00:00.000Z' };
}

let dir: string;
let store: StateStore;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'moor-recovery-'));
  store = await openStateStore(dir, { clock: fakeClock() });
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const states = async () => Object.fromEntries((await store.generations.list()).map((g) => [g.id, g.state]));

describe('recoverAborted', () => {
  it('marks a generation with neither complete nor finishedAt as aborted, and leaves the others', async () => {
    const complete = await store.generations.begin(input);
    await store.generations.finish(complete, [item()]);
    const failed = await store.generations.begin(input);
    await store.generations.finish(failed, [item('failed')]);
    const noStatus = await store.generations.begin(input); // killed before the first item finished
    const halfway = await store.generations.begin(input); // killed after writing some status
    await store.generations.recordStatus(halfway, [item()]);

    const report = await store.generations.recoverAborted();
    expect(report).toEqual({ aborted: [noStatus, halfway], completed: [], current: complete, swept: [] });
    expect(await states()).toEqual({ 1: 'complete', 2: 'failed', 3: 'aborted', 4: 'aborted' });
    expect(JSON.parse(await fs.readFile(join(dir, 'generations/000003/aborted'), 'utf8'))).toEqual({
      at: '2025-06-01T12:00:00.000Z',
    });
    expect((await fs.stat(join(dir, 'generations/000003/aborted'))).mode & 0o777).toBe(0o600);
  });

  it('is idempotent', async () => {
    await store.generations.begin(input);
    await store.generations.recoverAborted();
    expect(await store.generations.recoverAborted()).toEqual({ aborted: [], completed: [], swept: [] });
  });

  it('spares the generation the caller says is in progress', async () => {
    const id = await store.generations.begin(input);
    expect((await store.generations.recoverAborted((g) => g === id)).aborted).toEqual([]);
    expect(await states()).toEqual({ 1: 'in-progress' });
  });

  it('an aborted generation can no longer be written to or completed', async () => {
    const id = await store.generations.begin(input);
    await store.generations.recoverAborted();
    await expect(store.generations.finish(id, [item()])).rejects.toThrow(/aborted; its status is final/);
    await expect(store.generations.markComplete(id)).rejects.toThrow(/aborted/);
  });

  it('marks a generation killed inside begin (no manifest) aborted, dated by its directory', async () => {
    const partial = join(dir, 'generations', '000005', 'units', 'web');
    await fs.mkdir(partial, { recursive: true });
    await fs.writeFile(join(partial, 'half.container'), '[Cont');
    const report = await store.generations.recoverAborted();
    expect(report.aborted).toEqual([5]);
    const [info] = await store.generations.list();
    expect(info?.manifest).toBeUndefined();
    expect(info?.createdAt).toBeInstanceOf(Date);
    await expect(store.generations.read(5)).rejects.toThrow(/no manifest/);
    expect(await store.generations.begin(input)).toBe(6);
  });

  it('completes a generation that finished with every item ok but was killed before `complete`', async () => {
    const first = await store.generations.begin(input);
    await store.generations.finish(first, [item()]);
    const second = await store.generations.begin(input);
    await store.generations.finish(second, [item()]);
    // The crash: `complete` was not yet written, so neither was the swap.
    await fs.rm(join(dir, 'generations/000002/complete'));
    await fs.rm(join(dir, 'current'));
    await fs.symlink('generations/000001', join(dir, 'current'));
    expect(await states()).toEqual({ 1: 'complete', 2: 'failed' });

    const report = await store.generations.recoverAborted();
    expect(report).toMatchObject({ aborted: [], completed: [2], current: 2 });
    expect(await store.generations.current()).toBe(2);
  });

  it('moves current to the newest complete generation when a crash came between `complete` and the swap', async () => {
    const first = await store.generations.begin(input);
    await store.generations.finish(first, [item()]);
    const second = await store.generations.begin(input);
    await store.generations.finish(second, [item()]);
    await fs.rm(join(dir, 'current'));
    await fs.symlink('generations/000001', join(dir, 'current'));
    expect((await store.generations.recoverAborted()).current).toBe(2);
    expect(await fs.readlink(join(dir, 'current'))).toBe('generations/000002');
  });

  it('restores a missing current link, and removes a dangling one when nothing is complete', async () => {
    const id = await store.generations.begin(input);
    await store.generations.finish(id, [item()]);
    await fs.rm(join(dir, 'current'));
    expect((await store.generations.recoverAborted()).current).toBe(id);
    expect(await store.generations.current()).toBe(id);

    await fs.rm(join(dir, 'generations', '000001'), { recursive: true });
    const report = await store.generations.recoverAborted();
    expect(report.current).toBeUndefined();
    expect(await store.generations.current()).toBeUndefined();
  });

  it('sweeps the temporary link of a killed swap and the remains of a killed delete', async () => {
    await fs.symlink('generations/000009', join(dir, 'current.tmp-0123456789ab'));
    await fs.mkdir(join(dir, 'generations', '.deleting-000003-abcd', 'units'), { recursive: true });
    const report = await store.generations.recoverAborted();
    expect(report.swept.sort()).toEqual(['current.tmp-0123456789ab', 'generations/.deleting-000003-abcd']);
    expect(await fs.readdir(dir)).not.toContain('current.tmp-0123456789ab');
    expect(await fs.readdir(join(dir, 'generations'))).toEqual([]);
  });
});
