import { describe, expect, it } from 'vitest';
import { judge, kubeYamlFacts, loadedViolations, podmanFacts, policyProblems, quadletFacts, type Fact, type Policy } from '../../daemon/core/policy';
import { defaultPull } from '../../daemon/core/policy/kube-yaml';
import { parseUnit } from '../../daemon/core/unit-file';

const strict: Policy = {
  programs: [],
  images: ['docker.io/library/*', 'localhost/*'],
  ports: [[8000, 8099]],
  hostPaths: ['/srv/shared'],
  privileged: false,
  capabilities: ['NET_BIND_SERVICE'],
  hostNamespaces: [],
  devices: [],
  pull: ['never', 'missing'],
};
const facts = (content: string) => kubeYamlFacts({ path: 'apps/app.yaml', content });
const kinds = (f: Fact[]) => f.map((x) => `${x.kind} ${x.value}`);
const at = (f: Fact[]) => f.map((x) => `${x.line} ${x.kind} ${x.value}`);
const unjudgeable = (f: Fact[]) => f.filter((x) => x.kind === 'unjudgeable').map((x) => `${x.line} ${x.value}`);

/** A pod with one container, extra lines indented into spec and the container. */
const pod = (specLines = '', containerLines = '', meta = '') => `apiVersion: v1
kind: Pod
metadata:
  name: web
${meta}spec:
${specLines}  containers:
  - name: web
    image: docker.io/library/nginx:1.25
    imagePullPolicy: IfNotPresent
${containerLines}`;

