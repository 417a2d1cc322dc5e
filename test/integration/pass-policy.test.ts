// The host policy (docs/policy.md) holds for what actually runs: a spec that publishes a
// port through PodmanArgs=, or a plain service that runs podman itself, fails its
// workload with the rule's name and starts nothing. The static check refuses it before
// anything is touched; the check of what systemd loaded (`systemctl --user cat`) refuses
// it where no static check ran (a rollback to a generation applied before the policy).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const POLICY = { ports: [], pull: ['never' as const] };
const CLEAN = {
  'api.container': containerSpec('localhost/api:1', 'Pull=never'),
  'web.container': containerSpec('localhost/web:1', 'Pull=never'),
  'job.container': containerSpec('localhost/job:1', 'Pull=never'),
};
const BYPASSES = {
  ...CLEAN,
  // Quadlet's PublishPort= is what a transform removes; PodmanArgs= says the same thing.
  'web.container': containerSpec('localhost/web:1', 'Pull=never\nPodmanArgs=--publish 8080:80'),
  // A plain unit beside it runs podman itself.
  'job-run.service': '[Service]\nExecStart=/usr/bin/podman run --rm --pull=never -p 8081:80 localhost/job:1\n\n[Install]\nWantedBy=default.target\n',
};
const startsOf = (calls: string[], user: string) => calls.filter((c) => c.includes(`--uid=${user} `) && /systemctl --user (re)?start /.test(c));

