import { describe, expect, it } from 'vitest';
import { discover } from '../../daemon/core/discovery';
import { renderedFromFiles, validateTree, contentsOf, type RenderedWorkload } from '../../daemon/core/desired';
import { fileAtTarget } from '../../daemon/core/deploy-layout';
import { localName } from '../../daemon/core/kube-files';
import { emptyTransformSet, loadTransformSet } from '../../daemon/core/transforms';
import type { TreeEntry } from '../../daemon/core/types';
import type { Problem } from '../../daemon/core/problem';

const KUBE = '[Kube]\nYaml=app.yaml\n\n[Install]\nWantedBy=default.target\n';
const POD_YAML = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: main\n    image: localhost/busybox:latest\n';

function tree(files: Record<string, string>): TreeEntry[] {
  return Object.entries(files).map(([path, content]) => ({ path, type: 'file' as const, size: Buffer.byteLength(content), content }));
}
function check(files: Record<string, string>, transformFiles: Record<string, string> = {}) {
  const d = discover(tree(files), { userPrefix: '', maxFileBytes: 1 << 20 });
  const t = loadTransformSet(Object.entries(transformFiles).map(([name, content]) => ({ name, path: `/etc/moor/transforms/${name}`, content })));
  expect(t.problems).toEqual([]);
  const v = validateTree(d, Object.keys(transformFiles).length ? t.set : emptyTransformSet(), [], { name: 'h1', labels: {} });
  return { d, v, all: [...v.tree, ...v.workloads.flatMap((w) => w.problems)] };
}
const codes = (ps: readonly Problem[]) => ps.map((p) => `${p.code} ${p.path}${p.line ? `:${p.line}` : ''}`);
function only(v: { workloads: RenderedWorkload[] }, name: string): RenderedWorkload {
  const w = v.workloads.find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  return w;
}

