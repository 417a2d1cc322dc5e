// A `.kube` workload through a pass over the fake host: created with the YAML beside the
// unit, and a change of the YAML alone restarts its service.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassHarness, normLine } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const KUBE = '[Kube]\nYaml=app.yaml\n\n[Install]\nWantedBy=default.target\n';
const yaml = (v: string) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: main\n    image: localhost/app:${v}\n`;

describe('a .kube workload', () => {
  it('is created as its own user with the YAML beside the unit, and app.service restarted and gated', async () => {
    h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('1') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([['app', 'create', 'ok']]);
    expect([...h.fake.userFiles('app').keys()].sort()).toEqual(['.config/containers/systemd/app.kube', '.config/containers/systemd/app.yaml']);
    expect(h.fake.userFiles('app').get('.config/containers/systemd/app.yaml')?.content).toBe(yaml('1'));
    expect(calls.map(normLine)).toContain('as app(1000): systemctl --user restart app.service');
    expect(h.fake.unit('app', 'app.service')?.activeState).toBe('active');
  });

  it('restarts app.service when only the YAML changes', async () => {
    h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('1') });
    await h.pass();
    h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('2') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([['app', 'update', 'ok']]);
    expect(result.items[0]!.changed).toEqual(['containers/systemd/app.yaml']);
    expect(calls.map(normLine).filter((l) => / restart /.test(l))).toEqual(['as app(1000): systemctl --user restart app.service']);
    expect(h.fake.userFiles('app').get('.config/containers/systemd/app.yaml')?.content).toBe(yaml('2'));
  });

  it('leaves a running workload as it runs when its Yaml= turns to a file of the host', async () => {
    h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('1') });
    await h.pass();
    h.commit({ 'app.kube': KUBE.replace('app.yaml', '/etc/shadow'), 'app.yaml': yaml('2') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items[0]).toMatchObject({ workload: 'app', result: 'failed' });
    expect(result.items[0]!.error).toContain('Yaml=/etc/shadow');
    expect(calls.filter((l) => /__write-files|restart/.test(l))).toEqual([]);
    expect(h.fake.userFiles('app').get('.config/containers/systemd/app.kube')?.content).toBe(KUBE);
  });
});
