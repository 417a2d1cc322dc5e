// The read models: what `moor status` and `moor generations` show, built from the state
// store alone. The CLI prints them; the service answers GET /v1/status and
// GET /v1/generations with the same shapes (the `--json` of those commands).
import type { LastPass } from './last-pass';
import type { StateStore } from './store';

export interface GenerationRow {
  generation: number;
  /** complete, failed, aborted, in-progress, corrupt (not yet moved aside), or quarantined. */
  state: string;
  kind?: string;
  rollbackOf?: number;
  commit?: string;
  createdAt: string;
  failed: string[];
  current: boolean;
  pinned: boolean;
  /** Why a corrupt or quarantined generation could not be read. */
  problem?: string;
}

/** The rows of `moor generations --json`. */
export async function generationRows(store: StateStore): Promise<GenerationRow[]> {
  const current = await store.generations.current();
  const pinned = (await store.pin.read())?.generation;
  const rows: GenerationRow[] = (await store.generations.list()).map((g) => ({
    generation: g.id,
    state: g.state,
    kind: g.manifest?.kind,
    rollbackOf: g.manifest?.rollbackOf,
    commit: g.manifest?.commit,
    createdAt: g.createdAt.toISOString(),
    failed: (g.status?.items ?? []).filter((i) => i.result !== 'ok').map((i) => i.workload),
    current: g.id === current,
    pinned: g.id === pinned,
    ...(g.problem ? { problem: g.problem } : {}),
  }));
  for (const q of await store.generations.listQuarantined()) {
    rows.push({ generation: q.id, state: 'quarantined', createdAt: q.at, failed: [], current: false, pinned: false, problem: q.problem });
  }
  return rows.sort((a, b) => a.generation - b.generation);
}

export interface WorkloadStatus {
  workload: string;
  user: string;
  uid?: number;
  action?: string;
  result?: string;
  error?: string;
  /** When its current files were applied. */
  appliedAt?: string;
  /** The generation whose status this row shows. */
  generation?: number;
}

/** What the running service adds to the status report when it answers: its own state. */
export interface DaemonInfo {
  pid: number;
  startedAt: string;
  /** The pass running now, if any, and what triggered it. */
  running?: { since: string; reasons: string[] };
  /** Triggers that arrived during the running pass: one follow-up pass serves them all. */
  queued?: string[];
  nextScheduled?: string;
  lastOutcome?: { at: string; summary: string; exitCode: number };
  notify: string;
}

export interface StatusReport {
  live?: { generation: number; commit: string; source: string; kind: string };
  /** The live generation cannot be read: the next pass quarantines it and records the host anew. */
  liveCorrupt?: { generation: number; problem: string };
  latest?: { generation: number; state: string; commit: string };
  lastPass?: LastPass;
  pinned?: { generation: number; pinnedAt: string };
  workloads: WorkloadStatus[];
  /** Present when the running service answered. */
  daemon?: DaemonInfo;
}

/** The report of `moor status --json`, without the service's part. */
export async function statusReport(store: StateStore): Promise<StatusReport> {
  const gens = await store.generations.list();
  const currentId = await store.generations.current();
  const current = gens.find((g) => g.id === currentId);
  const latest = gens.filter((g) => g.state !== 'aborted' && g.state !== 'corrupt').at(-1);
  const pin = await store.pin.read();
  const rows = new Map<string, WorkloadStatus>();
  for (const a of await store.applied.list()) {
    rows.set(a.workload, { workload: a.workload, user: a.user, uid: a.uid, appliedAt: a.appliedAt, generation: a.generation });
  }
  // The newest generation's items say how each workload's latest attempt went.
  for (const item of latest?.status?.items ?? []) {
    const row = rows.get(item.workload) ?? { workload: item.workload, user: item.user };
    rows.set(item.workload, {
      ...row,
      ...(item.uid !== undefined ? { uid: item.uid } : {}),
      action: item.action,
      result: item.result,
      ...(item.error ? { error: item.error } : {}),
      generation: latest!.id,
    });
  }
  const lastPass = await store.lastPass.read();
  return {
    ...(current?.manifest ? { live: { generation: current.id, commit: current.manifest.commit, source: current.manifest.source, kind: current.manifest.kind } } : {}),
    ...(current?.state === 'corrupt' ? { liveCorrupt: { generation: current.id, problem: current.problem ?? 'unreadable' } } : {}),
    ...(latest?.manifest ? { latest: { generation: latest.id, state: latest.state, commit: latest.manifest.commit } } : {}),
    ...(lastPass ? { lastPass } : {}),
    ...(pin ? { pinned: { generation: pin.generation, pinnedAt: pin.pinnedAt } } : {}),
    workloads: [...rows.values()].sort((a, b) => a.workload.localeCompare(b.workload)),
  };
}