describe('a .kube that extends no .container or .pod is a workload', () => {
  it('app.kube and app.yaml alone: workload "app", user app, unit app.service, the YAML beside the unit', () => {
    const { d, all, v } = check({ 'app.kube': KUBE, 'app.yaml': POD_YAML });
    expect(all).toEqual([]);
    expect(d.workloads).toHaveLength(1);
    expect(d.workloads[0]).toMatchObject({ name: 'app', user: 'app', kind: 'kube', spec: { path: 'app.kube', kind: 'quadlet' } });
    expect(d.workloads[0]!.companions.map((f) => [f.path, f.kind])).toEqual([['app.yaml', 'referenced']]);
    const app = only(v, 'app');
    expect(app.files.map((f) => f.target)).toEqual(['containers/systemd/app.kube', 'containers/systemd/app.yaml']);
    expect(app.files.find((f) => f.name === 'app.yaml')!.content).toBe(POD_YAML);
    expect(app.units).toEqual([{ unit: 'app.service', source: 'app.kube', action: 'restart', gate: true }]);
  });

  it('the YAML may have any name the .kube gives it, and ConfigMap= files join too; a change of either changes the hash', () => {
    const files = {
      'shop.kube': '[Kube]\nYaml=./deployment.yml\nConfigMap=settings.yml\nConfigMap="more settings.yml"\n',
      'deployment.yml': 'kind: Deployment\n',
      'settings.yml': 'kind: ConfigMap\n',
      'more settings.yml': 'kind: ConfigMap\n',
    };
    const a = check(files);
    expect(a.all).toEqual([]);
    const shop = only(a.v, 'shop');
    expect(shop.files.map((f) => [f.target, f.kind])).toEqual([
      ['containers/systemd/deployment.yml', 'referenced'],
      ['containers/systemd/more settings.yml', 'referenced'],
      ['containers/systemd/settings.yml', 'referenced'],
      ['containers/systemd/shop.kube', 'quadlet'],
    ]);
    const b = check({ ...files, 'deployment.yml': 'kind: Deployment\n# changed\n' });
    expect(only(b.v, 'shop').hash).not.toBe(shop.hash);
  });

  it('a .kube that extends a container or pod name stays its companion; .kube files of their own are separate workloads', () => {
    const { d, all } = check({
      'web.container': '[Container]\nImage=x\n',
      'web-extra.kube': '[Kube]\nYaml=web-extra.yaml\n',
      'web-extra.yaml': POD_YAML,
      'app.kube': KUBE,
      'app.yaml': POD_YAML,
      'app-db.kube': '[Kube]\nYaml=db.yaml\n',
      'db.yaml': POD_YAML,
      'app-data.volume': '[Volume]\n',
    });
    expect(all).toEqual([]);
    expect(d.workloads.map((w) => [w.name, w.kind, [w.spec, ...w.companions].map((f) => `${f.path}:${f.kind}`).join(' ')])).toEqual([
      ['app', 'kube', 'app.kube:quadlet app-data.volume:quadlet app.yaml:referenced'],
      ['app-db', 'kube', 'app-db.kube:quadlet db.yaml:referenced'],
      ['web', 'container', 'web.container:quadlet web-extra.kube:quadlet web-extra.yaml:referenced'],
    ]);
  });

  it('a YAML read by two workloads is deployed to both; one read by none is an orphan', () => {
    const { d, all } = check({ 'a.kube': '[Kube]\nYaml=pod.yaml\n', 'b.kube': '[Kube]\nYaml=pod.yaml\n', 'pod.yaml': POD_YAML, 'stray.yaml': POD_YAML });
    expect(codes(all)).toEqual(['orphan stray.yaml']);
    expect(d.workloads.map((w) => w.companions.map((f) => f.path))).toEqual([['pod.yaml'], ['pod.yaml']]);
  });

  it('a reference in a group resolves in that group, with placeholders filled in', () => {
    const { all, v } = check({
      'apps/.moor-no-transform': '',
      'apps/api.kube': '[Kube]\nYaml={{name}}-pod.yaml\n',
      'apps/api-pod.yaml': POD_YAML,
      'apps/pod.yaml': 'read by nothing in apps/',
      'b.kube': '[Kube]\nYaml=pod.yaml\n',
      'pod.yaml': 'kind: Pod\n',
    });
    expect(codes(all)).toEqual(['orphan apps/pod.yaml']);
    const api = only(v, 'api');
    expect(api.files.find((f) => f.name === 'api-pod.yaml')!.content).toBe(POD_YAML);
    expect(only(v, 'b').files.find((f) => f.name === 'pod.yaml')!.content).toBe('kind: Pod\n');
    expect(api.files.find((f) => f.name === 'api.kube')!.content).toContain('Yaml=api-pod.yaml');
  });

  it('refuses a reference that leaves the unit, names the host or another directory, is missing, or names a unit file, with its line', () => {
    const { all } = check({
      'a.kube': '[Kube]\nYaml=../../etc/passwd\n',
      'b.kube': '[Kube]\nYaml=/etc/passwd\n',
      'c.kube': '[Kube]\nYaml=%h/app.yaml\n',
      'd.kube': '[Kube]\nYaml=sub/app.yaml\n',
      'e.kube': '[Kube]\nYaml=e.yaml\nConfigMap=missing.yaml\n',
      'e.yaml': POD_YAML,
      'f.kube': '[Kube]\nYaml=~/app.yaml\n',
      'g.kube': '[Kube]\nYaml=g.service\n',
      'g.service': '[Service]\nExecStart=/bin/true\n',
      'h.kube': '[Kube]\nYaml=./../h.yaml\n',
    });
    expect(codes(all)).toEqual([
      'escaping-reference a.kube:2',
      'escaping-reference b.kube:2',
      'escaping-reference c.kube:2',
      'escaping-reference d.kube:2',
      'missing-reference e.kube:3',
      'escaping-reference f.kube:2',
      'bad-reference g.kube:2',
      'escaping-reference h.kube:2',
    ]);
    const passwd = all.find((p) => p.path === 'a.kube')!;
    expect(passwd.workload).toBe('a');
    expect(passwd.message).toContain('Yaml=../../etc/passwd');
  });

  it('transforms apply to .kube files, and a reference a transform adds is judged with the transform named', () => {
    const { all, v } = check(
      { 'app.kube': KUBE, 'app.yaml': POD_YAML },
      { '_base.kube': '[Kube]\nLabel=moor.workload={{name}}\n+ConfigMap=/etc/moor/shared.yaml\n' },
    );
    expect(codes(all)).toEqual(['escaping-reference app.kube']);
    expect(all[0]!.message).toContain('(set by /etc/moor/transforms/_base.kube:3)');
    const ok = check({ 'app.kube': KUBE, 'app.yaml': POD_YAML }, { '_base.kube': '[Kube]\nAutoUpdate=registry\n' });
    expect(ok.all).toEqual([]);
    expect(only(ok.v, 'app').files.find((f) => f.name === 'app.kube')!.content).toMatch(/^AutoUpdate=registry$/m);
    expect(v.workloads).toHaveLength(1);
  });

  it('a .kube name is unique in the tree', () => {
    const { all } = check({ 'app.kube': KUBE, 'app.yaml': POD_YAML, 'g/.moor-no-transform': '', 'g/app.kube': KUBE, 'g/app.yaml': POD_YAML });
    expect(codes(all)).toEqual(['duplicate-stem app.kube', 'duplicate-stem g/app.kube']);
  });
});

describe('files a .kube reads, on the host', () => {
  it('are told from Quadlet files by their type when known only by target (a rollback from a generation)', () => {
    expect(fileAtTarget('containers/systemd/app.yaml')).toEqual({ name: 'app.yaml', ext: 'yaml', kind: 'referenced' });
    expect(fileAtTarget('containers/systemd/app.kube')).toEqual({ name: 'app.kube', ext: 'kube', kind: 'quadlet' });
    expect(fileAtTarget('containers/systemd/x.constructor')).toMatchObject({ kind: 'referenced' });
    const { v } = check({ 'app.kube': KUBE, 'app.yaml': POD_YAML });
    const fresh = only(v, 'app');
    const back = renderedFromFiles('app', 'app', contentsOf(fresh));
    expect(back.hash).toBe(fresh.hash);
    expect(back.units).toEqual(fresh.units.map((u) => ({ ...u, source: `containers/systemd/${u.source}` })));
  });

  it('localName: plain names and ./ only', () => {
    expect(localName('app.yaml')).toEqual({ name: 'app.yaml' });
    expect(localName('././app.yaml')).toEqual({ name: 'app.yaml' });
    for (const bad of ['..', '.', 'a/../b.yaml', '/x', '~x', '%h/x', 'k8s/app.yaml']) expect(localName(bad), bad).toHaveProperty('refused');
  });
});
