// A host's status document (docs/fleet.md "Status branches"): what a host publishes after a
// pass as `status.json` on its branch `moor-status/<host.name>`, built from the pass and
// the state it left, and read back by other hosts (the ring rule, core/rollout.ts) and by
// `moor fleet status`. A document read from the repository was written by another host,
// or by anyone who can push there: it is parsed with bounds on every size and trusted for
// display and the ring rule only.
import * as z from 'zod/mini';
import './zod-english';
import { HOST_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from './config/schema';
import { JSON_SCHEMA } from './json-schema';
import { byText } from './text-order';

/** The most bytes of a status.json read from the repository; a larger one is refused unread. */
export const MAX_STATUS_BYTES = 256 * 1024;
/** The most workloads a document may list. */
export const MAX_STATUS_WORKLOADS = 2_000;
/** The longest error kept per workload (a failure's journal excerpt is cut here). */
export const MAX_STATUS_ERROR = 2_000;

/** How the pass that a document describes ended: its exit code in three words. */
export type StatusResult = 'ok' | 'partial' | 'failed';

/** A workload as its host last saw it: the applied record's identity and hash, and the pass's verdict. */
export type WorkloadStatus = 'ok' | 'failed' | 'rolled-back' | 'unknown';

const COMMIT = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const commit = z.string().check(z.regex(COMMIT, 'a full commit id'));
// The names and values below come from the writer's config and repository; the patterns
// are generous versions of moor's own rules, bounded, with no control characters.
const workloadName = z.string().check(z.regex(/^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$/, 'a workload name'));

const WorkloadEntry = z.object({
  user: z.string().check(z.regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a user name')),
  uid: z.optional(z.int().check(z.nonnegative(), z.maximum(0xffffffff))),
  home: z.optional(z.string().check(z.startsWith('/'), z.maxLength(4096), z.regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters'))),
  hash: z.optional(z.string().check(z.regex(/^[A-Za-z0-9:_-]{1,128}$/, 'a content hash'))),
  status: z.enum(['ok', 'failed', 'rolled-back', 'unknown']),
  error: z.optional(z.string().check(z.maxLength(MAX_STATUS_ERROR))),
});
export type WorkloadEntry = z.infer<typeof WorkloadEntry>;

// Keys a newer moor adds are dropped, not refused: a new key does not raise the schema
// version (core/json-schema.ts), so an older host still reads a newer one's document.
export const StatusDocument = z.object({
  schema: z.literal(JSON_SCHEMA),
  host: z.string().check(z.regex(HOST_NAME_PATTERN, 'a host name')),
  ring: z.string().check(z.regex(HOST_NAME_PATTERN, 'a ring name')),
  labels: z
    .record(z.string().check(z.regex(LABEL_KEY_PATTERN, 'a label key')), z.string().check(z.regex(LABEL_VALUE_PATTERN, 'a label value')))
    .check(z.refine((l) => Object.keys(l).length <= 64, 'at most 64 labels')),
  /** The commit the host runs: the pass's when it applied it fully, else the live generation's. */
  commit: z.nullable(commit),
  /** The commit the pass deployed or tried; null when the pass ended before it had one. */
  passCommit: z.nullable(commit),
  generation: z.nullable(z.int().check(z.positive(), z.maximum(Number.MAX_SAFE_INTEGER))),
  result: z.enum(['ok', 'partial', 'failed']),
  exitCode: z.int().check(z.minimum(0), z.maximum(255)),
  at: z.iso.datetime({ offset: true }),
  /** The pass exited 0 and applied `commit` fully (no rollback pin). */
  healthy: z.boolean(),
  /** The newest commit this host ever published healthy: carried forward by every document after it. */
  lastHealthy: z.nullable(commit),
  workloads: z.record(workloadName, WorkloadEntry).check(z.refine((w) => Object.keys(w).length <= MAX_STATUS_WORKLOADS, `at most ${MAX_STATUS_WORKLOADS} workloads`)),
});
export type StatusDocument = z.infer<typeof StatusDocument>;

/** A status branch as read from the repository: its document, or why there is none to use. */
export type PublishedStatus = { host: string; document: StatusDocument } | { host: string; problem: string };

/** A pass's item, as much of it as a document keeps. */
export interface StatusItemFacts {
  workload: string;
  user: string;
  uid?: number;
  action: string;
  result: 'ok' | 'failed' | 'rolled-back' | 'planned';
  error?: string;
}

/** What a document is built from: who the host is, how its pass ended, what its state holds. */
export interface StatusFacts {
  host: string;
  ring: string;
  labels: Record<string, string>;
  /** The live generation (`current`), if any. */
  live?: { generation: number; commit: string };
  /** The pass: its commit and items when it got that far, its kind, its exit code. */
  pass: { exitCode: number; commit?: string; kind?: 'pass' | 'rollback'; items?: StatusItemFacts[] };
  /** The applied records: what runs, by workload. */
  applied: { workload: string; user: string; uid: number; hash: string }[];
  /** Home directories of the workload users, by user name, where known. */
  homes: ReadonlyMap<string, string>;
  /** lastHealthy of the previous document. */
  lastHealthy?: string;
  at: Date;
}

export function statusResultOf(exitCode: number): StatusResult {
  return exitCode === 0 ? 'ok' : exitCode === 1 ? 'partial' : 'failed';
}

export function buildStatusDocument(f: StatusFacts): StatusDocument {
  const passCommit = f.pass.commit && COMMIT.test(f.pass.commit) ? f.pass.commit : null;
  // A pinned rollback runs an older generation on purpose: never a commit to follow.
  const healthy = f.pass.exitCode === 0 && f.pass.kind === 'pass' && passCommit !== null;
  const applied = new Map(f.applied.map((a) => [a.workload, a]));
  const workloads: Record<string, WorkloadEntry> = {};
  const entry = (name: string, user: string, uid: number | undefined, status: WorkloadStatus, error?: string): void => {
    const record = applied.get(name);
    const id = uid ?? record?.uid;
    const home = f.homes.get(user);
    workloads[name] = {
      user,
      ...(id !== undefined ? { uid: id } : {}),
      ...(home !== undefined ? { home } : {}),
      ...(record ? { hash: record.hash } : {}),
      status,
      ...(error ? { error: error.length > MAX_STATUS_ERROR ? `${error.slice(0, MAX_STATUS_ERROR - 3)}...` : error } : {}),
    };
  };
  const items = f.pass.items ?? [];
  for (const item of [...items].sort((a, b) => byText(a.workload, b.workload))) {
    // A workload the pass removed is gone from the host.
    if (item.action === 'remove' && item.result === 'ok') continue;
    entry(item.workload, item.user, item.uid, item.result === 'planned' ? 'unknown' : item.result, item.error);
  }
  // A pass that ended before its items (a fetch that failed) still says what runs.
  for (const a of [...f.applied].sort((x, y) => byText(x.workload, y.workload))) {
    if (!(a.workload in workloads)) entry(a.workload, a.user, a.uid, 'unknown');
  }
  return {
    schema: JSON_SCHEMA,
    host: f.host,
    ring: f.ring,
    labels: Object.fromEntries(Object.entries(f.labels).sort(([a], [b]) => byText(a, b))),
    commit: healthy ? passCommit : (f.live?.commit ?? null),
    passCommit,
    generation: f.live?.generation ?? null,
    result: statusResultOf(f.pass.exitCode),
    exitCode: f.pass.exitCode,
    at: f.at.toISOString(),
    healthy,
    lastHealthy: healthy ? passCommit : (f.lastHealthy ?? null),
    workloads,
  };
}

/** The document as committed: pretty JSON, its schema version first, a final newline. */
export function statusJson(doc: StatusDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Whether two documents say the same thing: `at` aside, a pass like the last is not published again. */
export function sameStatus(a: StatusDocument, b: StatusDocument): boolean {
  return canonical({ ...a, at: '' }) === canonical({ ...b, at: '' });
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => byText(a, b)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The document of branch `moor-status/<branchHost>` from its bytes: a problem (one line,
 * for people) when it is too large, not JSON, not of this shape, or names another host.
 */
export function parseStatusDocument(branchHost: string, bytes: Uint8Array | string): PublishedStatus {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > MAX_STATUS_BYTES) return { host: branchHost, problem: `status.json is ${size} bytes, more than ${MAX_STATUS_BYTES}` };
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    return { host: branchHost, problem: 'status.json is not JSON' };
  }
  if (raw !== null && typeof raw === 'object' && 'schema' in raw && raw.schema !== JSON_SCHEMA) {
    const schema = typeof raw.schema === 'number' ? String(raw.schema) : 'not a number';
    return { host: branchHost, problem: `status.json has schema ${schema}; this moor reads schema ${JSON_SCHEMA}` };
  }
  const parsed = StatusDocument.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const where = first.path.map((p) => String(p).slice(0, 64)).join('.');
    return { host: branchHost, problem: `status.json is not a status document: ${where ? `${where}: ` : ''}${first.message.slice(0, 200)}` };
  }
  if (parsed.data.host !== branchHost) {
    return { host: branchHost, problem: `status.json names host ${parsed.data.host}, not the branch's ${branchHost}` };
  }
  return { host: branchHost, document: parsed.data };
}

/** The workloads a document names as failed or rolled back, sorted. */
export function failedWorkloads(doc: StatusDocument): string[] {
  return Object.entries(doc.workloads)
    .filter(([, w]) => w.status === 'failed' || w.status === 'rolled-back')
    .map(([name]) => name)
    .sort();
}
