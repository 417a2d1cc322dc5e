// The host policy on `.kube` workloads against a real host (docs/policy.md, "A .kube and its
// Kubernetes YAML"): a YAML within the policy runs, its unit as Quadlet really generates it
// (`podman kube play ... /home/app/.config/containers/systemd/app.yaml`) read back and
// judged on the YAML moor wrote at that path; a YAML publishing a host port the policy
// forbids, and one joining the host's network through a merge key (which Podman honours),
// fail their workloads with the YAML's line, before any user of theirs exists.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, type Guest, GUEST_MOOR_CONFIG, moorGuestForFile } from './guest';

const POLICY = `
[policy]
images = ["localhost/*"]
ports = []
privileged = false
host_namespaces = []
pull = ["never"]
programs = []
`;

const kube = (name: string) => `[Kube]\nYaml=${name}.yaml\n\n[Install]\nWantedBy=default.target\n`;

function podYaml(name: string, spec = '', container = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
${spec}spec:
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", ${JSON.stringify(BUSYBOX_SERVE_FOREVER.replace(/^\/bin\/sh -c '(.*)'$/, '$1'))}]
${container}`;
}

let guest: Guest;

moorGuestForFile((g) => (guest = g), { graceMs: 10_000 });

describe('.kube workloads under a host policy', () => {
  it('runs a YAML within it (judged as loaded on the file beside the unit); refuses a hostPort and a merge key onto the host network', async () => {
    await guest.writeFile('/etc/moor/config.toml', GUEST_MOOR_CONFIG + POLICY);
    await guest.pushRepo(
      {
        'app.kube': kube('app'),
        'app.yaml': podYaml('app'),
        'open.kube': kube('open'),
        'open.yaml': podYaml('open', '', '    ports:\n    - containerPort: 80\n      hostPort: 9000\n'),
        'merged.kube': kube('merged'),
        // Podman merges `<<: *host` into the spec: the pod would run on the host's network.
        'merged.yaml': podYaml('merged', 'x-host: &host {hostNetwork: true}\n').replace('spec:\n', 'spec:\n  <<: *host\n'),
      },
      { message: 'three YAML workloads' },
    );
    const { run, item } = await guest.reconcileJson();
    expect(run.code, describeExec(run)).toBe(1);
    expect(item('app'), describeExec(run)).toMatchObject({ action: 'create', result: 'ok' });
    expect(item('open')?.error).toMatch(/^open\.kube: policy rule "ports": open\.service \(open\.kube\) publishes host port 9000 \(hostPort: 9000\); this host allows none \(set by open\.yaml:13\)/);
    expect(item('merged')?.error).toMatch(/merged\.kube: policy rule "judgeable": merged\.service \(merged\.kube\) cannot be judged: a merge key \(<<\): write the fields out \(<<\) \(set by merged\.yaml:7\)/);
    expect(item('merged')?.error).toMatch(/cannot be judged: an alias \(\*name\): write the value out \(\*host\) \(set by merged\.yaml:7\)/);

    // What ran was judged as systemd loaded it: Quadlet's own kube play line, naming the YAML beside the unit.
    const loaded = await guest.systemctlUser('app', ['cat', 'app.service']);
    expect(loaded.stdout).toMatch(/^ExecStart=\/usr\/bin\/podman kube play --replace --service-container=true .*\/home\/app\/\.config\/containers\/systemd\/app\.yaml$/m);
    expect((await guest.systemctlUser('app', ['is-active', 'app.service'])).stdout.trim()).toBe('active');
    const pods = await guest.asUser('app', ['podman', 'pod', 'ps', '--format', '{{.Name}} {{.Status}}'], { cwd: '/' });
    expect(pods.stdout.trim(), describeExec(pods)).toBe('app Running');

    // Nothing of the refused ones: no user, so no unit and no pod.
    for (const user of ['open', 'merged']) expect((await guest.exec(['getent', 'passwd', user])).code).toBe(2);
  });
});
