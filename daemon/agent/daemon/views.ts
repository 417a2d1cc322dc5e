// The read-only answers of the control API, in the shapes of the matching commands' --json.
import type { StateStore } from '../../state/store';

export interface GenerationRow {
  generation: number;
  state: string;
  kind?: string;
  rollbackOf?: number;
  commit?: string;
  createdAt: string;
  failed: string[];
  current: boolean;
  pinned: boolean;
}

/** The rows of `moor generations --json`. */
export async function generationRows(store: StateStore): Promise<GenerationRow[]> {
  const current = await store.generations.current();
  const pinned = (await store.pin.read())?.generation;
  return (await store.generations.list()).map((g) => ({
    generation: g.id,
    state: g.state,
    kind: g.manifest?.kind,
    rollbackOf: g.manifest?.rollbackOf,
    commit: g.manifest?.commit,
    createdAt: g.createdAt.toISOString(),
    failed: (g.status?.items ?? []).filter((i) => i.result !== 'ok').map((i) => i.workload),
    current: g.id === current,
    pinned: g.id === pinned,
  }));
}
