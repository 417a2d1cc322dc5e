// The read models: what `moor status` and `moor generations` show, built from the state
// store alone. The CLI prints them; the service answers GET /v1/status and
// GET /v1/generations with the same shapes (the `--json` of those commands).
import { ExitCode } from '../core/exit-codes';
import type { LiveWorkload } from '../core/live-units';
import type { AppliedRecord } from './applied';
import type { Manifest } from './generation-records';
import type { LastPass } from './last-pass';
import type { StateStore } from './store';
import { byText } from '../core/text-order';

export interface GenerationRow {
  generation: number;
  /** complete, failed, aborted, in-progress, corrupt (not yet moved aside), or quarantined. */
  state: string;
  kind?: string;
  rollbackOf?: number;
  commit?: string;
  /** Who signed the commit, when `[trust]` verified it. */
  signer?: Manifest['signer'];
  createdAt: string;
  /** Workloads whose apply failed in this generation. */
  failed: string[];
  /** Workloads whose update failed and was rolled back: the previous version ran on. */
  rolledBack: string[];
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
    ...(g.manifest?.signer ? { signer: g.manifest.signer } : {}),
    createdAt: g.createdAt.toISOString(),
    failed: (g.status?.items ?? []).filter((i) => i.result === 'failed').map((i) => i.workload),
    rolledBack: (g.status?.items ?? []).filter((i) => i.result === 'rolled-back').map((i) => i.workload),
    current: g.id === current,
    pinned: g.id === pinned,
    ...(g.problem ? { problem: g.problem } : {}),
  }));
  for (const q of await store.generations.listQuarantined()) {
    rows.push({ generation: q.id, state: 'quarantined', createdAt: q.at, failed: [], rolledBack: [], current: false, pinned: false, problem: q.problem });
  }
  return rows.sort((a, b) => a.generation - b.generation);
}

export interface WorkloadStatus {
  workload: string;
  user: string;
  uid?: number;
  action?: string;
  /** ok, failed, rolled-back (the update failed; the previous version runs), or removed. */
  result?: string;
  error?: string;
  /** When its current files were applied (for a rolled-back one: put back). */
  appliedAt?: string;
  /** The commit the files it runs came from, and the generation that applied them. */
  appliedCommit?: string;
  appliedGeneration?: number;
  /** The version an update failed with; the workload runs the applied one until the repo changes it or `moor redeploy`. */
  rolledBack?: { commit: string; generation: number; at: string; error: string };
  /** A workload the latest generation removed: when (shown for REMOVED_ROW_MS after). */
  removedAt?: string;
  /** The generation whose status this row shows. */
  generation?: number;
  /**
   * What systemd runs now (state/live-status.ts), when it was read: each unit's state and
   * the drift, or why the user's manager could not be asked.
   */
  systemd?: LiveWorkload | { problem: string };
}

/** How long a removed workload stays a row of `moor status`. */
export const REMOVED_ROW_MS = 24 * 60 * 60 * 1000;

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
  live?: { generation: number; commit: string; source: string; kind: string; signer?: Manifest['signer'] };
  /**
   * Not every workload runs what the live generation holds (a partial pass moved some on,
   * a rollback put one back, one failed or was removed): how many do, and what the others run.
   */
  mixed?: { running: number; total: number; others: { workload: string; commit?: string; generation?: number; failed?: boolean }[] };
  /** The live generation cannot be read: the next pass quarantines it and records the host anew. */
  liveCorrupt?: { generation: number; problem: string };
  latest?: { generation: number; state: string; commit: string };
  lastPass?: LastPass;
  pinned?: { generation: number; pinnedAt: string };
  workloads: WorkloadStatus[];
  /** Present when the running service answered. */
  daemon?: DaemonInfo;
  /** When the units' live states were read, or why they were not (not root, systemd failing). */
  systemd?: { readAt: string } | { unavailable: string };
}

