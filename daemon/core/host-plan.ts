// What a host of a fleet would do with a checkout, judged from another machine: each
// workload of its slice against what the host last published (docs/fleet.md "Planning for
// another host"). Only hashes can be compared there, not files: the host's own files are
// on the host. A workload the host runs is rendered with the uid and home it published,
// so an unchanged workload hashes the same as on the host.
import type { RenderedWorkload } from './rendered';
import type { Problem } from './problem';
import type { StatusDocument } from './fleet-status';
import { byText } from './text-order';

export type HostPlanAction = 'create' | 'update' | 'keep' | 'remove' | 'invalid';

export interface HostPlanItem {
  workload: string;
  user: string;
  action: HostPlanAction;
  units: string[];
  /** `invalid`: why the host would leave it as it runs. */
  problems?: Problem[];
}

/** The uid and home the host published for a workload, when it has both. */
export function publishedAccount(doc: StatusDocument | undefined, workload: string): { uid: number; home: string } | undefined {
  const w = doc?.workloads[workload];
  return w?.uid !== undefined && w.home !== undefined ? { uid: w.uid, home: w.home } : undefined;
}

/**
 * One item per workload of the slice (create, update, keep, or invalid when it has
 * problems), then one `remove` per workload the host published that the slice lacks.
 * Without a published document every valid workload is a `create`.
 */
export function planForHost(rendered: readonly RenderedWorkload[], published: StatusDocument | undefined): HostPlanItem[] {
  const items: HostPlanItem[] = [];
  for (const r of [...rendered].sort((a, b) => byText(a.name, b.name))) {
    const units = r.units.map((u) => u.unit);
    if (r.problems.length > 0) {
      items.push({ workload: r.name, user: r.user, action: 'invalid', units, problems: r.problems });
      continue;
    }
    const was = published?.workloads[r.name];
    // A workload the host could not record a hash for (it failed before) is applied again.
    const action: HostPlanAction = was === undefined ? 'create' : was.hash === r.hash && was.status === 'ok' ? 'keep' : 'update';
    items.push({ workload: r.name, user: r.user, action, units });
  }
  const desired = new Set(rendered.map((r) => r.name));
  for (const [name, w] of Object.entries(published?.workloads ?? {}).sort(([a], [b]) => byText(a, b))) {
    if (!desired.has(name)) items.push({ workload: name, user: w.user, action: 'remove', units: [] });
  }
  return items;
}
