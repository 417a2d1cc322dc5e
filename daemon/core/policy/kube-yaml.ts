// What a Kubernetes YAML makes `podman kube play` run (Podman 5: pkg/domain/infra/abi/play.go,
// pkg/specgen/generate/kube), as policy facts at the YAML's lines. Each document by its
// kind: Pod, Deployment, DaemonSet and Job run a pod template; a PersistentVolumeClaim
// creates a volume; a ConfigMap or Secret is data. Every field is one moor knows, judged
// or known to be harmless (env, command, probes, resources...); any other field, any
// other kind, is unjudgeable: podman may read it, or a later podman may.
import type { Pair } from 'yaml';
import { annotationFacts, readsAnnotation } from './kube-annotations';
import type { Fact } from './model';
import { capabilities } from './podman-values';
import { YamlFacts, type DeployedFile, type YamlNode } from './yaml-reader';

export interface KubePlayOptions {
  /** `--publish-all`: every containerPort is published on the same host port. */
  publishAll?: boolean;
}

/** Every fact of one YAML file, each with the file as its source and its line. */
export function kubeYamlFacts(file: DeployedFile, options: KubePlayOptions = {}): Fact[] {
  const y = new YamlFacts(file);
  for (const doc of y.documents()) documentFacts(y, doc, options, true);
  return y.facts.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

const POD_KINDS = new Set(['Pod', 'Deployment', 'DaemonSet', 'Job']);
const DATA_KINDS = new Set(['ConfigMap', 'Secret']);

function documentFacts(y: YamlFacts, doc: YamlNode, options: KubePlayOptions, top: boolean): void {
  const refusals = y.facts.length;
  const kindNode = y.field(doc, 'kind');
  const kind = kindNode === undefined ? undefined : y.string(kindNode, 'kind');
  if (kind === undefined) {
    if (y.facts.length === refusals) y.refuse(doc, 'a document without a kind', 'kind');
    return;
  }
  const common = { apiVersion: true, kind: true, status: true } as const;
  if (DATA_KINDS.has(kind)) {
    y.fields(doc, kind, { ...common, metadata: true, data: true, binaryData: true, stringData: true, type: true, immutable: true });
  } else if (kind === 'List' && top) {
    y.fields(doc, kind, { ...common, metadata: true, items: (v) => y.items(v, 'items').forEach((item) => documentFacts(y, item, options, false)) });
  } else if (kind === 'PersistentVolumeClaim') {
    y.fields(doc, kind, {
      ...common,
      metadata: (v) => metadataFacts(y, v, `${kind} metadata`),
      spec: (v) => y.fields(v, `${kind} spec`, { accessModes: true, resources: true, storageClassName: true, volumeMode: true, volumeName: true, selector: true }),
    });
  } else if (kind === 'Pod') {
    let spec: YamlNode;
    let metadata: YamlNode;
    y.fields(doc, kind, { ...common, metadata: (v) => void (metadata = v), spec: (v) => void (spec = v) });
    podFacts(y, [metadata], spec, options);
  } else if (POD_KINDS.has(kind)) {
    let metadata: YamlNode;
    let template: { metadata?: YamlNode; spec?: YamlNode } = {};
    const controller: Record<string, ((v: YamlNode) => void) | true> = {
      selector: true,
      minReadySeconds: true,
      revisionHistoryLimit: true,
      template: (v) => {
        template = {};
        y.fields(v, `${kind} template`, { metadata: (m) => void (template.metadata = m), spec: (s) => void (template.spec = s) });
      },
    };
    const own: Record<string, Record<string, true>> = {
      Deployment: { replicas: true, strategy: true, progressDeadlineSeconds: true, paused: true },
      DaemonSet: { updateStrategy: true },
      Job: { parallelism: true, completions: true, backoffLimit: true, activeDeadlineSeconds: true, ttlSecondsAfterFinished: true, completionMode: true, suspend: true, manualSelector: true },
    };
    y.fields(doc, kind, { ...common, metadata: (v) => void (metadata = v), spec: (v) => y.fields(v, `${kind} spec`, { ...controller, ...own[kind] }) });
    podFacts(y, [metadata, template.metadata], template.spec, options);
  } else {
    y.refuse(doc, `the kind "${kind}" is not one moor judges (Pod, Deployment, DaemonSet, Job, PersistentVolumeClaim, ConfigMap, Secret)`, `kind: ${kind}`);
  }
}

const METADATA = { name: true, namespace: true, labels: true, creationTimestamp: true, uid: true, resourceVersion: true, generation: true } as const;

/** metadata: its annotations judged; `containers` are the pod's, for per-container ones. */
function metadataFacts(y: YamlFacts, meta: YamlNode, where: string, containers?: readonly string[]): void {
  y.fields(meta, where, {
    ...METADATA,
    annotations: (v) => {
      for (const { key, value, pair } of y.entries(v, `${where} annotations`)) {
        // Only an annotation something reads has its value read; that must be a plain string.
        if (!readsAnnotation(key)) continue;
        const text = y.string(value, `the annotation ${key}`);
        if (text === undefined) continue;
        for (const f of annotationFacts(key, text, containers)) y.fact(pair, f.kind, f.value, `${key}: ${text}`);
      }
    },
  });
}

/** A pod template: its metadata (and the controller's), and its spec. */
function podFacts(y: YamlFacts, metadatas: YamlNode[], spec: YamlNode, options: KubePlayOptions): void {
  // In the order podman creates them: a volumes-from may name only a container made before.
  const containers: string[] = [];
  let specMap: { containers?: YamlNode; initContainers?: YamlNode } = {};
  const harmless = {
    restartPolicy: true,
    terminationGracePeriodSeconds: true,
    hostname: true,
    hostAliases: true,
    dnsConfig: true,
    dnsPolicy: true,
    shareProcessNamespace: true,
    nodeSelector: true,
    serviceAccountName: true,
    serviceAccount: true,
    automountServiceAccountToken: true,
    enableServiceLinks: true,
    imagePullSecrets: true,
    schedulerName: true,
    priorityClassName: true,
    priority: true,
    tolerations: true,
    affinity: true,
    subdomain: true,
    activeDeadlineSeconds: true,
  } as const;
  const hostNs = (ns: string[]) => (v: YamlNode, pair: Pair) => {
    if (y.bool(v, String((pair.key as { value?: unknown }).value))) for (const n of ns) y.fact(pair, 'namespace', `${n}=host`, `${String((pair.key as { value?: unknown }).value)}: true`);
  };
  y.fields(spec, 'the pod spec', {
    ...harmless,
    hostNetwork: hostNs(['network', 'uts']),
    hostPID: hostNs(['pid']),
    hostIPC: hostNs(['ipc']),
    hostUsers: hostNs(['userns']),
    securityContext: (v) => securityContextFacts(y, v, 'the pod securityContext', true),
    volumes: (v) => y.items(v, 'volumes').forEach((vol) => volumeFacts(y, vol)),
    containers: (v) => void (specMap.containers = v),
    initContainers: (v) => void (specMap.initContainers = v),
  });
  for (const key of ['initContainers', 'containers'] as const) {
    for (const c of y.items(specMap[key], key)) {
      const name = containerFacts(y, c, key, options);
      if (name !== undefined) containers.push(name);
    }
  }
  specMap = {};
  metadatas.forEach((m, i) => metadataFacts(y, m, i === 0 ? 'metadata' : 'the template metadata', containers));
}

function containerFacts(y: YamlFacts, c: YamlNode, where: string, options: KubePlayOptions): string | undefined {
  let name: string | undefined;
  let image: { text: string; node: YamlNode } | undefined;
  let pull: { text: string; node: YamlNode } | undefined;
  y.fields(c, `a container of ${where}`, {
    name: (v) => void (name = y.string(v, 'name')),
    image: (v) => {
      const text = y.string(v, 'image');
      if (text !== undefined) image = { text, node: v };
    },
    imagePullPolicy: (v) => {
      const text = y.string(v, 'imagePullPolicy');
      if (text !== undefined) pull = { text, node: v };
    },
    command: true,
    args: true,
    workingDir: true,
    env: true,
    envFrom: true,
    volumeMounts: (v) => y.items(v, 'volumeMounts').forEach((m) => mountFacts(y, m)),
    livenessProbe: true,
    readinessProbe: true,
    startupProbe: true,
    lifecycle: true,
    terminationMessagePath: true,
    terminationMessagePolicy: true,
    stdin: true,
    stdinOnce: true,
    tty: true,
    resources: (v) => resourceFacts(y, v),
    ports: (v) => y.items(v, 'ports').forEach((p) => portFacts(y, p, options)),
    securityContext: (v) => securityContextFacts(y, v, 'a container securityContext', false),
  });
  if (image) {
    y.fact(image.node, 'image', image.text, `image: ${image.text}`);
    pullFact(y, image.text, pull, image.node, 'imagePullPolicy');
  }
  return name;
}

/** Podman's pull policy: as given, or `newer` for an untagged or `:latest` fully qualified name, else `missing`. */
function pullFact(y: YamlFacts, image: string, pull: { text: string; node: YamlNode } | undefined, at: YamlNode, field: string): void {
  if (pull) {
    const mapped = PULL_POLICY[pull.text.toLowerCase()];
    if (mapped) y.fact(pull.node, 'pull', mapped, `${field}: ${pull.text}`);
    else y.refuse(pull.node, `the pull policy "${pull.text}" is not one podman knows`, `${field}: ${pull.text}`);
    return;
  }
  y.fact(at, 'pull', defaultPull(image), `no ${field} (podman's default for ${image})`);
}

const PULL_POLICY: Record<string, string> = { always: 'always', missing: 'missing', ifmissing: 'missing', ifnotpresent: 'missing', never: 'never', newer: 'newer', ifnewer: 'newer' };

/**
 * podman kube play: with no pull policy, a name that parses as a canonical reference
 * (a registry host first) and has no tag or the tag `latest` is pulled when newer.
 */
export function defaultPull(image: string): 'newer' | 'missing' {
  const named = image.split('@')[0]!;
  const colon = named.indexOf(':', named.lastIndexOf('/') + 1);
  const repo = colon < 0 ? named : named.slice(0, colon);
  const tag = colon < 0 ? undefined : named.slice(colon + 1);
  const slash = repo.indexOf('/');
  const domain = slash < 0 ? '' : repo.slice(0, slash);
  const path = repo.slice(slash + 1);
  // docker.io/nginx normalizes to docker.io/library/nginx, so it is not canonical.
  const hasDomain = slash > 0 && (domain.includes('.') || domain.includes(':') || domain === 'localhost');
  const canonical = hasDomain && domain !== 'index.docker.io' && (domain !== 'docker.io' || path.includes('/')) && path === path.toLowerCase();
  if (!canonical) return 'missing';
  return tag === undefined || tag === 'latest' ? 'newer' : 'missing';
}

/** A volume mount: where in the container; a subPath that climbs out of its volume is not judged. */
function mountFacts(y: YamlFacts, m: YamlNode): void {
  y.fields(m, 'a volumeMount', {
    name: true,
    mountPath: true,
    readOnly: true,
    mountPropagation: true,
    subPath: (v) => {
      const sub = y.string(v, 'subPath');
      if (sub !== undefined && (sub.startsWith('/') || sub.split('/').includes('..'))) y.refuse(v, `the subPath "${sub}" leaves its volume`, `subPath: ${sub}`);
    },
  });
}

function portFacts(y: YamlFacts, p: YamlNode, options: KubePlayOptions): void {
  let hostPort: { n: number; node: YamlNode } | undefined;
  let containerPort: { n: number; node: YamlNode } | undefined;
  y.fields(p, 'a port', {
    name: true,
    protocol: true,
    hostIP: true,
    containerPort: (v) => {
      const n = y.int(v, 'containerPort');
      if (n !== undefined) containerPort = { n, node: v };
    },
    hostPort: (v) => {
      const n = y.int(v, 'hostPort');
      if (n !== undefined) hostPort = { n, node: v };
    },
  });
  if (hostPort && hostPort.n > 0) y.fact(hostPort.node, 'publish', String(hostPort.n), `hostPort: ${hostPort.n}`);
  else if (options.publishAll && containerPort && containerPort.n > 0) y.fact(containerPort.node, 'publish', String(containerPort.n), `containerPort: ${containerPort.n} with --publish-all`);
}

function resourceFacts(y: YamlFacts, v: YamlNode): void {
  const list = (node: YamlNode) => {
    for (const { key, pair } of y.entries(node, 'resources')) {
      // A CDI name (vendor/class=name) is a device podman adds; podman.io/device=PATH a host device.
      if (!key.includes('=')) continue;
      y.fact(pair, 'device', key.startsWith('podman.io/device=') ? key.slice('podman.io/device='.length) : key, `resources: ${key}`);
    }
  };
  y.fields(v, 'resources', { limits: list, requests: list, claims: true });
}

function securityContextFacts(y: YamlFacts, v: YamlNode, where: string, pod: boolean): void {
  const profile = (what: string) => (node: YamlNode) => {
    let type: string | undefined;
    y.fields(node, `${what}Profile`, { type: (t) => void (type = y.string(t, `${what}Profile type`)), localhostProfile: true });
    if (type === 'Unconfined') y.fact(node, 'privileged', `${what}=unconfined`, `${what}Profile: Unconfined`);
    else if (type !== undefined && type !== 'RuntimeDefault') y.refuse(node, `the ${what} profile "${type}" is not one moor can judge`, `${what}Profile: ${type}`);
  };
  const common: Record<string, ((n: YamlNode, pair: Pair) => void) | true> = {
    runAsUser: true,
    runAsGroup: true,
    runAsNonRoot: true,
    seLinuxOptions: (node) => {
      let type: string | undefined;
      let at: YamlNode;
      y.fields(node, 'seLinuxOptions', { user: true, role: true, level: true, filetype: true, type: (t) => void ((type = y.string(t, 'seLinuxOptions type')), (at = t)) });
      if (type === 'spc_t') y.fact(at, 'privileged', 'label=type:spc_t', 'seLinuxOptions type: spc_t');
    },
    seccompProfile: profile('seccomp'),
    appArmorProfile: profile('apparmor'),
  };
  if (pod) {
    y.fields(v, where, { ...common, supplementalGroups: true, supplementalGroupsPolicy: true, fsGroup: true, fsGroupChangePolicy: true, sysctls: true });
    return;
  }
  y.fields(v, where, {
    ...common,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: true,
    privileged: (node, pair) => {
      if (y.bool(node, 'privileged')) y.fact(pair, 'privileged', '--privileged', 'privileged: true');
    },
    procMount: (node) => {
      const mount = y.string(node, 'procMount');
      if (mount === 'Unmasked') y.fact(node, 'privileged', 'unmask=ALL', 'procMount: Unmasked');
      else if (mount !== undefined && mount !== 'Default') y.refuse(node, `procMount "${mount}" is not one moor knows`, `procMount: ${mount}`);
    },
    capabilities: (node) =>
      y.fields(node, 'capabilities', {
        drop: true,
        add: (add) => {
          for (const item of y.items(add, 'capabilities add')) {
            const cap = y.string(item, 'a capability');
            if (cap !== undefined) for (const c of capabilities(cap)) y.fact(item, 'capability', c, `capabilities add: ${cap}`);
          }
        },
      }),
  });
}

function volumeFacts(y: YamlFacts, vol: YamlNode): void {
  y.fields(vol, 'a volume', {
    name: true,
    emptyDir: (v) => y.fields(v, 'emptyDir', { medium: true, sizeLimit: true }),
    configMap: (v) => y.fields(v, 'configMap', { name: true, items: true, defaultMode: true, optional: true }),
    secret: (v) => y.fields(v, 'secret', { secretName: true, items: true, defaultMode: true, optional: true }),
    persistentVolumeClaim: (v) => y.fields(v, 'persistentVolumeClaim', { claimName: true, readOnly: true }),
    hostPath: (v) => {
      let path: { text: string; node: YamlNode } | undefined;
      let type: string | undefined;
      let given = false;
      y.fields(v, 'hostPath', {
        path: (p) => {
          given = true;
          const text = y.string(p, 'hostPath path');
          if (text !== undefined) path = { text, node: p };
        },
        type: (t) => void (type = y.string(t, 'hostPath type')),
      });
      if (!path) return void (given || y.refuse(v, 'a hostPath without a path', 'hostPath'));
      // A YAML path is literal: systemd's specifiers (which the judge resolves in units) mean nothing here.
      if (path.text.includes('%')) return void y.refuse(path.node, `the host path "${path.text}" holds a "%", which the policy would read as a specifier`, `hostPath: ${path.text}`);
      if (type === 'CharDevice' || type === 'BlockDevice') y.fact(path.node, 'device', path.text, `hostPath: ${path.text} (${type})`);
      else if (type === undefined || ['', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'].includes(type)) y.fact(path.node, 'host-path', path.text, `hostPath: ${path.text}`);
      else y.refuse(v, `the hostPath type "${type}" is not one podman knows`, `hostPath type: ${type}`);
    },
    image: (v) => {
      let reference: { text: string; node: YamlNode } | undefined;
      let pull: { text: string; node: YamlNode } | undefined;
      y.fields(v, 'an image volume', {
        reference: (r) => {
          const text = y.string(r, 'image reference');
          if (text !== undefined) reference = { text, node: r };
        },
        pullPolicy: (p) => {
          const text = y.string(p, 'pullPolicy');
          if (text !== undefined) pull = { text, node: p };
        },
      });
      if (!reference) return void y.refuse(v, 'an image volume without a reference', 'image');
      y.fact(reference.node, 'image', reference.text, `image volume: ${reference.text}`);
      pullFact(y, reference.text, pull, reference.node, 'pullPolicy');
    },
  });
}