describe('a host policy', () => {
  it('refuses both bypasses before anything is touched, naming the rule, file and line; the others apply', async () => {
    h.config = h.makeConfig({ policy: POLICY });
    h.commit(BYPASSES);
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    const web = result.items.find((i) => i.workload === 'web')!;
    expect(web).toMatchObject({ action: 'skip', result: 'failed' });
    expect(web.error).toBe(
      'web.container:4: policy rule "ports": web.service (web.container) publishes host port 8080 (PodmanArgs=--publish 8080:80); this host allows none',
    );
    const job = result.items.find((i) => i.workload === 'job')!;
    expect(job).toMatchObject({ action: 'skip', result: 'failed' });
    expect(job.error).toContain('job-run.service:2: policy rule "ports": job-run.service (job-run.service) publishes host port 8081 (ExecStart: -p 8081:80)');
    // Nothing of web or job: no user, no file, no start.
    expect(calls.filter((c) => / (web|job)$/.test(c) || c.includes('--uid=web ') || c.includes('--uid=job '))).toEqual([]);
    expect(h.fake.passwd.has('web')).toBe(false);
    expect(result.items.find((i) => i.workload === 'api')).toMatchObject({ result: 'ok' });
  });

  it('judges what systemd loaded: a rollback past the policy is refused with the rule, puts the running files back and restarts nothing', async () => {
    h.commit(BYPASSES);
    expect((await h.pass()).result.exitCode).toBe(0); // generation 1, before any policy
    h.commit(CLEAN);
    expect((await h.pass()).result.exitCode).toBe(0); // generation 2: the bypasses are gone
    const running = h.fake.userFiles('web').get('.config/containers/systemd/web.container')!.content;
    const invocation = h.fake.unit('web', 'web.service')!.invocationId;

    h.config = h.makeConfig({ policy: POLICY });
    await (await h.openStore()).pin.pin(1);
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    const web = result.items.find((i) => i.workload === 'web')!;
    // An update refused by the policy is rolled back: what ran runs on, and is kept until the desired state changes.
    expect(web.result).toBe('rolled-back');
    expect(web.error).toMatch(/^refused by the host policy, nothing was started: policy rule "ports": web\.service publishes host port 8080 \(ExecStart: --publish 8080:80\); this host allows none/);
    const job = result.items.find((i) => i.workload === 'job')!;
    expect(job.error).toMatch(/policy rule "ports": job-run\.service publishes host port 8081 \(ExecStart: -p 8081:80\)/);
    expect(job.result).toBe('rolled-back');
    // What ran stays: the files of generation 2 are back, nothing was (re)started.
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')!.content).toBe(running);
    expect(h.fake.userFiles('job').has('.config/systemd/user/job-run.service')).toBe(false);
    expect(h.fake.unit('web', 'web.service')!.invocationId).toBe(invocation);
    expect(startsOf(calls, 'web')).toEqual([]);
    expect(startsOf(calls, 'job')).toEqual([]);
    expect(calls.some((c) => c.endsWith('systemctl --user cat -- web.service'))).toBe(true);
  });

  it('a spec within the policy applies, read back once per unit; without a policy nothing is read back', async () => {
    h.config = h.makeConfig({ policy: { ...POLICY, ports: [[8080, 8080]], programs: ['/usr/bin/true'] } });
    h.commit({ ...BYPASSES, 'job-run.service': '[Service]\nExecStart=/usr/bin/true\n' });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(calls.filter((c) => c.includes('systemctl --user cat')).map((c) => c.slice(c.indexOf('cat')))).toEqual([
      'cat -- api.service',
      'cat -- job-run.service',
      'cat -- job.service',
      'cat -- web.service',
    ]);
    h.config = h.makeConfig({});
    h.commit({ ...CLEAN, 'api.container': containerSpec('localhost/api:2') });
    const next = await h.pass();
    expect(next.result.exitCode).toBe(0);
    expect(next.calls.filter((c) => c.includes('systemctl --user cat'))).toEqual([]);
  });

  describe('a .kube workload', () => {
    const KUBE = '[Kube]\nYaml=app.yaml\n\n[Install]\nWantedBy=default.target\n';
    const yaml = (extra: string) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n${extra}  containers:\n  - name: main\n    image: localhost/app:1\n    imagePullPolicy: Never\n`;
    const KUBE_POLICY = { ...POLICY, host_namespaces: [] };

    it('within the policy applies: the YAML judged before anything is written and read back beside the loaded unit', async () => {
      h.config = h.makeConfig({ policy: KUBE_POLICY });
      h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('') });
      const { result, calls } = await h.pass();
      expect(result.exitCode).toBe(0);
      expect(result.items.map((i) => [i.workload, i.result])).toEqual([['app', 'ok']]);
      expect(calls.some((c) => c.endsWith('systemctl --user cat -- app.service'))).toBe(true);
      expect(h.fake.unit('app', 'app.service')?.activeState).toBe('active');
    });

    it('a YAML on the host\'s network is refused before anything is touched, at its line', async () => {
      h.config = h.makeConfig({ policy: KUBE_POLICY });
      h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('  hostNetwork: true\n') });
      const { result } = await h.pass();
      expect(result.exitCode).toBe(1);
      expect(result.items[0]!.error).toMatch(/^app\.kube: policy rule "host_namespaces": app\.service \(app\.kube\) joins a namespace of the host \(network=host\) \(hostNetwork: true\); this host allows none \(set by app\.yaml:6\)/);
      expect(h.fake.passwd.has('app')).toBe(false);
    });

    it('what systemd loaded is judged on the YAML moor wrote at the path podman kube play reads: a rollback to hostNetwork is refused', async () => {
      h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('  hostNetwork: true\n') });
      expect((await h.pass()).result.exitCode).toBe(0); // generation 1, before any policy
      h.commit({ 'app.kube': KUBE, 'app.yaml': yaml('') });
      expect((await h.pass()).result.exitCode).toBe(0);
      const invocation = h.fake.unit('app', 'app.service')!.invocationId;
      h.config = h.makeConfig({ policy: KUBE_POLICY });
      await (await h.openStore()).pin.pin(1);
      const { result, calls } = await h.pass();
      const app = result.items.find((i) => i.workload === 'app')!;
      expect(app.result).toBe('rolled-back');
      expect(app.error).toMatch(/policy rule "host_namespaces": app\.service joins a namespace of the host \(network=host\) \(ExecStart: containers\/systemd\/app\.yaml:6: hostNetwork: true\)/);
      // The YAML that ran is back, and nothing was (re)started.
      expect(h.fake.userFiles('app').get('.config/containers/systemd/app.yaml')!.content).toBe(yaml(''));
      expect(h.fake.unit('app', 'app.service')!.invocationId).toBe(invocation);
      expect(startsOf(calls, 'app')).toEqual([]);
    });
  });
});