describe('kubeYamlFacts: what a pod runs', () => {
  it('a plain pod: its image and pull policy, at their lines, the YAML as source', () => {
    const f = facts(pod());
    expect(f).toEqual([
      { kind: 'image', value: 'docker.io/library/nginx:1.25', as: 'image: docker.io/library/nginx:1.25', line: 8, source: 'apps/app.yaml' },
      { kind: 'pull', value: 'missing', as: 'imagePullPolicy: IfNotPresent', line: 9, source: 'apps/app.yaml' },
    ]);
    expect(judge(strict, f, 'web.service')).toEqual([]);
  });

  it('host namespaces: hostNetwork (with the host UTS), hostPID, hostIPC, hostUsers: true', () => {
    expect(at(facts(pod('  hostNetwork: true\n  hostPID: true\n  hostIPC: true\n  hostUsers: true\n')).filter((x) => x.kind === 'namespace'))).toEqual([
      '6 namespace network=host',
      '6 namespace uts=host',
      '7 namespace pid=host',
      '8 namespace ipc=host',
      '9 namespace userns=host',
    ]);
    expect(kinds(facts(pod('  hostNetwork: false\n  hostUsers: false\n  shareProcessNamespace: true\n')))).not.toContainEqual(expect.stringMatching(/^namespace/));
  });

  it('hostPath volumes: host paths, devices by type, a literal % refused', () => {
    const spec = '  volumes:\n  - name: root\n    hostPath:\n      path: /\n  - name: fuse\n    hostPath: {path: /dev/fuse, type: CharDevice}\n  - name: data\n    hostPath: {path: /srv/shared/x, type: DirectoryOrCreate}\n  - name: trick\n    hostPath: {path: "/srv/shared/%h/../.."}\n';
    const f = facts(pod(spec));
    expect(at(f).filter((x) => !/image|pull/.test(x))).toEqual(['9 host-path /', '11 device /dev/fuse', '13 host-path /srv/shared/x', expect.stringMatching(/^15 unjudgeable the host path "\/srv\/shared\/%h\/\.\.\/\.\."/)]);
    expect(judge(strict, f, 'w').map((v) => v.rule)).toEqual(['host_paths', 'devices', 'judgeable']);
  });

  it('other volumes: data and named volumes are fine, an image volume is an image', () => {
    const spec =
      '  volumes:\n  - {name: a, configMap: {name: cm}}\n  - {name: b, secret: {secretName: s}}\n  - {name: c, emptyDir: {}}\n  - {name: d, persistentVolumeClaim: {claimName: p}}\n  - {name: e, image: {reference: quay.io/evil/x:1, pullPolicy: Always}}\n';
    expect(kinds(facts(pod(spec)))).toEqual(['image quay.io/evil/x:1', 'pull always', 'image docker.io/library/nginx:1.25', 'pull missing']);
  });

  it('ports: hostPort is published, a containerPort alone only with --publish-all', () => {
    const c = '    ports:\n    - containerPort: 80\n      hostPort: 8080\n    - containerPort: 443\n';
    expect(kinds(facts(pod('', c))).filter((x) => x.startsWith('publish'))).toEqual(['publish 8080']);
    const all = kubeYamlFacts({ path: 'a.yaml', content: pod('', c) }, { publishAll: true });
    expect(kinds(all).filter((x) => x.startsWith('publish'))).toEqual(['publish 8080', 'publish 443']);
    expect(judge(strict, facts(pod('', '    ports:\n    - {containerPort: 80, hostPort: 22}\n')), 'w').map((v) => v.rule)).toEqual(['ports']);
  });

  it('security contexts: privileged, capabilities, spc_t, unconfined profiles, an unmasked /proc', () => {
    const c =
      '    securityContext:\n      privileged: true\n      capabilities: {add: [NET_ADMIN, cap_net_bind_service], drop: [ALL]}\n      seLinuxOptions: {type: spc_t}\n      seccompProfile: {type: Unconfined}\n      appArmorProfile: {type: Unconfined}\n      procMount: Unmasked\n';
    expect(kinds(facts(pod('', c))).slice(2)).toEqual(['privileged --privileged', 'capability NET_ADMIN', 'capability NET_BIND_SERVICE', 'privileged label=type:spc_t', 'privileged seccomp=unconfined', 'privileged apparmor=unconfined', 'privileged unmask=ALL']);
    const podLevel = '  securityContext:\n    runAsUser: 1000\n    seLinuxOptions: {type: spc_t}\n    seccompProfile: {type: Localhost, localhostProfile: x.json}\n';
    expect(kinds(facts(pod(podLevel)))).toEqual(['privileged label=type:spc_t', 'unjudgeable the seccomp profile "Localhost" is not one moor can judge', 'image docker.io/library/nginx:1.25', 'pull missing']);
    expect(kinds(facts(pod('', '    securityContext: {privileged: false, runAsNonRoot: true, allowPrivilegeEscalation: false}\n'))).slice(2)).toEqual([]);
  });

  it('init containers, Deployments, DaemonSets and Jobs are judged like pods', () => {
    const init = pod('  initContainers:\n  - name: init\n    image: quay.io/evil/init\n    securityContext: {privileged: true}\n');
    expect(kinds(facts(init))).toContain('image quay.io/evil/init');
    expect(kinds(facts(init))).toContain('privileged --privileged');
    for (const kind of ['Deployment', 'DaemonSet', 'Job']) {
      const doc = `apiVersion: apps/v1\nkind: ${kind}\nmetadata:\n  name: web\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: true\n      containers:\n      - name: web\n        image: localhost/x:1\n`;
      expect(at(facts(doc))).toEqual(['11 namespace network=host', '11 namespace uts=host', '14 image localhost/x:1', '14 pull missing']);
    }
  });

  it('resources: a CDI device or podman.io/device is a device; cpu and memory are not', () => {
    const c = '    resources:\n      limits: {cpu: "1", memory: 1Gi, "podman.io/device=/dev/kmsg": "1", "nvidia.com/gpu=all": "1"}\n';
    expect(kinds(facts(pod('', c))).filter((x) => x.startsWith('device'))).toEqual(['device /dev/kmsg', 'device nvidia.com/gpu=all']);
  });

  it('a volumeMount subPath that leaves its volume is not judged', () => {
    const spec = '  volumes:\n  - {name: shared, hostPath: {path: /srv/shared}}\n';
    expect(unjudgeable(facts(pod(spec, '    volumeMounts:\n    - {name: shared, mountPath: /s, subPath: ../../etc}\n')))).toEqual([expect.stringMatching(/^13 the subPath "\.\.\/\.\.\/etc" leaves its volume/)]);
    expect(unjudgeable(facts(pod(spec, '    volumeMounts:\n    - {name: shared, mountPath: /s, subPath: app/data, readOnly: true}\n')))).toEqual([]);
  });

  it('harmless fields give no fact: env, command, probes, restartPolicy, labels, status', () => {
    const c = '    env: [{name: A, value: "1"}]\n    command: [sh, -c, "podman run --privileged x"]\n    args: [a]\n    workingDir: /app\n    livenessProbe: {exec: {command: [true]}}\n    volumeMounts: [{name: a, mountPath: /a}]\n    resources: {}\n';
    const f = facts(pod('  restartPolicy: Always\n  hostname: web\n', c, '  labels: {app: web}\n') + 'status: {}\n');
    expect(kinds(f)).toEqual(['image docker.io/library/nginx:1.25', 'pull missing']);
  });

  it('the default pull policy is podman kube play\'s: newer for an untagged or :latest full name', () => {
    expect(defaultPull('docker.io/library/nginx')).toBe('newer');
    expect(defaultPull('localhost/busybox:latest')).toBe('newer');
    expect(defaultPull('quay.io/a/b@sha256:0123')).toBe('newer');
    expect(defaultPull('quay.io/a/b:1.2')).toBe('missing');
    expect(defaultPull('nginx')).toBe('missing');
    expect(defaultPull('docker.io/nginx')).toBe('missing');
    expect(kinds(facts('kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: a, image: localhost/x}\n'))).toEqual(['image localhost/x', 'pull newer']);
    expect(kinds(facts('kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: a, image: localhost/x, imagePullPolicy: Never}\n'))).toEqual(['image localhost/x', 'pull never']);
    expect(kinds(facts('kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: a, image: localhost/x, imagePullPolicy: Sometimes}\n'))[1]).toMatch(/^unjudgeable the pull policy "Sometimes"/);
  });
});

