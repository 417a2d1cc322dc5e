// moor status: the live generation, its commit, and every workload's state at a glance.
import type { Command } from 'commander';
import type { MoorConfig } from '../core/config/schema';
import { LastPassStore, type LastPass } from '../state/last-pass';
import type { StateStore } from '../state/store';
import { configFrom, type SetExit } from './common';
import { emit, table } from './output';
import { openStoreReadOnly } from './pass-context';
import { ExitCode } from '../exit-codes';
import type { DaemonInfo } from '../agent/daemon/protocol';
import { statusViaDaemon } from '../agent/daemon/cli-bridge';

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

export interface StatusReport {
  live?: { generation: number; commit: string; source: string; kind: string };
  latest?: { generation: number; state: string; commit: string };
  lastPass?: LastPass;
  pinned?: { generation: number; pinnedAt: string };
  workloads: WorkloadStatus[];
  /** Present when the running daemon answered: its own state. */
  daemon?: DaemonInfo;
}

export async function statusReport(store: StateStore, config: MoorConfig): Promise<StatusReport> {
  const gens = await store.generations.list();
  const currentId = await store.generations.current();
  const current = gens.find((g) => g.id === currentId);
  const latest = gens.filter((g) => g.state !== 'aborted').at(-1);
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
  const lastPass = await new LastPassStore(config.stateDir).read();
  return {
    ...(current?.manifest ? { live: { generation: current.id, commit: current.manifest.commit, source: current.manifest.source, kind: current.manifest.kind } } : {}),
    ...(latest?.manifest ? { latest: { generation: latest.id, state: latest.state, commit: latest.manifest.commit } } : {}),
    ...(lastPass ? { lastPass } : {}),
    ...(pin ? { pinned: { generation: pin.generation, pinnedAt: pin.pinnedAt } } : {}),
    workloads: [...rows.values()].sort((a, b) => a.workload.localeCompare(b.workload)),
  };
}

export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(r.live ? `live: generation ${r.live.generation} @${r.live.commit.slice(0, 12)} (${r.live.kind}) from ${r.live.source}` : 'live: no complete generation yet');
  if (r.latest && r.latest.generation !== r.live?.generation) {
    lines.push(`latest: generation ${r.latest.generation} @${r.latest.commit.slice(0, 12)} is ${r.latest.state.toUpperCase()}`);
  }
  if (r.pinned) lines.push(`PINNED to generation ${r.pinned.generation} since ${r.pinned.pinnedAt} by a rollback: run "moor resume" to follow the repo again`);
  if (r.lastPass) lines.push(`last pass: ${r.lastPass.at} exit ${r.lastPass.exitCode}: ${r.lastPass.summary}`);
  if (r.daemon) lines.push(formatDaemon(r.daemon));
  lines.push('');
  if (r.workloads.length === 0) {
    lines.push('no workloads');
  } else {
    const rows = [['WORKLOAD', 'USER', 'UID', 'ACTION', 'RESULT', 'APPLIED', 'ERROR']];
    for (const w of r.workloads) {
      rows.push([w.workload, w.user, w.uid?.toString() ?? '-', w.action ?? '-', w.result ?? '-', w.appliedAt ?? 'never', w.error ?? '']);
    }
    lines.push(table(rows));
  }
  return lines.join('\n');
}

function formatDaemon(d: DaemonInfo): string {
  const parts = [`daemon: pid ${d.pid} since ${d.startedAt}`];
  if (d.running) parts.push(`pass running since ${d.running.since} (${d.running.reasons.join(', ')})`);
  if (d.queued) parts.push(`follow-up pass queued (${d.queued.join(', ')})`);
  if (d.nextScheduled) parts.push(`next scheduled pass ${d.nextScheduled}`);
  return parts.join('; ');
}

export function registerStatus(program: Command, setExit: SetExit): void {
  program
    .command('status')
    .description('live generation, commit, and per-workload state')
    .option('--json', 'print the result as JSON')
    .option('--no-daemon', 'read the state in this process even when a moor daemon answers on the control socket')
    .action(async (opts: { json?: boolean; daemon?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const report =
        (opts.daemon !== false ? await statusViaDaemon<StatusReport>(config) : undefined) ?? (await statusReport(await openStoreReadOnly(config), config));
      emit(opts, report, formatStatus);
      setExit(ExitCode.Ok);
    });
}
