// Which user, uid and units a workload has on this host, from moor's own records: what
// `moor logs` reads the journal of. The newest generation, when it lists the workload,
// says which files it was last given (a failed create included); its rendered files say
// which units they yield (ServiceName= overrides too); the pass's item or the applied
// record says the uid. Otherwise the applied record alone (a workload the newest pass left
// as it ran). A workload in neither is not this host's.
import { renderedFromFiles } from '../core/desired';
import { unitsOfTargets } from '../core/deploy-layout';
import type { StateStore } from './store';

export interface WorkloadUnits {
  workload: string;
  user: string;
  /** Absent when no pass got as far as creating the user. */
  uid?: number;
  /** Every unit the workload's files yield: services, timers, Quadlet's volume services... */
  units: string[];
}

export async function workloadUnits(store: StateStore, workload: string): Promise<WorkloadUnits | undefined> {
  const applied = await store.applied.read(workload);
  // The newest generation alone: a workload removed since is not this host's any more.
  const latest = (await store.generations.list()).filter((g) => g.manifest !== undefined && g.state !== 'corrupt').at(-1);
  const newest = latest?.manifest!.workloads[workload] !== undefined ? latest : undefined;
  if (newest) {
    const entry = newest.manifest!.workloads[workload]!;
    let units: string[];
    try {
      const files = (await store.generations.read(newest.id)).workloads[workload]?.files ?? {};
      units = renderedFromFiles(workload, entry.user, files).units.map((u) => u.unit);
    } catch {
      // A file of the generation that cannot be read: its path still names its units
      // (all but a ServiceName= override).
      units = unitsOfTargets(entry.files).map((u) => u.unit);
    }
    const item = newest.status?.items.find((i) => i.workload === workload);
    const uid = item?.uid ?? (applied?.user === entry.user ? applied.uid : undefined);
    return { workload, user: entry.user, ...(uid !== undefined ? { uid } : {}), units };
  }
  if (applied) return { workload, user: applied.user, uid: applied.uid, units: unitsOfTargets(Object.keys(applied.hashes)).map((u) => u.unit) };
  return undefined;
}
