// Companion templates (`_base-<suffix>.<type>`) and the transforms that apply to no group.
import { describe, expect, it } from 'vitest';
import { renderWorkload, specifierIdentity, templateFilesOf } from '../../daemon/core/desired';
import { discover } from '../../daemon/core/discovery';
import type { Policy } from '../../daemon/core/policy';
import { loadTransformSet, unusedTransforms, type Identity, type TransformSet } from '../../daemon/core/transforms';
import type { TreeEntry, Workload } from '../../daemon/core/types';

const load = (files: Record<string, string>) =>
  loadTransformSet(Object.entries(files).map(([name, content]) => ({ name, path: `/etc/moor/transforms/${name}`, content })));

function set(files: Record<string, string>): TransformSet {
  const r = load(files);
  expect(r.problems).toEqual([]);
  return r.set;
}

function workloads(files: Record<string, string>): Workload[] {
  const entries: TreeEntry[] = Object.entries(files).map(([path, content]) => ({ path, type: 'file', size: content.length, content }));
  const d = discover(entries, { userPrefix: '', maxFileBytes: 1 << 20 });
  expect(d.problems).toEqual([]);
  return d.workloads;
}

const identity = (name: string): Identity => ({ name, user: name, uid: 1007, home: `/home/${name}`, host: 'h1', labels: {} });
const image = '[Container]\nImage=localhost/app:1\n';
const dataVolume = '[Volume]\nLabel=owner={{name}} uid={{uid}}\n';

describe('reading companion templates', () => {
  it('reads _base-<suffix>.<type> as a template, not as the transform of a group "_base-data"', () => {
    const s = set({ '_base-data.volume': dataVolume, '_base.container': '[Container]\nLabel=a=1\n' });
    expect(s.templates.map((t) => [t.name, t.suffix, t.type])).toEqual([['_base-data.volume', 'data', 'volume']]);
    expect([...s.groups.keys()]).toEqual([]);
    expect(s.base.has('container')).toBe(true);
  });

  it.each([
    ['_base-data.volme', 'template-type', undefined],
    ['_base-.volume', 'template-name', undefined],
    ['_base-data', 'template-name', undefined],
  ])('refuses the name %s (%s)', (name, code, line) => {
    const r = load({ [name]: dataVolume });
    expect(r.problems.map((p) => [p.code, p.line, p.path])).toEqual([[code, line, `/etc/moor/transforms/${name}`]]);
  });

  it('refuses merge rules, unknown placeholders and syntax errors with their lines', () => {
    const r = load({ '_base-data.volume': '[Volume]\n+Label=a=1\nLabel={{.Name}}\nnonsense\n' });
    expect(r.problems.map((p) => [p.code, p.line])).toEqual([
      ['missing-equals', 4],
      ['template-key', 2],
      ['unknown-placeholder', 3],
    ]);
    expect(r.problems.find((p) => p.code === 'unknown-placeholder')!.hint).toMatch(/\{\{name\}\}/);
  });
});

