// Where each kind of repo file lands under a workload user's ~/.config (docs/design.md §2), and
// which systemd user units it yields once the user manager has loaded it.
import type { FileKind } from './types';
import { byText } from './text-order';

const TARGET_DIR: Record<FileKind, string> = {
  quadlet: 'containers/systemd',
  referenced: 'containers/systemd',
  unit: 'systemd/user',
  data: 'moor/files',
  // Not a directory: a secret is never written as a file. Its target names it in the
  // records (applied hashes, a generation's files), which hold its ciphertext's hash.
  secret: 'podman-secrets',
};

/** Path relative to the user's ~/.config (for a secret, the name records keep it under). */
export function targetPath(kind: FileKind, name: string): string {
  return `${TARGET_DIR[kind]}/${name}`;
}

/**
 * How the pass brings a unit up after its files changed (docs/design.md §6 step 7.7):
 * long-running services restart; Quadlet volumes, networks, images and builds are
 * oneshots that are started, never restarted; timers, sockets and paths are enabled
 * and started; a service driven by a timer (or socket/path) of the same name is left
 * to it.
 */
export type UnitAction = 'restart' | 'start' | 'enable-start' | 'none';

export interface ExpectedUnit {
  /** The unit systemd loads, e.g. "web.service", "web-data-volume.service". */
  unit: string;
  /** Repo path of the file it comes from. */
  source: string;
  action: UnitAction;
  /** Whether the health gate waits for it: long-running units must be active. */
  gate: boolean;
}

const QUADLET_SUFFIX: Record<string, string> = {
  container: '',
  kube: '',
  pod: '-pod',
  volume: '-volume',
  network: '-network',
  image: '-image',
  build: '-build',
};

const TRIGGERS = ['timer', 'socket', 'path'];

/**
 * The units a set of deployed files yields. `serviceName` gives a Quadlet file's
 * `ServiceName=` override when it sets one.
 */
export function expectedUnits(
  files: readonly { name: string; ext: string; kind: FileKind; path: string; serviceName?: string }[],
): ExpectedUnit[] {
  const stems = new Set(files.filter((f) => TRIGGERS.includes(f.ext)).map((f) => stemOf(f.name)));
  const out: ExpectedUnit[] = [];
  for (const f of files) {
    const stem = stemOf(f.name);
    if (f.kind === 'quadlet') {
      const suffix = QUADLET_SUFFIX[f.ext];
      if (suffix === undefined) continue;
      const unit = `${f.serviceName ?? stem + suffix}.service`;
      const longRunning = f.ext === 'container' || f.ext === 'kube' || f.ext === 'pod';
      out.push({ unit, source: f.path, action: longRunning ? 'restart' : 'start', gate: true });
    } else if (f.kind === 'unit') {
      if (TRIGGERS.includes(f.ext)) {
        out.push({ unit: f.name, source: f.path, action: 'enable-start', gate: true });
      } else if (f.ext === 'service') {
        const triggered = stems.has(stem);
        out.push({ unit: f.name, source: f.path, action: triggered ? 'none' : 'restart', gate: !triggered });
      } else if (f.ext === 'target') {
        out.push({ unit: f.name, source: f.path, action: 'start', gate: true });
      }
    }
  }
  return out.sort((a, b) => byText(a.unit, b.unit));
}

function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** The file a target path (relative to ~/.config) holds, for files known only by path. */
/** The units that the files at these targets yield (for files already on a host). */
export function unitsOfTargets(targets: readonly string[]): ExpectedUnit[] {
  return expectedUnits(
    targets.flatMap((t) => {
      const meta = fileAtTarget(t);
      return meta ? [{ ...meta, path: t }] : [];
    }),
  );
}

export function fileAtTarget(target: string): { name: string; ext: string; kind: FileKind } | undefined {
  for (const [kind, dir] of Object.entries(TARGET_DIR) as [FileKind, string][]) {
    if (target.startsWith(`${dir}/`) && !target.slice(dir.length + 1).includes('/')) {
      const name = target.slice(dir.length + 1);
      const dot = name.lastIndexOf('.');
      const ext = dot > 0 ? name.slice(dot + 1) : '';
      // Quadlet files and the files they read share one directory: the type tells them apart.
      const shared = kind === 'quadlet' || kind === 'referenced';
      return { name, ext, kind: shared ? (Object.hasOwn(QUADLET_SUFFIX, ext) ? 'quadlet' : 'referenced') : kind };
    }
  }
  return undefined;
}
