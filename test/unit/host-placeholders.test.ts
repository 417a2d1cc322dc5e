// {{host}} and {{label.KEY}} (docs/fleet.md#per-host-values): one spec, transform or
// companion template serves every host; a label one host lacks fails the workload there.
import { describe, expect, it } from 'vitest';
import { renderWorkload } from '../../daemon/core/desired';
import { discover } from '../../daemon/core/discovery';
import { loadTransformSet, parseTransformFile, type Identity, type TransformSet } from '../../daemon/core/transforms';
import type { TreeEntry, Workload } from '../../daemon/core/types';

function set(files: Record<string, string>): TransformSet {
  const r = loadTransformSet(Object.entries(files).map(([name, content]) => ({ name, path: `/etc/moor/transforms/${name}`, content })));
  expect(r.problems).toEqual([]);
  return r.set;
}

function workload(files: Record<string, string>): Workload {
  const entries: TreeEntry[] = Object.entries(files).map(([path, content]) => ({ path, type: 'file', size: content.length, content }));
  const d = discover(entries, { userPrefix: '', maxFileBytes: 1 << 20 });
  expect(d.problems).toEqual([]);
  return d.workloads[0]!;
}

const on = (host: string, labels: Record<string, string> = {}): Identity => ({ name: 'web', user: 'web', uid: 1001, home: '/home/web', host, labels });
const quadlet = (r: ReturnType<typeof renderWorkload>, name: string) => r.files.find((f) => f.name === name)?.content;

describe('{{host}} and {{label.KEY}}', () => {
  const spec = '[Container]\nImage=localhost/web:1\nEnvironment=HOST={{host}} ZONE={{label.zone}}\n';

  it('fill in a spec for the host it is rendered on', () => {
    const w = workload({ 'web.container': spec });
    const none = set({});
    expect(quadlet(renderWorkload(w, none, on('alpha', { zone: 'eu-1' })), 'web.container')).toContain('Environment=HOST=alpha ZONE=eu-1');
    expect(quadlet(renderWorkload(w, none, on('beta', { zone: 'us-2' })), 'web.container')).toContain('Environment=HOST=beta ZONE=us-2');
  });

  it('make a label the host lacks a problem of the workload, naming the label, the host and the line', () => {
    const r = renderWorkload(workload({ 'web.container': spec }), set({}), on('beta'));
    expect(r.problems).toEqual([
      expect.objectContaining({ path: 'web.container', line: 3, code: 'missing-label', workload: 'web', message: 'Environment= in [Container] uses {{label.zone}}, but host beta has no label "zone"' }),
    ]);
    expect(r.problems[0]!.hint).toContain('[hosts.beta]');
    expect(r.files).toEqual([]);
  });

  it('are read in transforms; a label key that cannot be one, or another name, is refused', () => {
    expect(parseTransformFile('_base.container', 't/_base.container', '[Container]\n+Environment=H={{host}} Z={{label.zone}}\n').ok).toBe(true);
    for (const bad of ['{{label.Zone}}', '{{label.}}', '{{hostname}}', '{{labels.zone}}']) {
      const r = parseTransformFile('_base.container', 't/_base.container', `[Container]\n+Environment=X=${bad}\n`);
      expect(r.ok, bad).toBe(false);
    }
  });

  it('fill in a transform for the host; a label it lacks is blamed on the transform\'s line, for that workload', () => {
    const t = set({ '_base.container': '[Container]\n+Label=host={{host}}\n+Label=rack={{label.rack}}\n' });
    const w = workload({ 'web.container': '[Container]\nImage=localhost/web:1\n' });
    expect(quadlet(renderWorkload(w, t, on('alpha', { rack: 'r7' })), 'web.container')).toMatch(/Label=host=alpha\nLabel=rack=r7/);
    const r = renderWorkload(w, t, on('beta'));
    expect(r.problems).toEqual([expect.objectContaining({ path: '/etc/moor/transforms/_base.container', line: 3, code: 'missing-label', workload: 'web' })]);
  });

  it('fill in a companion template for the host', () => {
    const t = set({ '_base-data.volume': '[Volume]\nLabel=at={{host}}/{{label.zone}}\n' });
    const w = workload({ 'web.container': '[Container]\nImage=localhost/web:1\n' });
    expect(quadlet(renderWorkload(w, t, on('alpha', { zone: 'eu-1' })), 'web-data.volume')).toContain('Label=at=alpha/eu-1');
    expect(renderWorkload(w, t, on('beta')).problems.map((p) => [p.path, p.code])).toEqual([['/etc/moor/transforms/_base-data.volume', 'missing-label']]);
  });

  it('let a .kube name a YAML per host', () => {
    const entries: TreeEntry[] = Object.entries({ 'app.kube': '[Kube]\nYaml=pod-{{host}}.yaml\n', 'pod-alpha.yaml': 'kind: Pod\n' }).map(([path, content]) => ({ path, type: 'file', size: content.length, content }));
    const alpha = discover(entries, { userPrefix: '', maxFileBytes: 1 << 20, host: { name: 'alpha', labels: {} } });
    expect(alpha.problems).toEqual([]);
    expect(alpha.workloads[0]!.companions.map((f) => [f.name, f.kind])).toEqual([['pod-alpha.yaml', 'referenced']]);
    // On beta the same .kube names pod-beta.yaml: pod-alpha.yaml belongs to nothing there.
    const beta = discover(entries, { userPrefix: '', maxFileBytes: 1 << 20, host: { name: 'beta', labels: {} } });
    expect(beta.problems.map((p) => [p.code, p.path])).toEqual([['orphan', 'pod-alpha.yaml']]);
  });
});
