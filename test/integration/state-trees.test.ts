// Workload trees (docs/design.md §7): a generation names each workload's tree, trees/<id>,
// written once by content. A pass that changes one workload writes one tree; a crash
// between the trees and the manifest leaves nothing a reader trusts (a generation whose
// tree is gone: state-corrupt.test.ts); and generations of the old layout (units/ of
// hard links to blobs/) are still read, rolled back to and collected.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../../daemon/state/generation-records';
import { treeId } from '../../daemon/state/trees';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const genDir = (id: number) => join(h.stateDir, 'generations', String(id).padStart(6, '0'));
const treesDir = () => join(h.stateDir, 'trees');
const manifestOf = async (id: number) => JSON.parse(await fs.readFile(join(genDir(id), 'manifest.json'), 'utf8')) as Manifest;
const listTrees = async () => (await fs.readdir(treesDir()).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

const five = (webTag: string) =>
  Object.fromEntries(['api', 'db', 'cache', 'queue', 'web'].map((w) => [`${w}.container`, containerSpec(`localhost/${w}:${w === 'web' ? webTag : '1'}`)]));

describe('a pass', () => {
  it('changing one workload of five writes that workload’s tree and the generation’s records, nothing per other workload', async () => {
    h.commit(five('1'), 'v1');
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 1, generationState: 'complete' });
    const before = await listTrees();
    expect(before).toHaveLength(5);

    h.commit(five('2'), 'v2');
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 2, generationState: 'complete' });
    const written = (await listTrees()).filter((t) => !before.includes(t));
    expect(written).toEqual([(await manifestOf(2)).workloads.web!.tree]);
    expect(await filesUnder(join(treesDir(), written[0]!))).toEqual(['containers/systemd/web.container']);
    // The generation itself: its records, no file of any workload.
    expect(await filesUnder(genDir(2))).toEqual(['complete', 'manifest.json', 'status.json']);
    // The four unchanged workloads name the trees generation 1 wrote.
    const [m1, m2] = [await manifestOf(1), await manifestOf(2)];
    for (const w of ['api', 'cache', 'db', 'queue']) expect(m2.workloads[w]!.tree).toBe(m1.workloads[w]!.tree);
    expect((await (await h.openStore()).generations.read(2)).workloads.web!.files['containers/systemd/web.container']).toBe(containerSpec('localhost/web:2'));
  });

  it('records the files a new workload was applied with when they differ from the plan’s (its uid known only then), and a rollback re-applies those', async () => {
    const spec = containerSpec('localhost/web:1', 'Environment=OWNER={{uid}}');
    h.commit({ 'web.container': spec }, 'v1');
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 1, generationState: 'complete' });
    const store = await h.openStore();
    const applied = (await store.generations.read(1)).workloads.web!.files['containers/systemd/web.container'];
    expect(applied).toContain('Environment=OWNER=1000');
    const entries = await fs.readdir(join(genDir(1), 'applied-trees'));
    expect(entries).toEqual([`web.${treeId({ 'containers/systemd/web.container': applied! })}`]);

    h.commit({ 'web.container': containerSpec('localhost/web:2', 'Environment=OWNER={{uid}}') }, 'v2');
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 2 });
    await (await h.openStore()).pin.pin(1);
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 3, kind: 'rollback', rollbackOf: 1 });
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(applied);
  });
});

describe('a crash', () => {
  it('between writing the trees and the manifest leaves a generation that is aborted, and trees gc deletes', async () => {
    const store = await h.openStore();
    const files = { 'containers/systemd/web.container': containerSpec('localhost/web:9') };
    const input = { kind: 'pass' as const, commit: 'c'.repeat(40), source: '/srv/git/x.git', workloads: { web: { user: 'web', hash: 'h', files } } };
    // A manifest that cannot be written: begin stops after the trees, as a kill there would.
    await expect(store.generations.begin({ ...input, kind: 'bogus' as never })).rejects.toThrow();
    expect(await listTrees()).toEqual([treeId(files)]);
    expect(await fs.readdir(genDir(1))).toEqual([]);

    const recovery = await store.generations.recoverAborted();
    h.clock.ms += 86_400_000;
    expect(recovery.aborted).toEqual([1]);
    await expect(store.generations.read(1)).rejects.toThrow(/has no manifest/);
    await store.gc({ keepMin: 1, keepMax: 1, minAgeMs: 0, maxAgeMs: 1 });
    expect(await store.generations.list()).toEqual([]);
    expect(await listTrees()).toEqual([]);
  });

  it('inside a tree write leaves a temporary tree that recovery removes, and the tree is written whole next time', async () => {
    const files = { 'containers/systemd/web.container': containerSpec('localhost/web:1') };
    const partial = join(treesDir(), `.tmp-${treeId(files).slice(0, 16)}-0badc0de`);
    await fs.mkdir(join(partial, 'containers/systemd'), { recursive: true });
    await fs.writeFile(join(partial, 'containers/systemd/web.container'), '[Conta');
    h.commit({ 'web.container': files['containers/systemd/web.container'] }, 'v1');
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generationState: 'complete' });
    expect(await fs.readdir(treesDir())).toEqual([treeId(files)]);
    expect((await (await h.openStore()).generations.read(1)).workloads.web!.files).toEqual(files);
  });
});