describe('kubeYamlFacts: annotations', () => {
  const meta = (lines: string) => `  annotations:\n${lines}`;
  it('judges those podman reads', () => {
    const a = meta(
      '    io.podman.annotations.userns: host\n    io.podman.annotations.label/web: disable\n    io.podman.annotations.seccomp/web: unconfined\n    seccomp.security.alpha.kubernetes.io/pod: unconfined\n    container.apparmor.security.beta.kubernetes.io/web: unconfined\n    io.podman.annotations.cid-file/web: /etc/passwd\n    io.podman.annotations.kube.image.volumes.mount/web: quay.io/evil/data\n    io.podman.annotations.publish-all/web: "true"\n    volume.podman.io/device: /etc\n',
    );
    expect(at(facts(pod('', '', a)).filter((f) => f.line! < 15))).toEqual([
      '6 namespace userns=host',
      '7 privileged label=disable',
      '8 privileged seccomp=unconfined',
      '9 privileged seccomp=unconfined',
      '10 privileged apparmor=unconfined',
      '11 host-path /etc/passwd',
      '12 image quay.io/evil/data',
      '13 publish-all every exposed port',
      '14 host-path /etc',
    ]);
  });
  it('refuses any other under a prefix podman or the runtime reads, ignores plain metadata', () => {
    const a = meta('    run.oci.handler: krun\n    io.podman.annotations.privileged: "TRUE"\n    org.systemd.property.Delegate: "yes"\n    app.kubernetes.io/name: web\n    description: a web server\n    io.containers.autoupdate: registry\n');
    expect(unjudgeable(facts(pod('', '', a)))).toEqual([
      '6 the annotation run.oci.handler: podman or the container runtime reads it in ways moor does not judge',
      '7 the annotation io.podman.annotations.privileged: podman or the container runtime reads it in ways moor does not judge',
      '8 the annotation org.systemd.property.Delegate: podman or the container runtime reads it in ways moor does not judge',
    ]);
  });
  it('volumes-from: a container of the pod is fine, any other is not judged', () => {
    const twoContainers = (from: string) => `kind: Pod\nmetadata:\n  name: p\n  annotations:\n    io.podman.annotations.volumes-from/b: ${from}\nspec:\n  containers:\n  - {name: a, image: localhost/a:1}\n  - {name: b, image: localhost/b:1}\n`;
    expect(unjudgeable(facts(twoContainers('a')))).toEqual([]);
    expect(unjudgeable(facts(twoContainers('other-ctr:ro')))).toEqual([expect.stringMatching(/^5 .*"other-ctr", not a container this pod makes before b/)]);
    // Podman resolves a name it has not made yet to any container of the user of that name.
    const later = twoContainers('a').replace('volumes-from/b: a', 'volumes-from/a: b');
    expect(unjudgeable(facts(later))).toEqual([expect.stringMatching(/"b", not a container this pod makes before a/)]);
  });
  it('a read annotation must be a plain string', () => {
    expect(unjudgeable(facts(pod('', '', meta('    io.podman.annotations.init/web: true\n'))))).toEqual([expect.stringMatching(/^6 the annotation io\.podman\.annotations\.init\/web "true" could be read as a number, a boolean or null: quote it/)]);
  });
});

