import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../daemon/core/ports';
import { StateError } from '../../daemon/core/errors';
import { swapCurrentLink } from '../../daemon/state/current-link';
import type { StatusItem } from '../../daemon/state/generation-records';
import type { GenerationInput } from '../../daemon/state/generations';
import { treeId } from '../../daemon/state/trees';
import { openStateStore, type StateStore } from '../../daemon/state/store';

const DAY = 86_400_000;

function fakeClock(start = '2025-06-01T12:00:00.000Z') {
  let t = Date.parse(start);
  const clock: Clock & { advance(ms: number): void } = {
    now: () => new Date(t),
    sleep: async (ms) => {
      t += ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
  return clock;
}

function input(overrides: Partial<GenerationInput> = {}): GenerationInput {
  return {
    kind: 'pass',
    commit: 'ab12cd3',
    source: 'https://git.example/ops.git',
    workloads: {
      web: {
        user: 'web',
        hash: 'h-web',
        files: {
          'containers/systemd/web.container': '[Container]\nImage=nginx\n',
          'containers/systemd/web-cache.volume': '[Volume]\n',
        },
      },
      api: { user: 'api', hash: 'h-api', files: { 'containers/systemd/api.container': '[Container]\nImage=api\n' } },
    },
    ...overrides,
  };
}

function item(workload: string, result: StatusItem['result'] = 'ok'): StatusItem {
  return {
    workload,
    user: workload,
    uid: 1001,
    action: 'create',
    result,
    ...(result === 'failed' ? { error: 'boom' } : {}),
    durationMs: 12,
    at: '2025-06-01T12:00:01.000Z',
  };
}

const okItems = [item('api'), item('web')];

let dir: string;
let clock: ReturnType<typeof fakeClock>;
let store: StateStore;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'moor-gens-'));
  clock = fakeClock();
  store = await openStateStore(dir, { clock });
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const mode = async (path: string) => (await fs.lstat(path)).mode & 0o7777;

describe('begin', () => {
  it('allocates 000001 and writes the tree of each workload and the manifest naming it', async () => {
    const id = await store.generations.begin(input());
    expect(id).toBe(1);
    const gen = join(dir, 'generations', '000001');
    const manifest = JSON.parse(await fs.readFile(join(gen, 'manifest.json'), 'utf8'));
    expect(await fs.readFile(join(dir, 'trees', manifest.workloads.web.tree, 'containers/systemd/web.container'), 'utf8')).toBe(
      '[Container]\nImage=nginx\n',
    );
    expect(manifest.workloads.web.tree).toBe(treeId(input().workloads.web!.files));
    expect(await fs.readdir(gen)).toEqual(['manifest.json']);
    expect(manifest).toEqual({
      generation: 1,
      kind: 'pass',
      commit: 'ab12cd3',
      source: 'https://git.example/ops.git',
      startedAt: '2025-06-01T12:00:00.000Z',
      workloads: {
        api: { user: 'api', hash: 'h-api', files: ['containers/systemd/api.container'], tree: treeId(input().workloads.api!.files) },
        web: {
          user: 'web',
          hash: 'h-web',
          files: ['containers/systemd/web-cache.volume', 'containers/systemd/web.container'],
          tree: expect.stringMatching(/^[0-9a-f]{64}-33$/),
        },
      },
    });
    const [info] = await store.generations.list();
    expect(info).toMatchObject({ id: 1, state: 'in-progress', createdAt: new Date('2025-06-01T12:00:00.000Z') });
  });

  it('writes every file 0600 and every directory 0700', async () => {
    const old = process.umask(0o022);
    try {
      const id = await store.generations.begin(input());
      await store.generations.finish(id, okItems);
    } finally {
      process.umask(old);
    }
    const walk = async (path: string): Promise<void> => {
      const stat = await fs.lstat(path);
      if (stat.isSymbolicLink()) return;
      expect([path, stat.mode & 0o7777]).toEqual([path, stat.isDirectory() ? 0o700 : 0o600]);
      if (stat.isDirectory()) for (const name of await fs.readdir(path)) await walk(join(path, name));
    };
    await walk(dir);
  });

  it('rejects names and paths that would leave their tree, allocating nothing', async () => {
    const bad: GenerationInput[] = [
      input({ workloads: { web: { user: '../root', hash: 'h', files: { a: '' } } } }),
      input({ workloads: { web: { user: 'web', hash: 'h', files: { '../../../etc/passwd': '' } } } }),
      input({ workloads: { web: { user: 'web', hash: 'h', files: { '/etc/passwd': '' } } } }),
      input({ workloads: { web: { user: 'web', hash: 'h', files: { 'a//b': '' } } } }),
      input({ workloads: { 'We/b': { user: 'web', hash: 'h', files: {} } } }),
      input({
        workloads: {
          a: { user: 'same', hash: 'h', files: { 'x.env': '1' } },
          b: { user: 'same', hash: 'h', files: { 'x.env': '2' } },
        },
      }),
    ];
    for (const b of bad) await expect(store.generations.begin(b)).rejects.toThrow(StateError);
    expect(await store.generations.list()).toEqual([]);
    expect(await store.generations.begin(input())).toBe(1);
  });
});

