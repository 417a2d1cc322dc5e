import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMoor } from '../helpers/cli';
import { isValidUserName, reservedNameEntry } from '../../daemon/core/user-name';

const root = mkdtempSync(join(tmpdir(), 'moor-cli-check-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// An empty config: defaults only, whatever this machine has in /etc/moor.
writeFileSync(join(root, 'config.toml'), '');
const noConfig = ['--config', join(root, 'config.toml')];

function write(dir: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const container = '[Container]\nImage=localhost/busybox:latest\n';

describe('moor check', () => {
  it('exits 0 on the shipped example and lists its workloads', () => {
    const r = runMoor(['check', 'examples/repo', '--transforms', 'transforms']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok: 3 workloads valid/);
    expect(r.stdout).toMatch(/web \(user web\): .*web-nightly\.timer/);
    expect(r.stdout).toMatch(/hello \(user hello\): hello\.service/);
  });

  it('lists every problem of a hostile repo at once and exits 2', () => {
    const repo = write(join(root, 'hostile'), {
      'good.container': container,
      '..bad.container': container,
      'Root.container': container,
      'a/web.container': container,
      'b/web.container': container,
      'nogroup/other.container': container,
      'big.container': `${container}# ${'x'.repeat(5 * 1024 * 1024)}\n`,
      'x-y.service': '[Service]\nExecStart=/bin/true\n',
    });
    symlinkSync('/etc/shadow', join(repo, 'evil.container'));
    const transforms = write(join(root, 'hostile-transforms'), { 'a.container': '[Container]\nLabel=a=1\n', 'b.container': '[Container]\nLabel=b=1\n' });
    const r = runMoor([...noConfig, 'check', repo, '--transforms', transforms, '--json']);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; problems: { path: string; code: string }[] };
    expect(out.ok).toBe(false);
    const found = out.problems.map((p) => `${p.code} ${p.path}`);
    for (const want of [
      /^symlink evil\.container$/,
      /^(dot-dot|hidden-file) \.\.bad\.container$/,
      /^invalid-user-name Root\.container$/,
      /^duplicate-stem [ab]\/web\.container$/,
      /^unknown-group nogroup\/$/,
      /^too-large big\.container$/,
      /^orphan x-y\.service$/,
    ]) {
      expect(found.some((f) => want.test(f)), `${want} in ${found.join(', ')}`).toBe(true);
    }
  });

  it('prints file:line and a fix for people', () => {
    const repo = write(join(root, 'lines'), { 'web.container': '[Unit]\nDescription=x\n\n[Container]\nExec=true\n' });
    const r = runMoor([...noConfig, 'check', repo, '--transforms', join(root, 'none')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^web\.container:4: .*Image.*\(fix: .+\)$/m);
  });

  it('exits 2 for a directory that does not exist', () => {
    const r = runMoor([...noConfig, 'check', join(root, 'missing')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a directory/);
  });
});

describe('moor render', () => {
  it('applies base then group transforms with all four rules', () => {
    const r = runMoor(['render', 'examples/repo/apps/api.container', '--transforms', 'transforms']);
    expect(r.code).toBe(0);
    const out = r.stdout;
    // +Key= prepended before the spec's own Environment=
    expect(out.indexOf('Environment=DEPLOYED_BY=moor')).toBeLessThan(out.indexOf('Environment=MODE=production'));
    // !Key= forced over the spec's Pull=
    expect(out).toMatch(/^Pull=never$/m);
    expect(out).not.toMatch(/Pull=always/);
    // -Key= removed the spec's PublishPort=
    expect(out).not.toMatch(/PublishPort/);
    // Key= defaults from the base (label with {{name}}) and the group
    expect(out).toMatch(/^Label=moor\.workload=api$/m);
    expect(out).toMatch(/^EnvironmentFile=%h\/\.config\/moor\/files\/api\.env$/m);
    // a section the spec lacks comes from the base
    expect(out).toMatch(/^\[Service\]\nRestart=on-failure$/m);
  });

  it('exits 2 when a transform breaks a valid spec, naming the transform', () => {
    const transforms = write(join(root, 'breaking'), { '_base.container': '[Container]\n-Image=\n' });
    const repo = write(join(root, 'breaking-repo'), { 'web.container': container });
    const r = runMoor([...noConfig, 'render', join(repo, 'web.container'), '--transforms', transforms]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/_base\.container/);
  });
});

describe('moor check and names that cannot reach privilege', () => {
  it('refuses a reserved workload name with its file, and exits 2', () => {
    const repo = write(join(root, 'reserved'), { 'docker.container': container, 'web.container': container });
    const r = runMoor([...noConfig, 'check', repo, '--transforms', join(root, 'none'), '--json']);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { problems: { path: string; code: string }[]; workloads: { name: string; valid: boolean }[] };
    expect(out.problems.map((p) => `${p.code} ${p.path}`)).toEqual(['reserved-user-name docker.container']);
    expect(out.workloads.map((w) => `${w.name} ${w.valid}`)).toEqual(['docker false', 'web true']);
  });

  // A group this machine has whose name the reserved list does not cover.
  const hostGroup = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .map((l) => l.split(':')[0] ?? '')
    .find((n) => isValidUserName(n) && reservedNameEntry(n) === undefined && n !== 'root');

  it.skipIf(hostGroup === undefined)('refuses a name that is a group of the host it runs on', () => {
    const repo = write(join(root, 'host-group'), { [`${hostGroup}.container`]: container });
    const r = runMoor([...noConfig, 'check', repo, '--transforms', join(root, 'none')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${hostGroup}.container: a group named "${hostGroup}" already exists on this host`);
  });
});

describe('moor check under a host policy', () => {
  const policyConfig = join(root, 'policy.toml');
  writeFileSync(policyConfig, '[policy]\nports = []\npull = ["never"]\nprivileged = false\n');

  it('reports a PodmanArgs= bypass and a plain service running podman, with file, line and rule; exits 2', () => {
    const repo = write(join(root, 'policy-repo'), {
      'shopfront.container': '[Container]\nImage=localhost/shop:1\nPull=never\nPodmanArgs=--publish 8080:80 --pull=always\n',
      'nightly.container': '[Container]\nImage=localhost/nightly:1\nPull=never\n',
      'nightly-run.service': '[Service]\nExecStart=/usr/bin/podman run --pull=never -p 8081:80 localhost/nightly:1\n',
      'nightly-sh.service': "[Service]\nExecStart=/bin/sh -c 'podman run --privileged localhost/x'\n",
      'fine.container': '[Container]\nImage=localhost/fine:1\nPull=never\n',
    });
    const r = runMoor(['--config', policyConfig, 'check', repo, '--transforms', join(root, 'none')]);
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines).toContain(
      'shopfront.container:4: policy rule "ports": shopfront.service (shopfront.container) publishes host port 8080 (PodmanArgs=--publish 8080:80); this host allows none (fix: remove it from the spec, or allow it in the host\'s [policy] ports)',
    );
    expect(lines.some((l) => l.startsWith('shopfront.container:4: policy rule "pull": shopfront.service (shopfront.container) pulls images with policy "always" (PodmanArgs=--pull=always)'))).toBe(true);
    expect(lines.some((l) => l.startsWith('nightly-run.service:2: policy rule "ports": nightly-run.service (nightly-run.service) publishes host port 8081'))).toBe(true);
    expect(lines.some((l) => l.startsWith('nightly-sh.service:2: policy rule "programs": nightly-sh.service (nightly-sh.service) runs /bin/sh'))).toBe(true);
    const json = JSON.parse(runMoor(['--config', policyConfig, 'check', repo, '--transforms', join(root, 'none'), '--json']).stdout) as { workloads: { name: string; valid: boolean }[] };
    expect(json.workloads.map((w) => `${w.name} ${w.valid}`)).toEqual(['fine true', 'nightly false', 'shopfront false']);
  });

  it('judges what a .kube\'s Kubernetes YAML runs: its violations name the YAML line; a compliant YAML passes', () => {
    const kubePolicy = join(root, 'kube-policy.toml');
    writeFileSync(kubePolicy, '[policy]\nports = [8080]\npull = ["never"]\nhost_namespaces = []\nhost_paths = []\nprivileged = false\nimages = ["localhost/*"]\n');
    const yaml = (extra: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n${extra}  containers:\n  - name: app\n    image: localhost/app:1\n    imagePullPolicy: Never\n    ports:\n    - containerPort: 80\n      hostPort: 8080\n`;
    const spec = { 'web.container': '[Container]\nImage=localhost/web:1\nPull=never\n', 'web-app.kube': '[Kube]\nYaml=web-app.yaml\n' };
    const bad = write(join(root, 'kube-bad'), { ...spec, 'web-app.yaml': yaml('  hostNetwork: true\n  volumes:\n  - name: root\n    hostPath:\n      path: /\n') });
    const r = runMoor(['--config', kubePolicy, 'check', bad, '--transforms', join(root, 'none')]);
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines.some((l) => l.startsWith('web-app.kube: policy rule "host_namespaces": web-app.service (web-app.kube) joins a namespace of the host (network=host) (hostNetwork: true); this host allows none (set by web-app.yaml:6)'))).toBe(true);
    expect(lines.some((l) => l.startsWith('web-app.kube: policy rule "host_paths": web-app.service (web-app.kube) mounts host path / (hostPath: /); this host allows none (set by web-app.yaml:10)'))).toBe(true);
    const good = write(join(root, 'kube-good'), { ...spec, 'web-app.yaml': yaml('') });
    expect(runMoor(['--config', kubePolicy, 'check', good, '--transforms', join(root, 'none')]).code).toBe(0);
  });

  it('without a [policy] table the same repo is fine', () => {
    const r = runMoor([...noConfig, 'check', join(root, 'policy-repo'), '--transforms', join(root, 'none')]);
    expect(r.code).toBe(0);
  });
});
