// Annotations of a Kubernetes YAML (and `podman kube play --annotation`) that change what
// runs. Podman 5 reads some of them (libpod/define/annotations.go, pkg/util/kube.go, the
// seccomp annotations of pkg/specgen/generate/kube), and passes every annotation on to
// the OCI runtime, which reads its own (`run.oci.*` for crun). Those moor knows are judged;
// any other under a prefix podman, the runtimes or Kubernetes' security settings use is
// unjudgeable; the rest (app.kubernetes.io/name, a description...) is only metadata.
import type { Fact } from './model';
import { isHostNamespace } from './podman-values';

type Out = Omit<Fact, 'line' | 'source' | 'as'>;

/** Prefixes (compared in lower case) whose annotations something reads to run the container. */
const READ_PREFIXES = [
  'io.podman.',
  'io.containers.',
  'io.kubernetes.',
  'podman.io/',
  'volume.podman.io/',
  'run.oci.',
  'io.crun.',
  'org.criu.',
  'org.systemd.',
  'org.opencontainers.',
  'module.wasm.image/',
  'cdi.k8s.io/',
  'io.katacontainers.',
  'dev.gvisor.',
  'seccomp.security.',
  'container.seccomp.',
  'container.apparmor.',
  'apparmor.security.',
  'bind-mount-options',
];

/** Whether podman or the runtime may read this annotation (else it is only metadata). */
export function readsAnnotation(key: string): boolean {
  const lower = key.toLowerCase();
  return READ_PREFIXES.some((p) => lower.startsWith(p));
}

/** podman's strconv.ParseBool. */
const parseBool = (v: string): boolean | undefined => (/^(1|t|T|TRUE|true|True)$/.test(v) ? true : /^(0|f|F|FALSE|false|False)$/.test(v) ? false : undefined);

/**
 * The facts of one annotation. `containers` are the names of the pod's containers in the
 * order podman creates them (init containers first; an annotation ending in `/<name>`
 * applies to that one); without them (a command-line annotation, which applies to every
 * pod) a volumes-from is not judged.
 */
export function annotationFacts(key: string, value: string, containers?: readonly string[]): Out[] {
  const slash = key.indexOf('/');
  const base = slash < 0 ? key : key.slice(0, slash);
  const target = slash < 0 ? undefined : key.slice(slash + 1);
  const unjudgeable = (why: string): Out[] => [{ kind: 'unjudgeable', value: `the annotation ${key}: ${why}` }];
  const unconfined = (what: string, fine: readonly string[]): Out[] => {
    if (value === 'unconfined') return [{ kind: 'privileged', value: `${what}=unconfined` }];
    return fine.includes(value) ? [] : unjudgeable(`the profile "${value}" is not one moor can judge`);
  };
  switch (base) {
    case 'io.podman.annotations.userns':
      if (isHostNamespace(value)) return [{ kind: 'namespace', value: `userns=${value}` }];
      return value.startsWith('container:') ? unjudgeable("joins another container's user namespace") : [];
    case 'io.podman.annotations.init':
    case 'io.podman.annotations.autoremove':
    case 'io.podman.annotations.infra.name':
    case 'io.podman.annotations.init.container.type':
    case 'io.podman.annotations.ulimit':
    case 'io.podman.annotations.kube.health.check':
    case 'io.containers.autoupdate':
    case 'io.containers.sdnotify':
      return [];
    case 'io.podman.annotations.cid-file':
    case 'io.containers.autoupdate.authfile':
      // Podman removes the cid file with the container: a path on the host.
      return [{ kind: 'host-path', value }];
    case 'io.podman.annotations.publish-all': {
      const on = parseBool(value);
      if (on === undefined) return unjudgeable(`"${value}" is not a boolean`);
      return on ? [{ kind: 'publish-all', value: 'every exposed port' }] : [];
    }
    case 'io.podman.annotations.seccomp':
      return unconfined('seccomp', []);
    case 'io.podman.annotations.apparmor':
      return unconfined('apparmor', []);
    case 'io.podman.annotations.label':
      if (value === 'disable' || value === 'nested' || value === 'type:spc_t') return [{ kind: 'privileged', value: `label=${value}` }];
      return /^(user|role|level|filetype|type):/.test(value) ? [] : unjudgeable(`"${value}" is not an SELinux option moor knows`);
    case 'seccomp.security.alpha.kubernetes.io':
    case 'container.seccomp.security.alpha.kubernetes.io':
      // `localhost/NAME` is a profile file under --seccomp-profile-root: its content is unread.
      return unconfined('seccomp', ['runtime/default', 'docker/default']);
    case 'container.apparmor.security.beta.kubernetes.io':
      return unconfined('apparmor', ['runtime/default']);
    case 'io.podman.annotations.volumes-from': {
      if (!containers || target === undefined) return unjudgeable('the volumes of a container outside this YAML');
      // Podman takes a name it has not made yet in this pod for another container of the user.
      const before = containers.slice(0, Math.max(0, containers.indexOf(target)));
      const outside = value.split(';').map((v) => v.split(':')[0]!).filter((n) => !before.includes(n));
      return outside.length > 0 ? unjudgeable(`the volumes of "${outside[0]}", not a container this pod makes before ${target}`) : [];
    }
    case 'io.podman.annotations.kube.image.volumes.mount':
      return value.split(';').filter(Boolean).map((image) => ({ kind: 'image', value: image }));
    case 'bind-mount-options': {
      const opt = value.slice(value.lastIndexOf(':') + 1);
      return opt === 'z' || opt === 'Z' ? [] : unjudgeable(`the bind mount option "${opt}" is not one moor judges`);
    }
  }
  if (key.startsWith('volume.podman.io/')) return volumeAnnotationFacts(key, value) ?? unjudgeable('not a volume option moor knows');
  if (readsAnnotation(key)) return unjudgeable('podman or the container runtime reads it in ways moor does not judge');
  return [];
}

/** A PersistentVolumeClaim's `volume.podman.io/*`: the options of `podman volume create`. */
function volumeAnnotationFacts(key: string, value: string): Out[] | undefined {
  switch (key) {
    case 'volume.podman.io/driver':
      return value === 'local' || value === 'image' ? [] : [{ kind: 'unjudgeable', value: `the annotation ${key}: the volume driver "${value}" is a plugin moor cannot judge` }];
    case 'volume.podman.io/device':
      return /^[/.~%]/.test(value) || value.includes('/') ? [{ kind: 'host-path', value }] : [];
    case 'volume.podman.io/import-source':
      return [{ kind: 'host-path', value }];
    case 'volume.podman.io/image':
      return [{ kind: 'image', value }];
    case 'volume.podman.io/type':
    case 'volume.podman.io/mount-options':
    case 'volume.podman.io/uid':
    case 'volume.podman.io/gid':
      return [];
  }
  return undefined;
}
