// Repositories laid out as quadsync users bring them (test/fixtures/quadsync/, each a `repo/`
// and a host's `transforms/`, written for these tests): `.container` files at the root and in
// directories, per-directory transforms, `_base.*` transforms and `_base-<suffix>.<type>`
// companion templates with moor's placeholders. Each goes through `moor check`, `moor render`
// and a pass over the fake host (docs/migrating-from-quadsync.md).
//   tpl-companions  a data volume per workload from a template; notes holds its own, which wins;
//                   sidecar units of library
//   migrate-pod     a pod with members in a directory; a template .container joins the pod
//   migrate-typo    transforms naming a directory the repository does not have
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMoor } from '../helpers/cli';
import { PassHarness } from '../helpers/pass-harness';
import { filesUnder } from '../helpers/fixture-tree';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/quadsync');
const tmp = mkdtempSync(join(tmpdir(), 'moor-quadsync-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// Defaults only, whatever this machine has in /etc/moor.
const config = join(tmp, 'config.toml');
writeFileSync(config, '');

const repoOf = (fixture: string) => join(FIXTURES, fixture, 'repo');
const transformsOf = (fixture: string) => join(FIXTURES, fixture, 'transforms');


interface CheckJson {
  ok: boolean;
  workloads: { name: string; units: string[]; valid: boolean }[];
  problems: { path: string; code: string; message: string; hint: string }[];
}

function check(fixture: string): { code: number | null; out: CheckJson } {
  const r = runMoor(['--config', config, 'check', repoOf(fixture), '--transforms', transformsOf(fixture), '--json']);
  return { code: r.code, out: JSON.parse(r.stdout) as CheckJson };
}

function render(fixture: string, file: string) {
  return runMoor(['--config', config, 'render', join(repoOf(fixture), file), '--repo', repoOf(fixture), '--transforms', transformsOf(fixture)]);
}

describe('moor check on quadsync-style repositories', () => {
  it('accepts the templates: every workload gets its data volume, the one holding its own keeps it', () => {
    const { code, out } = check('tpl-companions');
    expect(out.problems).toEqual([]);
    expect(code).toBe(0);
    expect(Object.fromEntries(out.workloads.map((w) => [w.name, w.units]))).toEqual({
      library: ['library-data-volume.service', 'library-refresh.service', 'library-refresh.timer', 'library.service'],
      notes: ['notes-data-volume.service', 'notes.service'],
      planner: ['planner-data-volume.service', 'planner.service'],
    });
  });

  it('accepts a pod in a directory: the pod gets one file per template, a .container among them', () => {
    const { code, out } = check('migrate-pod');
    expect(code).toBe(0);
    expect(out.workloads.find((w) => w.name === 'board')!.units).toEqual([
      'board-backup.service',
      'board-data-volume.service',
      'board-db.service',
      'board-pod.service',
      'board-web.service',
    ]);
  });

  it('names each transform that applies to no directory of the repository, with its fix, and exits 2', () => {
    const { code, out } = check('migrate-typo');
    expect(code).toBe(2);
    expect(out.problems.map((p) => [p.code, relative(transformsOf('migrate-typo'), p.path)])).toEqual([
      ['unused-transform', '_base_data.volume'],
      ['unused-transform', 'webaps.container'],
    ]);
    expect(out.problems[1]!.hint).toMatch(/rename it webapps\.container/);
    expect(out.problems[0]!.hint).toMatch(/_base-<suffix>\.volume/);
    expect(out.workloads).toEqual([expect.objectContaining({ name: 'planner', valid: true })]);
  });
});

describe('moor render on quadsync-style repositories', () => {
  it('prints the file a template makes for a workload, though the repository does not hold it', () => {
    const r = render('tpl-companions', 'library-data.volume');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('# one data volume per workload\n\n[Volume]\nLabel=workload=library\nLabel=owner=library\n');
    expect(r.stderr).toMatch(/library-data\.volume is not in the repository; the companion template .*_base-data\.volume makes it for workload library/);
  });

  it('prints the repository\'s own file where it holds one, and the spec with the volume named', () => {
    const own = render('tpl-companions', 'webapps/notes-data.volume');
    expect(own.code).toBe(0);
    expect(own.stdout).toContain('Label=kept-by=notes');
    expect(own.stderr).not.toMatch(/companion template/);
    const spec = render('tpl-companions', 'webapps/planner.container');
    expect(spec.stdout).toBe(
      '[Container]\nImage=registry.example.com/planner:1.9\nPublishPort=8081:8080\nLogDriver=journald\nVolume=planner-data.volume:/data\nEnvironment=TZ=Europe/Amsterdam\nNetwork=slirp4netns\n',
    );
  });

  it('joins a template .container made for a pod to the pod, {{name}} being the pod\'s', () => {
    const r = render('migrate-pod', 'team/board-backup.container');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Environment=TARGET=board\nVolume=board-data\.volume:\/data:ro\nLabel=team=board\nPod=board\.pod\n$/);
  });

  it('refuses a file neither the repository holds nor a template makes', () => {
    const r = render('tpl-companions', 'library-cache.volume');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such file, and no companion template makes it/);
  });
});