describe('kubeYamlFacts: other kinds, and what cannot be read for sure', () => {
  it('PersistentVolumeClaim: volume.podman.io annotations; ConfigMap and Secret are data', () => {
    const pvc = 'kind: PersistentVolumeClaim\nmetadata:\n  name: data\n  annotations:\n    volume.podman.io/driver: local\n    volume.podman.io/device: /srv/other\n    volume.podman.io/import-source: /etc/shadow\n    volume.podman.io/image: quay.io/evil/x\n    volume.podman.io/mount-options: bind\n    volume.podman.io/nope: x\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n';
    expect(at(facts(pvc))).toEqual(['6 host-path /srv/other', '7 host-path /etc/shadow', '8 image quay.io/evil/x', '10 unjudgeable the annotation volume.podman.io/nope: not a volume option moor knows']);
    expect(kinds(facts('kind: PersistentVolumeClaim\nmetadata:\n  name: d\n  annotations: {volume.podman.io/driver: some-plugin}\n'))[0]).toMatch(/plugin moor cannot judge/);
    expect(facts('kind: ConfigMap\nmetadata: {name: c}\ndata:\n  anything: "hostNetwork: true"\n  yes: on\n---\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n')).toEqual([]);
  });
  it('multi-document files and Lists: each document at its own lines', () => {
    const f = facts(`kind: ConfigMap\nmetadata: {name: c}\n---\n${pod()}---\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: b}\n  spec:\n    hostPID: true\n    containers: [{name: b, image: localhost/b:1}]\n`);
    expect(at(f)).toEqual(['11 image docker.io/library/nginx:1.25', '12 pull missing', '19 namespace pid=host', '20 image localhost/b:1', '20 pull missing']);
  });
  it('unknown kinds, unknown fields, other spellings of known ones are unjudgeable', () => {
    expect(unjudgeable(facts('kind: Service\nmetadata: {name: s}\n'))).toEqual([expect.stringMatching(/^1 the kind "Service" is not one moor judges/)]);
    expect(unjudgeable(facts('apiVersion: v1\nmetadata: {name: s}\n'))).toEqual([expect.stringMatching(/^1 a document without a kind/)]);
    expect(unjudgeable(facts('kind: ~\nspec: {hostNetwork: true}\n'))).toEqual([expect.stringMatching(/^1 a document without a kind/)]);
    // encoding/json matches HostNetwork (and hoſtNetwork) to hostNetwork: Podman 5.4 runs such a pod on the host's network.
    expect(unjudgeable(facts(pod('  HostNetwork: true\n')))).toEqual([expect.stringMatching(/^6 the pod spec: the field "HostNetwork" is not one moor knows/)]);
    expect(unjudgeable(facts(pod('  hoſtNetwork: true\n')))).toHaveLength(1);
    expect(unjudgeable(facts(pod('', '    volumeDevices: []\n')))).toEqual([expect.stringMatching(/the field "volumeDevices"/)]);
    expect(unjudgeable(facts(pod('  volumes:\n  - name: n\n    nfs: {server: x, path: /}\n')))).toEqual([expect.stringMatching(/the field "nfs"/)]);
    expect(unjudgeable(facts('kind: Pod\nKind: Pod\nmetadata: {name: a}\n'))).toEqual([expect.stringMatching(/the field "Kind"/)]);
  });
  it('YAML 1.1 booleans and octals, quoted booleans: only true/false and plain decimals', () => {
    for (const v of ['yes', 'on', 'y', '"true"', "'true'", '1']) {
      expect(unjudgeable(facts(pod(`  hostNetwork: ${v}\n`))), v).toEqual([expect.stringMatching(/^6 hostNetwork must be true or false/)]);
    }
    expect(unjudgeable(facts(pod('', '    ports: [{containerPort: 80, hostPort: 010}]\n')))).toEqual([expect.stringMatching(/hostPort must be a plain decimal number/)]);
    expect(unjudgeable(facts(pod('', '    ports: [{containerPort: 80, hostPort: "8080"}]\n')))).toEqual([expect.stringMatching(/hostPort must be a plain decimal number/)]);
    expect(unjudgeable(facts(pod('', '    securityContext: {privileged: on}\n')))).toHaveLength(1);
    // A field name YAML 1.1 reads as a boolean is not the name it looks like.
    expect(unjudgeable(facts(pod('  on: x\n')))).toEqual([expect.stringMatching(/"on" could be read as a number, a boolean or null/)]);
    expect(unjudgeable(facts(pod('  volumes:\n  - name: n\n    hostPath: {path: 1.5}\n')))).toEqual([expect.stringMatching(/hostPath path "1\.5" could be read as a number/)]);
    expect(unjudgeable(facts(pod('  volumes:\n  - name: n\n    hostPath: {path: .inf}\n')))).toEqual([expect.stringMatching(/hostPath path "\.inf" could be read as a number/)]);
  });
  it('aliases, merge keys, tags, duplicate keys and parse errors are refused, never expanded', () => {
    expect(unjudgeable(facts(`${pod()}    securityContext: &sc {privileged: false}\n---\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers:\n  - name: b\n    image: localhost/b:1\n    securityContext: *sc\n`))).toEqual([
      expect.stringMatching(/^18 an alias/),
    ]);
    // Podman's yaml.v3 merges `<<: *m` into the mapping; moor refuses it.
    expect(unjudgeable(facts(pod('  <<: {hostNetwork: true}\n')))).toEqual([expect.stringMatching(/^6 a merge key/)]);
    expect(unjudgeable(facts(pod('  hostNetwork: !!bool false\n')))).toEqual([expect.stringMatching(/^6 (a tag|not YAML podman reads the same: Unresolved tag: tag:yaml.org,2002:bool)/)]);
    expect(unjudgeable(facts(pod('', '    workingDir: !custom /x\n')))).toHaveLength(1);
    expect(unjudgeable(facts(pod('  hostNetwork: false\n  hostNetwork: true\n')))).toEqual([expect.stringMatching(/^7 not YAML podman reads the same: Map keys must be unique/)]);
    expect(unjudgeable(facts('kind: Pod\nspec: [1\n'))).toEqual([expect.stringMatching(/^\d+ not YAML podman reads the same/)]);
    expect(unjudgeable(facts('- a\n- b\n'))).toEqual(['1 a document that is not a mapping']);
    expect(facts('')).toEqual([]);
    expect(facts('---\n---\n~\n')).toEqual([]);
    // A billion laughs: refused at its first alias, in no time and memory.
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`), 'kind: Pod'].join('\n');
    const started = performance.now();
    expect(unjudgeable(facts(bomb)).length).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('a .kube and podman kube play', () => {
  const yaml = { path: 'web-app.yaml', content: pod('  hostNetwork: true\n', '    ports: [{containerPort: 80, hostPort: 9000}]\n') };
  const fileOf = (name: string) => (name === 'web-app.yaml' ? yaml : undefined);
  const kube = (text: string) => parseUnit(text, 'web.kube').unit;

  it('the .kube\'s keys: PublishPort, Network, UserNS, PodmanArgs through kube play\'s options, Yaml= by its facts', () => {
    const f = quadletFacts('kube', kube('[Kube]\nYaml=./web-app.yaml\nConfigMap=cm.yaml\nPublishPort=8080:80\nNetwork=host\nUserNS=keep-id\nPodmanArgs=--annotation io.podman.annotations.userns=host --build\nAutoUpdate=registry\n'), () => undefined, fileOf);
    expect(kinds(f)).toEqual([
      'namespace userns=host',
      'unjudgeable podman kube play --build builds images from Containerfiles next to the YAML',
      'publish 8080',
      'namespace network=host',
      'namespace network=host',
      'namespace uts=host',
      'image docker.io/library/nginx:1.25',
      'pull missing',
      'publish 9000',
    ]);
    expect(kinds(quadletFacts('kube', kube('[Kube]\nYaml=web-app.yaml\nPodmanArgs=--no-such-flag\n'), () => undefined, fileOf))[0]).toMatch(/^unjudgeable PodmanArgs=: the option --no-such-flag/);
    expect(kinds(quadletFacts('kube', kube('[Kube]\nYaml="web-app.yaml"\n'), () => undefined, fileOf))).toContain('publish 9000');
    for (const y of ['other.yaml', '/srv/app.yaml', '%h/app.yaml', '../web-app.yaml']) {
      expect(kinds(quadletFacts('kube', kube(`[Kube]\nYaml=${y}\n`), () => undefined, fileOf)), y).toEqual([expect.stringMatching(/^unjudgeable Yaml=.* is not a file of this workload/)]);
    }
  });

  it('moor check: a violation in the YAML names the .kube and the YAML line', () => {
    const files = [{ path: 'web.kube', name: 'web.kube', ext: 'kube', kind: 'quadlet' as const, unit: kube('[Kube]\nYaml=web-app.yaml\n'), unitName: 'web.service' }];
    const problems = policyProblems(strict, 'web', files, fileOf);
    expect(problems.map((p) => `${p.path}:${p.line ?? ''} ${p.code} ${p.message}`)).toEqual([
      'web.kube: policy-host-namespaces policy rule "host_namespaces": web.service (web.kube) joins a namespace of the host (network=host) (hostNetwork: true); this host allows none (set by web-app.yaml:6)',
      'web.kube: policy-host-namespaces policy rule "host_namespaces": web.service (web.kube) joins a namespace of the host (uts=host) (hostNetwork: true); this host allows none (set by web-app.yaml:6)',
      'web.kube: policy-ports policy rule "ports": web.service (web.kube) publishes host port 9000 (hostPort: 9000); this host allows 8000-8099 (set by web-app.yaml:11)',
    ]);
    const clean = { path: 'web-app.yaml', content: pod('', '    ports: [{containerPort: 80, hostPort: 8080}]\n') };
    expect(policyProblems(strict, 'web', files, () => clean)).toEqual([]);
    // Without a policy nothing is judged (the caller does not call it); with no resolver the YAML is unjudgeable.
    expect(policyProblems(strict, 'web', files).map((p) => p.code)).toEqual(['policy-judgeable']);
  });

  it('podmanFacts: kube play through its options and the YAML at its path, kube down is harmless', () => {
    const path = '/home/web/.config/containers/systemd/web-app.yaml';
    const fileAt = (p: string) => (p === path ? yaml : undefined);
    const line = ['kube', 'play', '--replace', '--service-container=true', '--log-driver', 'journald', '--userns', 'keep-id', '--network', 'none', '--annotation=io.containers.autoupdate=registry', '--configmap', '/home/web/cm.yaml', '--publish', '8085:80', path];
    expect(kinds(podmanFacts(line, fileAt))).toEqual(['publish 8085', 'namespace network=host', 'namespace uts=host', 'image docker.io/library/nginx:1.25', 'pull missing', 'publish 9000']);
    expect(podmanFacts(line, fileAt).find((f) => f.kind === 'publish' && f.value === '9000')?.as).toBe('web-app.yaml:11: hostPort: 9000');
    expect(kinds(podmanFacts(['kube', 'play', '/etc/other.yaml'], fileAt))).toEqual([expect.stringMatching(/^unjudgeable podman kube play \/etc\/other.yaml: not a file moor deployed/)]);
    expect(kinds(podmanFacts(['kube', 'play', '-'], fileAt))[0]).toMatch(/^unjudgeable/);
    expect(kinds(podmanFacts(['kube', 'play', 'https://example.com/x.yaml'], fileAt))[0]).toMatch(/^unjudgeable/);
    expect(kinds(podmanFacts(['kube', 'play', '--seccomp-profile-root', '/tmp', path], fileAt))[0]).toMatch(/^unjudgeable podman kube play --seccomp-profile-root/);
    expect(kinds(podmanFacts(['kube', 'play', '--frobnicate', path], fileAt))[0]).toMatch(/^unjudgeable podman kube play: the option --frobnicate/);
    expect(podmanFacts(['kube', 'down', '--force', path])).toEqual([]);
    expect(kinds(podmanFacts(['kube', 'generate', 'x']))[0]).toMatch(/^unjudgeable podman kube generate/);
  });

  it('loadedViolations: Quadlet\'s generated unit, judged on what moor deployed at that path', () => {
    const home = '/home/web';
    const loaded = parseUnit(
      `[Service]\nExecStart=/usr/bin/podman kube play --replace --service-container=true ${home}/.config/containers/systemd/web-app.yaml\nExecStopPost=/usr/bin/podman kube down ${home}/.config/containers/systemd/web-app.yaml\n`,
    ).unit;
    const deployed = (content: string) => (p: string) => (p === `${home}/.config/containers/systemd/web-app.yaml` ? { path: 'web-app.yaml', content } : undefined);
    const rules = (fileAt: (p: string) => { path: string; content: string } | undefined) => loadedViolations(strict, [{ unit: 'web.service', loaded }], { home }, fileAt).map((v) => v.rule);
    expect(rules(deployed(yaml.content))).toEqual(['host_namespaces', 'host_namespaces', 'ports']);
    expect(rules(deployed(pod()))).toEqual([]);
    expect(rules(() => undefined)).toEqual(['judgeable']);
    const tagged = loadedViolations(strict, [{ unit: 'web.service', loaded }], { home }, deployed(pod('  hostNetwork: !!bool false\n')));
    expect(tagged.map((v) => v.hint)).toEqual([expect.stringMatching(/^write the YAML with only what the host policy judges/)]);
    expect(loadedViolations(strict, [{ unit: 'web.service', loaded }], { home }, deployed(yaml.content))[2]!.message).toMatch(/publishes host port 9000 \(ExecStart: web-app.yaml:11: hostPort: 9000\)/);
  });
});
