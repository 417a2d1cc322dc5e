// Which user, uid and units a workload has on this host, from moor's own records: what
// `moor logs` reads the journal of. The newest generation, when it lists the workload,
// says which files it was last given (a failed create included); its rendered files say
// which units they yield (ServiceName= overrides too); the pass's item or the applied
// record says the uid. Otherwise the applied record alone (a workload the newest pass left
// as it ran). A workload in neither is not this host's.
import { renderedFromFiles } from '../core/rendered';
import { unitsOfTargets, type ExpectedUnit } from '../core/deploy-layout';
import type { StateStore } from './store';

export interface WorkloadUnits {
  workload: string;
  user: string;
  /** Absent when no pass got as far as creating the user. */
  uid?: number;
  /** Every unit the workload's files yield: services, timers, Quadlet's volume services... */
  units: string[];
  /** Those the health gate waits for: what should be up while the workload is applied. */
  gated: string[];
}

export async function workloadUnits(store: StateStore, workload: string): Promise<WorkloadUnits | undefined> {
  return (await workloadUnitsOf(store, [workload])).get(workload);
}

/** The same for several workloads, with the newest generation read once (`moor status`). */
export async function workloadUnitsOf(store: StateStore, workloads: readonly string[]): Promise<Map<string, WorkloadUnits>> {
  const out = new Map<string, WorkloadUnits>();
  // The newest generation alone: a workload removed since is not this host's any more.
  const latest = (await store.generations.list()).filter((g) => g.manifest !== undefined && g.state !== 'corrupt').at(-1);
  let generationFiles: Awaited<ReturnType<StateStore['generations']['read']>> | undefined | null;
  for (const workload of workloads) {
    const applied = await store.applied.read(workload);
    const entry = latest?.manifest!.workloads[workload];
    if (latest && entry) {
      let units: ExpectedUnit[];
      try {
        if (generationFiles === undefined) generationFiles = await store.generations.read(latest.id).catch(() => null);
        if (generationFiles === null) throw new Error('unreadable');
        units = renderedFromFiles(workload, entry.user, generationFiles.workloads[workload]?.files ?? {}).units;
      } catch {
        // A file of the generation that cannot be read: its path still names its units
        // (all but a ServiceName= override).
        units = unitsOfTargets(entry.files);
      }
      const item = latest.status?.items.find((i) => i.workload === workload);
      const uid = item?.uid ?? (applied?.user === entry.user ? applied.uid : undefined);
      out.set(workload, { workload, user: entry.user, ...(uid !== undefined ? { uid } : {}), ...names(units) });
    } else if (applied) {
      out.set(workload, { workload, user: applied.user, uid: applied.uid, ...names(unitsOfTargets(Object.keys(applied.hashes))) });
    }
  }
  return out;
}

function names(units: readonly ExpectedUnit[]): Pick<WorkloadUnits, 'units' | 'gated'> {
  return { units: units.map((u) => u.unit), gated: units.filter((u) => u.gate).map((u) => u.unit) };
}