/**
 * Turns every generation into the layout before trees, as a host upgraded from it has
 * them: files under units/<user>/ hard-linked to blobs/<sha256>, manifests without `tree`,
 * no trees/.
 */
async function toOldLayout(): Promise<void> {
  const store = await h.openStore();
  const blobs = join(h.stateDir, 'blobs');
  await fs.mkdir(blobs, { recursive: true, mode: 0o700 });
  for (const g of await store.generations.list()) {
    const content = await store.generations.read(g.id);
    // The store's records are shared by its readers (state/parsed-files.ts): changed on a copy.
    const manifest = structuredClone(content.manifest);
    for (const [name, w] of Object.entries(content.workloads)) {
      for (const [relPath, text] of Object.entries(w.files)) {
        const blob = join(blobs, createHash('sha256').update(text, 'utf8').digest('hex'));
        await fs.writeFile(blob, text, { mode: 0o600, flag: 'w' });
        const path = join(genDir(g.id), 'units', w.user, relPath);
        await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await fs.link(blob, path);
      }
      const { tree: _gone, ...entry } = manifest.workloads[name]!;
      manifest.workloads[name] = { ...entry, files: Object.keys(w.files).sort() };
    }
    await fs.writeFile(join(genDir(g.id), 'manifest.json'), JSON.stringify(manifest));
    await fs.rm(join(genDir(g.id), 'applied-trees'), { recursive: true, force: true });
  }
  await fs.rm(treesDir(), { recursive: true });
}

describe('generations of the old layout', () => {
  it('are read, rolled back to, and collected with their blobs', async () => {
    for (const tag of ['1', '2']) {
      h.commit({ 'web.container': containerSpec(`localhost/web:${tag}`, 'Environment=OWNER={{uid}}'), 'api.container': containerSpec('localhost/api:1') }, `v${tag}`);
      expect((await h.pass()).result).toMatchObject({ exitCode: 0, generationState: 'complete' });
    }
    const webFile = async (id: number) => (await (await h.openStore()).generations.read(id)).workloads.web!.files['containers/systemd/web.container'];
    const [web1, web2] = [await webFile(1), await webFile(2)];
    expect(web1).toContain('Image=localhost/web:1\nEnvironment=OWNER=1001');
    await toOldLayout();
    const store = await h.openStore();
    expect((await store.generations.list()).map((g) => [g.id, g.state])).toEqual([
      [1, 'complete'],
      [2, 'complete'],
    ]);
    expect(await fs.readdir(join(genDir(1), 'units'))).toEqual(['api', 'web']);
    expect(await webFile(1)).toBe(web1);

    // A rollback to an old-layout generation re-applies its files, into a new-layout generation.
    await store.pin.pin(1);
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 3, kind: 'rollback', rollbackOf: 1 });
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(web1);
    expect(Object.values((await manifestOf(3)).workloads).every((w) => w.tree !== undefined)).toBe(true);
    expect(await filesUnder(join(h.stateDir, 'blobs'))).toHaveLength(3);

    // gc takes one old generation: the blobs only it linked to go, the others stay.
    const keep = { keepMin: 2, keepMax: 2, minAgeMs: 0, maxAgeMs: 365 * 86_400_000 };
    const s2 = await h.openStore();
    await s2.pin.unpin();
    expect((await s2.gc(keep)).deleted).toEqual([1]);
    expect(await filesUnder(join(h.stateDir, 'blobs'))).toHaveLength(2);
    expect(await webFile(2)).toBe(web2);
    // The last old one goes: blobs/ with it.
    expect((await s2.gc({ ...keep, keepMin: 1, keepMax: 1 })).deleted).toEqual([2]);
    await expect(fs.stat(join(h.stateDir, 'blobs'))).rejects.toThrow(/ENOENT/);
    expect(await webFile(3)).toBe(web1);
  });
});

describe('gc', () => {
  it('deletes the trees no kept generation names, and keeps those a kept one shares', async () => {
    for (const tag of ['1', '2', '3']) {
      h.commit({ 'web.container': containerSpec(`localhost/web:${tag}`), 'api.container': containerSpec('localhost/api:1') }, `v${tag}`);
      expect((await h.pass()).result).toMatchObject({ exitCode: 0, generationState: 'complete' });
    }
    expect(await listTrees()).toHaveLength(4);
    const store = await h.openStore();
    expect((await store.gc({ keepMin: 1, keepMax: 1, minAgeMs: 0, maxAgeMs: 1 })).deleted).toEqual([1, 2]);
    const m3 = await manifestOf(3);
    expect(await listTrees()).toEqual([m3.workloads.api!.tree, m3.workloads.web!.tree].sort());
  });
});
