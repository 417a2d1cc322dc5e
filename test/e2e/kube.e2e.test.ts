// A Kubernetes YAML workload on a real host (docs/repository.md, "Kubernetes YAML
// workloads"): `app.kube` and the Pod YAML it names, alone in the repository, make the
// workload "app": its user, `app.service` running `podman kube play`, the pod it plays.
// A change of the YAML alone restarts it with the new pod; a `Yaml=` reaching out of the
// repository is refused before anything changes; removing the files removes the workload.
// Every assertion reads the guest's own state.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, type Guest, moorGuestForFile } from './guest';

const KUBE = `[Unit]
Description=the app, played from Kubernetes YAML

[Kube]
Yaml=app.yaml

[Install]
WantedBy=default.target
`;

function podYaml(version: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", ${JSON.stringify(BUSYBOX_SERVE_FOREVER.replace(/^\/bin\/sh -c '(.*)'$/, '$1'))}]
    env:
    - name: APP_VERSION
      value: "${version}"
`;
}

const OTHER = `[Container]
Image=${BUSYBOX_IMAGE}
Exec=${BUSYBOX_SERVE_FOREVER}

[Install]
WantedBy=default.target
`;

let guest: Guest;

moorGuestForFile((g) => (guest = g), { graceMs: 10_000 });

const invocation = async () => (await guest.userUnit('app', 'app.service', ['InvocationID'])).InvocationID ?? '';

/** The pod's container's environment, as Podman reports it (kube play names it <pod>-<container>). */
async function containerEnv(): Promise<string> {
  const r = await guest.asUser('app', ['podman', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', 'app-main'], { cwd: '/' });
  expect(r.code, describeExec(r)).toBe(0);
  return r.stdout;
}

describe('a .kube workload', () => {
  let first = '';
  let uid = '';

  it('app.kube and app.yaml alone check clean, and a pass makes the user, starts app.service and plays the pod', async () => {
    await guest.pushRepo({ 'app.kube': KUBE, 'app.yaml': podYaml('1'), 'other.container': OTHER }, { message: 'app from YAML' });
    const checked = await guest.moor(['check', '/srv/git/desired-work']);
    expect(checked.code, describeExec(checked)).toBe(0);

    const { run, item } = await guest.reconcileJson();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('app')).toMatchObject({ action: 'create', result: 'ok' });
    uid = (await guest.run(['id', '-u', 'app'])).stdout.trim();
    expect(uid).toMatch(/^\d+$/);
    expect((await guest.systemctlUser('app', ['is-active', 'app.service'])).stdout.trim()).toBe('active');
    // The YAML lies beside the unit, where Quadlet resolves Yaml=app.yaml.
    expect(await guest.readFile('/home/app/.config/containers/systemd/app.yaml')).toBe(podYaml('1'));
    const pods = await guest.asUser('app', ['podman', 'pod', 'ps', '--format', '{{.Name}} {{.Status}}'], { cwd: '/' });
    expect(pods.stdout.trim(), describeExec(pods)).toBe('app Running');
    expect(await containerEnv()).toContain('APP_VERSION=1');
    first = await invocation();
  });

  it('a change of the YAML alone restarts app.service with the new pod', async () => {
    await guest.pushRepo({ 'app.kube': KUBE, 'app.yaml': podYaml('2'), 'other.container': OTHER }, { message: 'app YAML v2' });
    const { run, item } = await guest.reconcileJson();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('app')).toMatchObject({ action: 'update', result: 'ok' });
    expect(item('other')).toMatchObject({ action: 'unchanged' });
    expect(await invocation()).not.toBe(first);
    expect((await guest.systemctlUser('app', ['is-active', 'app.service'])).stdout.trim()).toBe('active');
    expect(await containerEnv()).toContain('APP_VERSION=2');
  });

  it('Yaml=../../etc/passwd is refused by check and by the pass, and the running pod is left as it runs', async () => {
    const running = await invocation();
    const hostile = KUBE.replace('Yaml=app.yaml', 'Yaml=../../etc/passwd');
    await guest.pushRepo({ 'app.kube': hostile, 'app.yaml': podYaml('3'), 'other.container': OTHER }, { message: 'app reads the host' });
    const checked = await guest.moor(['check', '/srv/git/desired-work']);
    expect(checked.code, describeExec(checked)).toBe(2);
    expect(checked.stdout + checked.stderr).toMatch(/app\.kube:5: Yaml=\.\.\/\.\.\/etc\/passwd in \[Kube\] leaves the unit's directory/);

    const { run, item } = await guest.reconcileJson();
    expect(run.code, describeExec(run)).toBe(1);
    expect(item('app')?.result).toBe('failed');
    expect(await invocation()).toBe(running);
    expect(await guest.readFile('/home/app/.config/containers/systemd/app.kube')).toContain('Yaml=app.yaml');
    expect(await containerEnv()).toContain('APP_VERSION=2');
  });

  it('removing its files removes the workload: unit, pod and user', async () => {
    await guest.pushRepo({ 'other.container': OTHER }, { message: 'app gone' });
    const { run, item } = await guest.reconcileJson();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('app')).toMatchObject({ action: 'remove', result: 'ok' });
    expect((await guest.exec(['getent', 'passwd', 'app'])).code).toBe(2);
    // Nothing of the uid runs any more: no pod, no conmon, no pause process.
    const left = await guest.exec(['pgrep', '-a', '-u', uid]);
    expect(left.code, describeExec(left)).toBe(1);
    expect((await guest.exec(['test', '-e', '/home/app'])).code).not.toBe(0);
  });
});
