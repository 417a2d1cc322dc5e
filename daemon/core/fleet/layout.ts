// The fleet's layout judged as a whole (docs/fleet.md#layout): what fleet.toml names
// must exist in the tree, and every hosts/<name>/ folder must be a host it names. These
// are whole-tree problems, the same on every host, so no host deploys from a manifest
// another host would read differently. Which workloads no host is given is judged only
// by `moor check` (unassignedWorkloads): it harms no host.
import { discover, MOORIGNORE } from '../discovery';
import type { Problem } from '../problem';
import type { DiscoveryOptions, TreeEntry, Workload } from '../types';
import { FLEET_MANIFEST, manifestProblem, parseFleetManifest, type FleetManifest } from './manifest';
import { hostFolders, HOSTS_DIR, overlayHostFolder, roleGives } from './slice';

/** The manifest of the scanned tree: none (a single-host repository), or its problems. */
export function readFleetManifest(entries: readonly TreeEntry[]): { manifest?: FleetManifest; problems: Problem[] } {
  const entry = entries.find((e) => e.path === FLEET_MANIFEST);
  if (entry === undefined) return { problems: [] };
  if (entry.type !== 'file' || entry.content === undefined) {
    // A symlink, a directory, or a file over max_file_bytes: discovery names why.
    return { problems: [{ path: FLEET_MANIFEST, code: 'fleet-unreadable', message: `${FLEET_MANIFEST} is not a regular file moor reads`, hint: `make ${FLEET_MANIFEST} a regular file within max_file_bytes` }] };
  }
  return parseFleetManifest(entry.content);
}

export interface FleetWorkloads {
  /** Every workload any host of the fleet could be given: the shared tree's and each host folder's. */
  workloads: { name: string; group?: string; folder?: string }[];
  groups: Set<string>;
}

/**
 * What the shared tree and each named host's folder hold. The shared tree is discovered
 * once; a folder with the few shared specs its own could extend (a pod member, a `.kube`
 * beside a container), so a fleet of many folders does not cost a discovery of the whole
 * tree per host. Only names and groups are taken: problems are each host's pass's.
 */
export function fleetWorkloads(entries: readonly TreeEntry[], manifest: FleetManifest, opts: DiscoveryOptions): FleetWorkloads {
  const shared = discover(overlayHostFolder(entries, '').entries, opts);
  const workloads: FleetWorkloads['workloads'] = shared.workloads.map((w) => pick(w));
  const groups = new Set(shared.groups.map((g) => g.name));
  const { folders } = hostFolders(entries);
  for (const h of manifest.hosts.filter((x) => folders.has(x.name))) {
    const { entries: overlaid, fromFolder } = overlayHostFolder(entries, h.name);
    const own = [...fromFolder].filter((p) => SPEC.test(p)).map(stemOf);
    const extended = (path: string) => SPEC.test(path) && own.some((s) => s.startsWith(`${stemOf(path)}-`) || s.startsWith(`${stemOf(path)}.`));
    const d = discover(overlaid.filter((e) => fromFolder.has(e.path) || e.path === MOORIGNORE || extended(e.path)), opts);
    for (const g of d.groups) groups.add(g.name);
    for (const w of d.workloads) if (fromFolder.has(w.spec.path)) workloads.push({ ...pick(w), folder: h.name });
  }
  return { workloads, groups };
}

/** The files that can be a workload's own spec. */
const SPEC = /\.(container|pod|kube)$/;
const stemOf = (path: string) => path.slice(path.lastIndexOf('/') + 1).replace(SPEC, '');

const pick = (w: Workload) => ({ name: w.name, ...(w.group !== undefined ? { group: w.group } : {}) });

/** Whole-tree problems of the layout: names fleet.toml gives that the tree lacks, folders of hosts it does not name. */
export function fleetLayoutProblems(entries: readonly TreeEntry[], manifest: FleetManifest, known: FleetWorkloads): Problem[] {
  const problems: Problem[] = [];
  const names = new Set(known.workloads.map((w) => w.name));
  for (const r of manifest.roles) {
    for (const w of r.workloads.filter((x) => !names.has(x))) {
      problems.push(manifestProblem(manifest.text, ['roles', r.name, 'workloads'], 'fleet-unknown-workload', `role ${r.name} names workload ${JSON.stringify(w)}, which the repository does not hold`, `add ${w}.container (or .pod, .kube), or remove it from the workloads of [roles.${r.name}]`));
    }
    for (const g of r.groups.filter((x) => !known.groups.has(x))) {
      problems.push(manifestProblem(manifest.text, ['roles', r.name, 'groups'], 'fleet-unknown-group', `role ${r.name} names group ${JSON.stringify(g)}, which is no group directory of the repository`, `add the directory ${g}/, or remove it from the groups of [roles.${r.name}]`));
    }
  }
  const { folders, strays } = hostFolders(entries);
  const hosts = new Set(manifest.hosts.map((h) => h.name));
  for (const f of [...folders].filter((x) => !hosts.has(x)).sort()) {
    problems.push({ path: `${HOSTS_DIR}/${f}/`, code: 'fleet-unknown-host-folder', message: `${HOSTS_DIR}/${f}/ is the folder of host ${f}, which ${FLEET_MANIFEST} does not name`, hint: `add [hosts.${f}] to ${FLEET_MANIFEST}, or rename the folder after a host it names` });
  }
  for (const path of strays.sort()) {
    problems.push({ path, code: 'fleet-hosts-file', message: `${path} is a file in ${HOSTS_DIR}/, which holds only per-host folders once ${FLEET_MANIFEST} exists`, hint: `move it into ${HOSTS_DIR}/<host>/ or out of ${HOSTS_DIR}/` });
  }
  return problems;
}

/**
 * Workloads no role names (by name or by group) and no host folder holds: forgotten
 * rather than parked. `moor check` reports them, a pass does not, since they run nowhere.
 */
export function unassignedWorkloads(manifest: FleetManifest, known: FleetWorkloads): Problem[] {
  // Named by any role, even one no host has: that parks a workload on purpose.
  const given = (w: FleetWorkloads['workloads'][number]) => w.folder !== undefined || roleGives(manifest.roles, w);
  const problems: Problem[] = [];
  for (const name of new Set(known.workloads.map((w) => w.name))) {
    const all = known.workloads.filter((w) => w.name === name);
    if (all.some(given)) continue;
    const group = all[0]?.group;
    problems.push({
      path: FLEET_MANIFEST,
      code: 'unassigned-workload',
      message: `workload ${name} is given to no host: no role names it${group !== undefined ? ` or its group ${group}` : ''}, and no host folder holds it`,
      hint: 'put it in a role a host has, or in a role no host has to park it on purpose',
      workload: name,
    });
  }
  return problems;
}