describe('status and completion', () => {
  it('records status progressively, then completes and swaps current', async () => {
    const id = await store.generations.begin(input());
    await store.generations.recordStatus(id, [item('api')]);
    let info = await store.generations.info(id);
    expect(info?.state).toBe('in-progress');
    expect(info?.status?.items).toHaveLength(1);
    expect(info?.status?.finishedAt).toBeUndefined();
    expect(await store.generations.current()).toBeUndefined();

    clock.advance(5_000);
    expect(await store.generations.finish(id, okItems)).toBe('complete');
    info = await store.generations.info(id);
    expect(info?.state).toBe('complete');
    expect(info?.status?.finishedAt).toBe('2025-06-01T12:00:05.000Z');
    expect(await store.generations.current()).toBe(id);
    expect(await fs.readlink(join(dir, 'current'))).toBe('generations/000001');
    const manifest = JSON.parse(await fs.readFile(join(dir, 'current', 'manifest.json'), 'utf8'));
    expect(await fs.readFile(join(dir, 'trees', manifest.workloads.api.tree, 'containers/systemd/api.container'), 'utf8')).toContain('Image=api');
  });

  it('a failed item leaves the generation failed and current where it was', async () => {
    const first = await store.generations.begin(input());
    await store.generations.finish(first, okItems);
    const second = await store.generations.begin(input({ commit: 'ef45' }));
    expect(await store.generations.finish(second, [item('api'), item('web', 'failed')])).toBe('failed');
    expect((await store.generations.info(second))?.state).toBe('failed');
    expect(await fs.stat(join(dir, 'generations/000002/complete')).catch(() => undefined)).toBeUndefined();
    expect(await store.generations.current()).toBe(first);
  });

  it('a pass that stopped before every workload had an item is not complete', async () => {
    const id = await store.generations.begin(input());
    expect(await store.generations.finish(id, [item('api')])).toBe('failed');
    expect(await store.generations.current()).toBeUndefined();
  });

  it('refuses to complete an unfinished or failed generation, and to rewrite a final status', async () => {
    const id = await store.generations.begin(input());
    await store.generations.recordStatus(id, okItems);
    await expect(store.generations.markComplete(id)).rejects.toThrow(/has not finished/);
    await store.generations.finish(id, [item('api', 'failed'), item('web')]);
    await expect(store.generations.markComplete(id)).rejects.toThrow(/not applied successfully/);
    await expect(store.generations.recordStatus(id, okItems)).rejects.toThrow(/is failed; its status is final/);
    await expect(store.generations.recordStatus(99, okItems)).rejects.toThrow(/generation 99 does not exist/);
  });

  it('rejects an invalid status item instead of writing a file it could not read back', async () => {
    const id = await store.generations.begin(input());
    await expect(store.generations.recordStatus(id, [{ ...item('api'), durationMs: -1 }])).rejects.toThrow(StateError);
  });

  it('current only moves forward', async () => {
    const older = await store.generations.begin(input());
    const newer = await store.generations.begin(input());
    await store.generations.finish(newer, okItems);
    await store.generations.finish(older, okItems);
    expect(await store.generations.current()).toBe(newer);
  });
});

describe('numbering', () => {
  it('never reuses a number, even after the newest generations were deleted', async () => {
    for (let i = 0; i < 3; i++) await store.generations.begin(input());
    expect(await store.generations.delete(3)).toBe(true);
    expect(await store.generations.delete(2)).toBe(true);
    expect(await store.generations.begin(input())).toBe(4);
    for (const id of [1, 4]) expect(await store.generations.delete(id)).toBe(true);
    expect(await store.generations.list()).toEqual([]);
    expect(await store.generations.begin(input())).toBe(5);
  });

  it('never reuses a number after GC removed an aborted newest generation', async () => {
    const done = await store.generations.begin(input());
    await store.generations.finish(done, okItems);
    await store.generations.begin(input()); // crashes: no status
    await store.generations.recoverAborted();
    // min_age 0: an aborted generation goes only once past min_age.
    const report = await store.gc({ keepMin: 3, keepMax: 10, minAgeMs: 0, maxAgeMs: 30 * DAY });
    expect(report.deleted).toEqual([2]);
    expect(await store.generations.begin(input())).toBe(3);
  });

  it('stays above surviving directories if the sequence file is lost', async () => {
    for (let i = 0; i < 2; i++) await store.generations.begin(input());
    await fs.rm(join(dir, 'generations', 'sequence.json'));
    expect(await store.generations.begin(input())).toBe(3);
  });

  it('names directories with six digits and more when needed', async () => {
    await fs.writeFile(join(dir, 'generations', 'sequence.json'), JSON.stringify({ last: 999_999 }));
    expect(await store.generations.begin(input())).toBe(1_000_000);
    expect(await fs.readdir(join(dir, 'generations'))).toContain('1000000');
    expect((await store.generations.list()).map((g) => g.id)).toEqual([1_000_000]);
  });
});

