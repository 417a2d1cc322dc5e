// The files of one generation directory. Times are ISO-8601 strings in the files and in
// these types, so a record reads back exactly as it was written.
import * as z from 'zod/mini';
import { StateError } from '../core/errors';
import { PLAN_ACTIONS } from '../core/plan';
import type { FileContents } from '../core/types';
import { assertRelativePath, assertSafeName } from './layout';

const isoTime = z.iso.datetime({ offset: true });

export const GenerationKind = z.enum(['pass', 'rollback']);
export type GenerationKind = z.infer<typeof GenerationKind>;

export const ManifestWorkload = z.object({
  user: z.string(),
  /** Content hash of the workload's rendered files, as the plan compares it. */
  hash: z.string(),
  /** Paths relative to the user's ~/.config, sorted. */
  files: z.array(z.string()),
  /**
   * The tree under trees/ that holds the files (state/trees.ts). Absent in generations of
   * the layout before trees, whose files are under units/<user>/ (state/legacy-units.ts).
   */
  tree: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}-\d+$/))),
});
export type ManifestWorkload = z.infer<typeof ManifestWorkload>;

/** Who signed a generation's commit, as `[trust]` verified it (core/trust.ts Signer). */
export const ManifestSigner = z.object({
  format: z.enum(['ssh', 'openpgp']),
  fingerprint: z.string(),
  principal: z.string(),
});

export const Manifest = z.object({
  generation: z.int().check(z.positive()),
  kind: GenerationKind,
  commit: z.string(),
  /** Where the desired state came from (repository URL or bare-repo path). */
  source: z.string(),
  startedAt: isoTime,
  /** For a rollback: the generation whose rendered state this one re-applies. */
  rollbackOf: z.optional(z.int().check(z.positive())),
  /** Absent when the commit was not verified (trust.mode off, or a generation older than [trust]). */
  signer: z.optional(ManifestSigner),
  workloads: z.record(z.string(), ManifestWorkload),
});
export type Manifest = z.infer<typeof Manifest>;

/** rolled-back: an update that failed, after which the previous version runs again (or, for `keep`, still does). */
export const ItemResult = z.enum(['ok', 'failed', 'rolled-back']);
export type ItemResult = z.infer<typeof ItemResult>;

export const StatusItem = z.object({
  workload: z.string(),
  user: z.string(),
  uid: z.optional(z.int().check(z.nonnegative())),
  action: z.enum(PLAN_ACTIONS),
  result: ItemResult,
  error: z.optional(z.string()),
  durationMs: z.number().check(z.nonnegative()),
  at: isoTime,
});
export type StatusItem = z.infer<typeof StatusItem>;

export const Status = z.object({
  generation: z.int().check(z.positive()),
  items: z.array(StatusItem),
  updatedAt: isoTime,
  /** Set only when the pass reached its end; its absence after a restart means a crash. */
  finishedAt: z.optional(isoTime),
});
export type Status = z.infer<typeof Status>;

/** Content of the `complete` and `aborted` markers: only their presence matters to readers. */
export const Marker = z.object({ at: isoTime });
export type Marker = z.infer<typeof Marker>;

export const Sequence = z.object({ last: z.int().check(z.nonnegative()) });

/** `corrupt`: a record of it cannot be read; the next holder of the lock quarantines it. */
export type GenerationState = 'complete' | 'failed' | 'aborted' | 'in-progress' | 'corrupt';

/** One generation as listed: its number, state and records. */
export interface GenerationInfo {
  id: number;
  state: GenerationState;
  /** Absent only for a generation that crashed before its rendered state was written. */
  manifest?: Manifest;
  status?: Status;
  createdAt: Date;
  /** For a corrupt generation: what could not be read. */
  problem?: string;
}

/**
 * The only condition under which a generation may become complete: every item succeeded,
 * and every workload of the manifest has an item (a pass stopped half-way, say by
 * SIGTERM, may have only ok items so far, yet it did not apply its generation).
 */
export function allSucceeded(manifest: Manifest, items: readonly StatusItem[]): boolean {
  const ok = new Set(items.filter((item) => item.result === 'ok').map((item) => item.workload));
  return items.every((item) => item.result === 'ok') && Object.keys(manifest.workloads).every((name) => ok.has(name));
}

/** One workload as a generation keeps it: its user, its content hash, its rendered files. */
export interface GenerationWorkload {
  user: string;
  hash: string;
  files: FileContents;
}

export interface GenerationInput {
  kind: GenerationKind;
  commit: string;
  source: string;
  rollbackOf?: number;
  signer?: z.infer<typeof ManifestSigner>;
  /** Keyed by workload name. */
  workloads: Record<string, GenerationWorkload>;
}

/** Names and paths safe to become part of a path in the state dir, and no two workloads of one user writing one file. */
export function checkInput(input: GenerationInput): void {
  const seen = new Map<string, string>();
  for (const [name, workload] of Object.entries(input.workloads)) {
    assertSafeName('workload', name);
    assertSafeName('user', workload.user);
    for (const relPath of Object.keys(workload.files)) {
      assertRelativePath(relPath);
      const key = `${workload.user}/${relPath}`;
      const other = seen.get(key);
      if (other !== undefined) throw new StateError(`workloads ${other} and ${name} both write ${key}`);
      seen.set(key, name);
    }
  }
}
