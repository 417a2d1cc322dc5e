// A host's slice of a fleet repository (docs/fleet.md#layout), the one function the pass,
// `moor check` and `moor plan --host` share:
//
//   sliceFor(entries, manifest, host) → HostSlice
//     entries   the scanned tree (TreeEntry[]), fleet.toml and hosts/ included
//     manifest  parseFleetManifest's result, or undefined for a single-host repository
//     host      { name, labels }: the host's name and the labels it has beyond the
//               manifest's (a host's `[host] labels`; none for `moor check`)
//   HostSlice.entries   the tree this host sees: the shared entries overlaid with
//                       hosts/<name>/ (prefix stripped), other hosts' folders and
//                       fleet.toml dropped; give it to discover()
//   HostSlice.select(discovery)  the discovery cut to this host's workloads (and the
//                       groups they are in): give it to validateTree()
//   HostSlice.repoPath(path)     the repository path of a path in `entries`, for problems
//   HostSlice.host      name and labels (manifest's overlaid by the given ones), for
//                       {{host}} and {{label.KEY}}
//   HostSlice.roles / inFleet    the roles it has; whether the manifest names or selects it
//   hostWorkloads(slice, opts)   discover() over the slice, and select(): `all` and `mine`
//   notInFleet(slice, fix)       the problem of a host the manifest neither names nor selects
//
// Without a manifest, the slice is the whole tree, exactly as before fleets existed.
import { discover, type Discovery } from '../discovery';
import type { Problem } from '../problem';
import type { HostIdentity } from '../transforms';
import type { DiscoveryOptions, TreeEntry, Workload } from '../types';
import { FLEET_MANIFEST, selectorMatches, type FleetManifest, type FleetRole, type Labels } from './manifest';

/** The directory of per-host folders, when fleet.toml exists. */
export const HOSTS_DIR = 'hosts';

export interface HostSlice {
  host: HostIdentity;
  /** Its roles: the manifest's for it, then those whose `select` its labels match. */
  roles: readonly string[];
  /** Whether the manifest names the host or a role selects it; always true without one. */
  inFleet: boolean;
  entries: TreeEntry[];
  select(discovery: Discovery): Discovery;
  repoPath(path: string): string;
}

/** The host's labels (the manifest's, overlaid by `extra`) and roles. */
export function hostInManifest(manifest: FleetManifest, host: HostIdentity): { labels: Labels; roles: string[]; named: boolean } {
  const entry = manifest.hosts.find((h) => h.name === host.name);
  const labels = { ...(entry?.labels ?? {}), ...host.labels };
  const roles = [...(entry?.roles ?? [])];
  for (const r of manifest.roles) if (!roles.includes(r.name) && selectorMatches(r.select, labels)) roles.push(r.name);
  return { labels, roles, named: entry !== undefined };
}

export function sliceFor(entries: readonly TreeEntry[], manifest: FleetManifest | undefined, host: HostIdentity): HostSlice {
  if (manifest === undefined) {
    return { host, roles: [], inFleet: true, entries: [...entries], select: (d) => d, repoPath: (p) => p };
  }
  const { labels, roles, named } = hostInManifest(manifest, host);
  const { entries: overlaid, fromFolder } = overlayHostFolder(entries, host.name);
  const given = manifest.roles.filter((r) => roles.includes(r.name));
  const selected = (w: Workload) => fromFolder.has(w.spec.path) || roleGives(given, w);
  return {
    host: { name: host.name, labels },
    roles,
    inFleet: named || roles.length > 0,
    entries: overlaid,
    select: (d) => {
      const workloads = d.workloads.filter(selected);
      const kept = new Set(workloads.map((w) => w.name));
      const groups = new Set(workloads.map((w) => w.group));
      return {
        workloads,
        // A group this host deploys nothing of needs no transform here.
        groups: d.groups.filter((g) => groups.has(g.name)),
        problems: d.problems.filter((p) => p.workload === undefined || kept.has(p.workload)),
      };
    },
    repoPath: (p) => (fromFolder.has(p.replace(/\/$/, '')) ? `${HOSTS_DIR}/${host.name}/${p}` : p),
  };
}