describe('read and delete', () => {
  it('reads back the rendered files, as a rollback re-applies them', async () => {
    const id = await store.generations.begin(input());
    await store.generations.finish(id, okItems);
    const content = await store.generations.read(id);
    expect(content.workloads).toEqual(input().workloads);
    const rollback = await store.generations.begin({
      kind: 'rollback',
      rollbackOf: id,
      commit: content.manifest.commit,
      source: content.manifest.source,
      workloads: content.workloads,
    });
    expect((await store.generations.read(rollback)).manifest).toMatchObject({ kind: 'rollback', rollbackOf: id });
    expect((await store.generations.read(rollback)).workloads).toEqual(content.workloads);
  });

  it('reports a missing generation, or a file of a tree missing or changed, as a StateError naming it', async () => {
    await expect(store.generations.read(7)).rejects.toThrow(/generation 7 does not exist/);
    const id = await store.generations.begin(input());
    const tree = join(dir, 'trees', treeId(input().workloads.api!.files));
    const path = join(tree, 'containers/systemd/api.container');
    await fs.writeFile(path, '[Container]\nImage=evil\n');
    await expect(store.generations.read(id)).rejects.toThrow(`${tree}: its files do not match its name`);
    await fs.rm(path);
    await expect(store.generations.read(id)).rejects.toThrow(path);
    await expect(store.generations.read(id)).rejects.toBeInstanceOf(StateError);
  });

  it('refuses to delete the current generation', async () => {
    const id = await store.generations.begin(input());
    await store.generations.finish(id, okItems);
    await expect(store.generations.delete(id)).rejects.toThrow(/is current/);
    expect(await store.generations.delete(42)).toBe(false);
  });

  it('a corrupt manifest makes its generation corrupt, naming the file; reading it is a StateError', async () => {
    await store.generations.begin(input());
    const path = join(dir, 'generations', '000001', 'manifest.json');
    await fs.writeFile(path, '{"generation": 1, "kind"');
    const [info] = await store.generations.list();
    expect(info).toMatchObject({ id: 1, state: 'corrupt', problem: expect.stringContaining(path) });
    await expect(store.generations.read(1)).rejects.toBeInstanceOf(StateError);
    await expect(store.generations.read(1)).rejects.toThrow(path);
  });

  it('a corrupt status.json makes its generation corrupt, naming the file', async () => {
    const id = await store.generations.begin(input());
    const path = join(dir, 'generations', '000001', 'status.json');
    await fs.writeFile(path, JSON.stringify({ generation: id, items: 'many' }));
    expect(await store.generations.info(id)).toMatchObject({ state: 'corrupt', problem: expect.stringContaining(path) });
    await expect(store.generations.read(id)).rejects.toThrow(path);
  });

  it('current pointing at a generation that is not complete is a StateError', async () => {
    await store.generations.begin(input());
    await fs.symlink('generations/000001', join(dir, 'current'));
    await expect(store.generations.current()).rejects.toThrow(/not complete/);
  });
});

describe('the current swap', () => {
  it('replaces the link by rename: the symlink is never absent, even to another process', async () => {
    for (let i = 0; i < 2; i++) {
      const id = await store.generations.begin(input());
      await store.generations.finish(id, okItems);
    }
    const stop = join(dir, 'stop');
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs'); const [link, stop] = process.argv.slice(1);
         let reads = 0, missing = 0; const seen = new Set();
         console.log('ready');
         while (!fs.existsSync(stop)) {
           try { seen.add(fs.readlinkSync(link)); reads++; } catch (e) { missing++; }
         }
         console.log(JSON.stringify({ reads, missing, seen: [...seen].sort() }));`,
        join(dir, 'current'),
        stop,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise<void>((resolve) => reader.stdout.once('data', () => resolve()));
    const layout = store.layout;
    for (let i = 0; i < 300; i++) await swapCurrentLink(layout, (i % 2) + 1);
    await fs.writeFile(stop, '');
    await new Promise((resolve) => reader.once('exit', resolve));
    const result = JSON.parse(out.trim().split('\n').at(-1) as string) as {
      reads: number;
      missing: number;
      seen: string[];
    };
    expect(result.missing).toBe(0);
    expect(result.reads).toBeGreaterThan(0);
    expect(result.seen).toEqual(expect.arrayContaining(['generations/000002']));
    for (const target of result.seen) expect(['generations/000001', 'generations/000002']).toContain(target);
    expect((await fs.readdir(dir)).filter((n) => n.startsWith('current.'))).toEqual([]);
  });

  it('is a relative symlink that always names a complete generation', async () => {
    for (let i = 0; i < 3; i++) {
      const id = await store.generations.begin(input());
      if (i !== 1) await store.generations.finish(id, okItems);
      else await store.generations.finish(id, [item('web', 'failed'), item('api')]);
      const current = await store.generations.current();
      expect(current).toBe(i === 1 ? 1 : id);
      expect((await fs.lstat(join(dir, 'current'))).isSymbolicLink()).toBe(true);
      await fs.access(join(dir, 'current', 'complete'));
    }
  });
});