describe('files made from templates', () => {
  it('gives every workload <workload>-<suffix>.<type> with its placeholders, in the same hash', () => {
    const [api, web] = workloads({ 'web.container': image, 'apps/api.container': image, 'apps/.moor-no-transform': '' });
    const none = renderWorkload(web!, set({}), identity('web'));
    const s = set({ '_base-data.volume': dataVolume });
    const r = renderWorkload(web!, s, identity('web'));
    expect(r.problems).toEqual([]);
    const file = r.files.find((f) => f.target === 'containers/systemd/web-data.volume')!;
    expect(file.content).toBe('[Volume]\nLabel=owner=web uid=1007\n');
    expect(file.source).toBe('/etc/moor/transforms/_base-data.volume');
    expect(r.units.map((u) => u.unit)).toEqual(['web-data-volume.service', 'web.service']);
    // The template changes the workload's hash: adding one is an update of every workload.
    expect(r.hash).not.toBe(none.hash);
    // A workload of a marked group gets its own as well.
    expect(templateFilesOf(api!, s).map((f) => [f.name, f.group])).toEqual([['api-data.volume', 'apps']]);
    expect(renderWorkload(api!, s, identity('api')).files.find((f) => f.name === 'api-data.volume')!.content).toBe(
      '[Volume]\nLabel=owner=api uid=1007\n',
    );
  });

  it('merges the base and group transforms of its type into it, and a transform can name it', () => {
    const [api] = workloads({ 'apps/api.container': image });
    const s = set({
      '_base-data.volume': '[Volume]\n',
      '_base.volume': '[Volume]\nDriver=local\n',
      'apps.volume': '[Volume]\nLabel=group=apps\n',
      'apps.container': '[Container]\n+Volume={{name}}-data.volume:/data\n',
    });
    const r = renderWorkload(api!, s, identity('api'));
    expect(r.problems).toEqual([]);
    const text = (name: string) => r.files.find((f) => f.name === name)!.content;
    expect(text('api-data.volume')).toBe('[Volume]\nDriver=local\nLabel=group=apps\n');
    expect(text('api.container')).toBe('[Container]\nImage=localhost/app:1\nVolume=api-data.volume:/data\n');
  });

  it('can be named by the spec itself: a reference to the file a template makes is no dangling one', () => {
    const [api] = workloads({ 'api.container': `${image}Volume=api-data.volume:/data\nVolume=api-logs.volume:/logs\n` });
    const r = renderWorkload(api!, set({ '_base-data.volume': '[Volume]\n' }), identity('api'));
    // api-data.volume is made by the template; api-logs.volume by nothing.
    expect(r.problems.map((p) => [p.code, p.message.includes('api-logs.volume'), p.message.includes('api-data.volume')])).toEqual([['missing-reference', true, false]]);
  });

  it('makes nothing where the workload holds a file of that name: the repository\'s file wins', () => {
    const [web] = workloads({ 'web.container': image, 'web-data.volume': '[Volume]\nLabel=from=repo\n' });
    const s = set({ '_base-data.volume': dataVolume });
    expect(templateFilesOf(web!, s)).toEqual([]);
    const r = renderWorkload(web!, s, identity('web'));
    expect(r.files.filter((f) => f.name === 'web-data.volume').map((f) => [f.source, f.content])).toEqual([
      ['web-data.volume', '[Volume]\nLabel=from=repo\n'],
    ]);
  });

  it('makes one file per pod, named after the pod; a .container joins the pod unless it sets Pod=', () => {
    const [shop] = workloads({ 'shop.pod': '[Pod]\n', 'shop-db.container': image, 'shop-web.container': image });
    const s = set({
      '_base-backup.container': '[Container]\nImage=localhost/backup:1\nEnvironment=TARGET={{name}}\n',
      '_base-probe.container': '[Container]\nImage=localhost/probe:1\nPod=\n',
    });
    const r = renderWorkload(shop!, s, identity('shop'));
    expect(r.problems).toEqual([]);
    const text = (name: string) => r.files.find((f) => f.name === name)?.content;
    expect(text('shop-backup.container')).toBe('[Container]\nImage=localhost/backup:1\nEnvironment=TARGET=shop\nPod=shop.pod\n');
    expect(text('shop-probe.container')).toBe('[Container]\nImage=localhost/probe:1\nPod=\n');
    expect(text('shop-db-backup.container')).toBeUndefined();
  });

  it('fails the workload alone when the file it makes is invalid, naming the template', () => {
    const [web] = workloads({ 'web.container': image });
    const r = renderWorkload(web!, set({ '_base-side.container': '[Container]\nExec=sleep 1\n' }), specifierIdentity(web!, { name: 'h1', labels: {} }));
    expect(r.problems.map((p) => [p.code, p.path, p.workload])).toEqual([['missing-image', '/etc/moor/transforms/_base-side.container', 'web']]);
    expect(r.files.map((f) => f.name)).toEqual(['web.container']);
  });

  it('is judged by the host policy like any file of the workload', () => {
    const [web] = workloads({ 'web.container': image });
    const policy: Policy = { ports: [], programs: [] };
    const s = set({ '_base-side.container': '[Container]\nImage=localhost/side:1\nPublishPort=8080:80\n' });
    expect(renderWorkload(web!, set({}), identity('web'), [], policy).problems).toEqual([]);
    const r = renderWorkload(web!, s, identity('web'), [], policy);
    expect(r.problems.map((p) => p.message)).toEqual([expect.stringMatching(/web-side\.service \(\/etc\/moor\/transforms\/_base-side\.container\) publishes host port 8080/)]);
  });
});

describe('unusedTransforms', () => {
  it('names a group transform whose group directory the repository lacks, with the likely fix', () => {
    const s = set({ 'apps.container': '[Container]\n', 'aps.container': '[Container]\n', '_base_data.volume': '[Volume]\n' });
    const problems = unusedTransforms(s, ['apps', 'db']);
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['unused-transform', '/etc/moor/transforms/aps.container'],
      ['unused-transform', '/etc/moor/transforms/_base_data.volume'],
    ]);
    expect(problems[0]!.message).toBe('aps.container applies to the group directory aps/, which the repository does not have (its groups: apps, db)');
    expect(problems[0]!.hint).toMatch(/^rename it apps\.container if it is meant for apps\//);
    expect(problems[1]!.hint).toMatch(/name a companion template _base-<suffix>\.volume/);
  });

  it('says nothing of base transforms, templates and transforms of groups the repository has', () => {
    const s = set({ '_base.container': '[Container]\n', '_base-data.volume': '[Volume]\n', 'apps.pod': '[Pod]\n' });
    expect(unusedTransforms(s, ['apps'])).toEqual([]);
  });
});
