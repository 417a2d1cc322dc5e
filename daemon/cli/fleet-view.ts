// The fleet view: every host's status as it published it to its branch
// `moor-status/<host>` of the source, read from the repository alone (docs/fleet.md
// "The fleet view"), for `moor fleet status` and `moor plan --host`. The branches are
// fetched into a scratch git dir, removed after.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MoorConfig } from '../core/config/schema';
import { UsageError } from '../core/errors';
import { failedWorkloads, type StatusDocument } from '../core/fleet-status';
import { table } from './output';

/** One host of the fleet view: its document and the workloads it names as failed, or why it has none. */
export type FleetHost = (StatusDocument & { failed: string[] }) | { host: string; problem: string };

export interface FleetView {
  source: string;
  branch: string;
  /** The branch's tip at the source; null when the branch does not exist. */
  tip: string | null;
  hosts: FleetHost[];
}

export async function fleetView(config: MoorConfig, source?: string): Promise<FleetView> {
  // A directory named on the command line is the repository there, however it was spelled.
  const url = source !== undefined ? (existsSync(source) ? resolve(source) : source) : config.source.url;
  if (!url) throw new UsageError('no source to read: set source.url in the config, or give --source URL');
  const branch = config.source.branch;
  const remote = { url, timeoutMs: config.timeouts.fetchMs, ...(config.source.sshKey && source === undefined ? { sshKey: config.source.sshKey } : {}) };
  // git's side loads here, not with the command line (build.ts).
  const { ensureFleetDir, fetchStatusBranches, readStatusBranches, remoteBranchTip } = await import('../host/fleet-git');
  const scratch = await mkdtemp(join(tmpdir(), 'moor-fleet-'));
  try {
    const dir = join(scratch, 'fleet.git');
    await ensureFleetDir(dir, config.timeouts.commandMs);
    await fetchStatusBranches(dir, remote);
    const tip = (await remoteBranchTip(dir, remote, branch)) ?? null;
    const hosts = (await readStatusBranches(dir, config.timeouts.commandMs)).map((s): FleetHost => ('document' in s ? { ...s.document, failed: failedWorkloads(s.document) } : s));
    return { source: url, branch, tip, hosts };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** "42s", "5m", "3h", "2d": how long ago a host published. */
export function age(from: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(from)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 120 * 60) return `${Math.round(s / 60)}m ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function formatFleetView(v: FleetView, now: Date): string {
  const header = `source ${v.source}  branch ${v.branch}  tip ${v.tip ? v.tip.slice(0, 12) : '(no such branch)'}`;
  if (v.hosts.length === 0) return `${header}\nno host has published its status (a host with fleet.publish = true does, after its next pass)`;
  const rows = v.hosts.map((h) => {
    if ('problem' in h) return [h.host, '-', '-', '-', 'unreadable', h.problem, '-'];
    const result = h.result === 'ok' && !h.healthy ? 'ok (rollback)' : h.result;
    return [h.host, h.ring, h.commit?.slice(0, 12) ?? '-', h.generation !== null ? String(h.generation) : '-', result, h.failed.join(', ') || '-', age(h.at, now)];
  });
  return `${header}\n${table([['HOST', 'RING', 'COMMIT', 'GEN', 'RESULT', 'FAILED', 'PUBLISHED'], ...rows])}`;
}
