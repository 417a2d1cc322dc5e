// The files a `.kube` unit reads: its `Yaml=` and each `ConfigMap=`. Quadlet resolves a
// relative path against the unit file's own directory, and moor deploys a workload's
// Quadlet files and the files they read side by side in ~/.config/containers/systemd/.
// So a reference moor can honour is a plain file name, naming a repository file next to
// the `.kube`; anything else names a file moor does not deploy (a file of the host, or of
// another directory) and is refused, never followed.
import type { Problem } from './problem';
import { isEntry, type UnitFile } from './unit-file';
import { fileType, isUnitType } from './validate';

export const KUBE_FILE_KEYS = ['Yaml', 'ConfigMap'] as const;

export interface KubeFileRef {
  key: (typeof KUBE_FILE_KEYS)[number];
  /** As written, one pair of surrounding double quotes removed (Quadlet's reading). */
  value: string;
  line: number;
  /** The transform that wrote the entry, when not the unit's own file. */
  source?: string;
  /** The file name it names next to the unit; unset when refused. */
  name?: string;
  /** Why it names no file moor deploys. */
  refused?: string;
}

/** Every non-empty `Yaml=` and `ConfigMap=` of the `[Kube]` sections, in file order. */
export function kubeFileRefs(unit: UnitFile): KubeFileRef[] {
  const refs: KubeFileRef[] = [];
  for (const section of unit.sections) {
    if (section.name !== 'Kube') continue;
    for (const item of section.items) {
      if (!isEntry(item) || !(KUBE_FILE_KEYS as readonly string[]).includes(item.key)) continue;
      const value = item.value.replace(/^"(.*)"$/, '$1');
      if (value === '') continue;
      const local = localName(value);
      refs.push({
        key: item.key as KubeFileRef['key'],
        value,
        line: item.line,
        ...(item.source !== undefined ? { source: item.source } : {}),
        ...('name' in local ? { name: local.name } : { refused: local.refused }),
      });
    }
  }
  return refs;
}

/** The file name a reference names beside the unit, or why it names none moor deploys. */
export function localName(value: string): { name: string } | { refused: string } {
  if (value.includes('%')) return { refused: "holds a systemd specifier: the file it names is known only on the host, and moor deploys only the repository's files" };
  if (value.startsWith('/') || value.startsWith('~')) return { refused: 'is an absolute path: Quadlet would read a file of the host, not one of the repository' };
  const name = value.replace(/^(\.\/)+/, '');
  if (name.split('/').includes('..') || name === '.') return { refused: "leaves the unit's directory (..), where moor deploys the workload's files" };
  if (name.includes('/')) return { refused: "is in another directory: moor deploys a workload's files side by side in one directory" };
  return { name };
}

/**
 * Every reference of a `.kube` as rendered that names no file the workload deploys beside
 * it. `beside`: the names of the workload's files deployed next to its Quadlet units.
 */
export function kubeFileProblems(unit: UnitFile, path: string, fileName: string, workload: string, beside: ReadonlySet<string>): Problem[] {
  const problems: Problem[] = [];
  for (const ref of kubeFileRefs(unit)) {
    const by = ref.source !== undefined && ref.source !== path ? ` (set by ${ref.source}:${ref.line})` : '';
    const at = by === '' ? { line: ref.line } : {};
    if (ref.refused !== undefined) {
      problems.push({
        path,
        ...at,
        code: 'escaping-reference',
        message: `${ref.key}=${ref.value} in [Kube]${by} ${ref.refused}`,
        hint: `put the file in the repository next to ${fileName} and write ${ref.key}=<its name>`,
        workload,
      });
    } else if (ref.name !== undefined && isUnitType(fileType(ref.name))) {
      problems.push({
        path,
        ...at,
        code: 'bad-reference',
        message: `${ref.key}=${ref.value} in [Kube]${by} names a unit file; podman kube play reads Kubernetes YAML`,
        hint: `name the YAML file next to ${fileName}`,
        workload,
      });
    } else if (ref.name !== undefined && !beside.has(ref.name)) {
      problems.push({
        path,
        ...at,
        code: 'missing-reference',
        message: `${ref.key}=${ref.value} in [Kube]${by} names ${ref.name}, which is not in the repository next to ${fileName}; podman kube play would fail to start the unit`,
        hint: `add ${ref.name} next to ${fileName}, or correct the name`,
        workload,
      });
    }
  }
  return problems;
}