/** The report of `moor status --json`, without the service's part. */
export async function statusReport(store: StateStore, now: Date = new Date()): Promise<StatusReport> {
  const gens = await store.generations.list();
  const currentId = await store.generations.current();
  const current = gens.find((g) => g.id === currentId);
  const latest = gens.filter((g) => g.state !== 'aborted' && g.state !== 'corrupt').at(-1);
  const pin = await store.pin.read();
  const applied = await store.applied.list();
  const rows = new Map<string, WorkloadStatus>();
  for (const a of applied) {
    rows.set(a.workload, {
      workload: a.workload,
      user: a.user,
      uid: a.uid,
      appliedAt: a.appliedAt,
      appliedCommit: a.commit,
      appliedGeneration: a.generation,
      generation: a.generation,
      ...(a.rolledBack ? { result: 'rolled-back', error: a.rolledBack.error, rolledBack: { commit: a.rolledBack.commit, generation: a.rolledBack.generation, at: a.rolledBack.at, error: a.rolledBack.error } } : {}),
    });
  }
  // The newest generation's items say how each workload's latest attempt went.
  for (const item of latest?.status?.items ?? []) {
    const row = rows.get(item.workload);
    if (item.action === 'remove' && item.result === 'ok' && !row) {
      // Gone for good: a row for a while, then only the history (`moor generations`) and the journal.
      if (now.getTime() - Date.parse(item.at) < REMOVED_ROW_MS) {
        rows.set(item.workload, { workload: item.workload, user: item.user, action: item.action, result: 'removed', removedAt: item.at, generation: latest!.id });
      }
      continue;
    }
    rows.set(item.workload, {
      ...(row ?? { workload: item.workload, user: item.user }),
      ...(item.uid !== undefined ? { uid: item.uid } : {}),
      action: item.action,
      result: item.result,
      ...(item.error ? { error: item.error } : {}),
      generation: latest!.id,
    });
  }
  const lastPass = await store.lastPass.read();
  const failed = new Set([...rows.values()].filter((w) => w.result === 'failed').map((w) => w.workload));
  const mixed = current?.manifest ? mixedLive(current.manifest.workloads, applied, failed) : undefined;
  return {
    ...(current?.manifest ? { live: { generation: current.id, commit: current.manifest.commit, source: current.manifest.source, kind: current.manifest.kind, ...(current.manifest.signer ? { signer: current.manifest.signer } : {}) } } : {}),
    ...(mixed ? { mixed } : {}),
    ...(current?.state === 'corrupt' ? { liveCorrupt: { generation: current.id, problem: current.problem ?? 'unreadable' } } : {}),
    ...(latest?.manifest ? { latest: { generation: latest.id, state: latest.state, commit: latest.manifest.commit } } : {}),
    ...(lastPass ? { lastPass } : {}),
    ...(pin ? { pinned: { generation: pin.generation, pinnedAt: pin.pinnedAt } } : {}),
    workloads: [...rows.values()].sort((a, b) => byText(a.workload, b.workload)),
  };
}

/**
 * A workload runs the live generation when its applied content hash is the one the live
 * manifest holds for it and its latest attempt did not fail (which may have left it down).
 * Undefined when every workload does.
 */
function mixedLive(live: Record<string, { hash: string }>, applied: readonly AppliedRecord[], failed: ReadonlySet<string>): StatusReport['mixed'] {
  const names = [...new Set([...Object.keys(live), ...applied.map((a) => a.workload)])].sort();
  const others: NonNullable<StatusReport['mixed']>['others'] = [];
  for (const name of names) {
    const a = applied.find((r) => r.workload === name);
    if (a && live[name]?.hash === a.hash && !failed.has(name)) continue;
    others.push({ workload: name, ...(a ? { commit: a.commit, generation: a.generation } : {}), ...(failed.has(name) ? { failed: true } : {}) });
  }
  return others.length === 0 ? undefined : { running: names.length - others.length, total: names.length, others };
}

/** The reasons a workload drifted now, when its live state was read. */
export function driftOf(w: WorkloadStatus): string[] {
  return w.systemd && 'drift' in w.systemd ? w.systemd.drift : [];
}

/**
 * `moor status`'s exit code: 0 when every workload runs as applied and the last pass
 * succeeded; 1 (as for a partial apply) when a workload failed, is rolled back or drifted
 * (a unit that should run does not, now), the last pass did not succeed, or the live
 * generation is corrupt. A state that cannot be read at all throws (exit 6).
 */
export function statusExitCode(r: StatusReport): ExitCode {
  const workloads = r.workloads.some((w) => w.result === 'failed' || w.result === 'rolled-back' || driftOf(w).length > 0);
  return workloads || (r.lastPass !== undefined && r.lastPass.exitCode !== 0) || r.liveCorrupt ? ExitCode.Partial : ExitCode.Ok;
}