describe('a pass over a quadsync-style repository', () => {
  let h: PassHarness;
  afterEach(() => h.cleanup());

  function useTransforms(fixture: string): void {
    for (const name of readdirSync(transformsOf(fixture))) copyFileSync(join(transformsOf(fixture), name), join(h.transformsDir, name));
  }

  it('creates each companion under its workload, owned and recorded; removes it with the workload and with the template', async () => {
    h = new PassHarness();
    h.commit(filesUnder(repoOf('tpl-companions')));
    useTransforms('tpl-companions');
    const first = await h.pass();
    expect(first.result.exitCode).toBe(0);
    expect(first.result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['library', 'create', 'ok'],
      ['notes', 'create', 'ok'],
      ['planner', 'create', 'ok'],
    ]);
    const volume = (user: string) => h.fake.userFiles(user).get(`.config/containers/systemd/${user}-data.volume`);
    expect(volume('library')?.content).toBe('# one data volume per workload\n\n[Volume]\nLabel=workload=library\nLabel=owner=library\n');
    // In the workload user's own home, and its volume unit started.
    expect(volume('planner')?.content).toBe('# one data volume per workload\n\n[Volume]\nLabel=workload=planner\nLabel=owner=planner\n');
    expect(h.fake.unit('planner', 'planner-data-volume.service')?.activeState).toBe('active');
    // notes holds its own file of that name: the template made nothing for it.
    expect(volume('notes')?.content).toContain('Label=kept-by=notes');
    const store = await h.openStore();
    expect(Object.keys((await store.applied.read('planner'))!.hashes)).toEqual([
      'containers/systemd/planner-data.volume',
      'containers/systemd/planner.container',
    ]);

    // The workload leaves the repository: its user goes, and its volume with it.
    h.files({ 'library.container': null, 'library-refresh.service': null, 'library-refresh.timer': null }).push('library goes');
    const second = await h.pass();
    expect(second.result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['notes', 'unchanged', 'ok'],
      ['planner', 'unchanged', 'ok'],
      ['library', 'remove', 'ok'],
    ]);
    expect(h.fake.passwd.has('library')).toBe(false);
    expect(h.fake.userFiles('library').size).toBe(0);

    // The template and the transform that names its volume leave the host: every workload
    // it made a file for is updated and the file deleted; notes keeps its own.
    rmSync(join(h.transformsDir, '_base-data.volume'));
    writeFileSync(join(h.transformsDir, '_base.container'), '[Container]\nLogDriver=journald\n');
    const third = await h.pass();
    expect(third.result.exitCode).toBe(0);
    expect(third.result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['notes', 'update', 'ok'],
      ['planner', 'update', 'ok'],
    ]);
    expect(third.result.items.find((i) => i.workload === 'planner')!.removed).toEqual(['containers/systemd/planner-data.volume']);
    expect(volume('planner')).toBeUndefined();
    expect(volume('notes')?.content).toContain('Label=kept-by=notes');
    expect(Object.keys((await (await h.openStore()).applied.read('planner'))!.hashes)).toEqual(['containers/systemd/planner.container']);
  });

  it('adding a template to a running host is an update of every workload', async () => {
    h = new PassHarness();
    h.commit(filesUnder(repoOf('migrate-pod')));
    for (const name of ['team.container', 'team.pod']) copyFileSync(join(transformsOf('migrate-pod'), name), join(h.transformsDir, name));
    expect((await h.pass()).result.exitCode).toBe(0);
    expect((await h.pass()).result.items.map((i) => i.action)).toEqual(['unchanged', 'unchanged']);

    useTransforms('migrate-pod');
    const r = await h.pass();
    expect(r.result.exitCode).toBe(0);
    expect(r.result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['board', 'update', 'ok'],
      ['wiki', 'update', 'ok'],
    ]);
    const backup = h.fake.userFiles('board').get('.config/containers/systemd/board-backup.container')?.content;
    expect(backup).toMatch(/Environment=TARGET=board\n[^]*Pod=board\.pod\n/);
    expect(h.fake.unit('board', 'board-backup.service')?.activeState).toBe('active');
    expect(h.fake.unit('wiki', 'wiki-data-volume.service')?.activeState).toBe('active');
  });
});