/** The slice's tree discovered (`all`: every workload and group it holds), and this host's part of it (`mine`). */
export function hostWorkloads(slice: HostSlice, opts: Omit<DiscoveryOptions, 'host'>): { all: Discovery; mine: Discovery } {
  const all = discover(slice.entries, { ...opts, host: slice.host });
  return { all, mine: slice.select(all) };
}

/**
 * A host the manifest neither names nor selects: its pass would apply nothing (and fails).
 * None for a host in the fleet, or without a manifest. `fix`: the other way the caller's
 * reader can mend it, after adding the host to the manifest.
 */
export function notInFleet(slice: HostSlice, fix: string): Problem[] {
  if (slice.inFleet) return [];
  const { name, labels } = slice.host;
  const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'none';
  return [
    {
      path: FLEET_MANIFEST,
      code: 'fleet-unknown-host',
      message: `host ${name} is not named in ${FLEET_MANIFEST} and no role's select matches its labels (${shown}): its pass would apply nothing`,
      hint: `add [hosts.${name}] to ${FLEET_MANIFEST}, or ${fix}`,
    },
  ];
}

/** Whether one of the roles gives the workload, by its name or its group's. */
export function roleGives(roles: readonly FleetRole[], w: Pick<Workload, 'name' | 'group'>): boolean {
  return roles.some((r) => r.workloads.includes(w.name) || (w.group !== undefined && r.groups.includes(w.group)));
}

/**
 * The shared entries with hosts/<host>/ laid over them, its prefix stripped (a file there
 * replaces the shared one of the same path, a new one adds); other hosts' folders and
 * fleet.toml are dropped. `fromFolder`: the paths the folder gave (a directory only when
 * the shared tree lacks it).
 */
export function overlayHostFolder(entries: readonly TreeEntry[], host: string): { entries: TreeEntry[]; fromFolder: Set<string> } {
  const prefix = `${HOSTS_DIR}/${host}/`;
  const byPath = new Map<string, TreeEntry>();
  const own: TreeEntry[] = [];
  for (const e of entries) {
    if (e.path === FLEET_MANIFEST && e.type !== 'dir') continue;
    if (e.path === HOSTS_DIR || e.path.startsWith(`${HOSTS_DIR}/`)) {
      if (e.path.startsWith(prefix)) own.push(e);
      continue;
    }
    byPath.set(e.path, e);
  }
  const fromFolder = new Set<string>();
  for (const e of own) {
    const path = e.path.slice(prefix.length);
    if (e.type === 'dir' && byPath.get(path)?.type === 'dir') continue;
    byPath.set(path, { ...e, path, ...(e.rawPath !== undefined ? { rawPath: e.rawPath.startsWith(prefix) ? e.rawPath.slice(prefix.length) : e.rawPath } : {}) });
    fromFolder.add(path);
  }
  return { entries: [...byPath.values()], fromFolder };
}

/** The per-host folder names under hosts/ (the first segment below it), and stray files directly in it. */
export function hostFolders(entries: readonly TreeEntry[]): { folders: Set<string>; strays: string[] } {
  const folders = new Set<string>();
  const strays: string[] = [];
  for (const e of entries) {
    const segs = e.path.split('/');
    if (segs[0] !== HOSTS_DIR || segs.length < 2) continue;
    const name = segs[1]!;
    if (segs.length === 2 && e.type !== 'dir') {
      // Hidden files (.gitkeep) and documentation sit there harmlessly.
      if (!name.startsWith('.') && !name.toLowerCase().endsWith('.md')) strays.push(e.rawPath ?? e.path);
      continue;
    }
    folders.add(name);
  }
  return { folders, strays };
}
