// Prometheus metrics (text exposition format 0.0.4): the totals moor keeps across
// processes, how one pass adds to them, and the text a scrape or a node_exporter textfile
// reads. Totals live in state (state/metrics.ts) rather than in one process's memory
// because in timer-only mode every pass is a fresh `moor reconcile --once`: counters held
// in memory would restart at one on each pass.
import * as z from 'zod/mini';
import { ExitCode } from './exit-codes';

/** Upper bounds (seconds) of the duration histograms: a no-change pass takes about a second, a large apply minutes. */
export const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;

const Histogram = z.object({ buckets: z.array(z.number().check(z.nonnegative())), sum: z.number().check(z.nonnegative()), count: z.int().check(z.nonnegative()) });
export type Histogram = z.infer<typeof Histogram>;

export const MetricsTotals = z.object({
  passes: z.record(z.string(), z.int().check(z.nonnegative())),
  passDuration: z.record(z.string(), Histogram),
  guardRefusals: z.int().check(z.nonnegative()),
  lockWait: Histogram,
  fetchDuration: Histogram,
  restarts: z.record(z.string(), z.int().check(z.nonnegative())),
  /** Each workload's result in the latest pass that reached it; a removed workload leaves. */
  workloads: z.record(z.string(), z.string()),
  /** The commit of the live generation and its commit time (unix seconds), read once per commit. */
  liveCommit: z.optional(z.object({ commit: z.string(), time: z.number() })),
});
export type MetricsTotals = z.infer<typeof MetricsTotals>;

export function emptyTotals(): MetricsTotals {
  return { passes: {}, passDuration: {}, guardRefusals: 0, lockWait: emptyHistogram(), fetchDuration: emptyHistogram(), restarts: {}, workloads: {} };
}

function emptyHistogram(): Histogram {
  return { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
}

/** The `result` label of a pass: its exit code by name, so a query need not know the numbers. */
export function passResultLabel(exitCode: number): string {
  switch (exitCode) {
    case ExitCode.Ok:
      return 'ok';
    case ExitCode.Partial:
      return 'partial';
    case ExitCode.Invalid:
      return 'invalid';
    case ExitCode.LockHeld:
      return 'lock_held';
    case ExitCode.SourceUnavailable:
      return 'source_unavailable';
    case ExitCode.Refused:
      return 'refused';
    default:
      return 'failed';
  }
}

/** What a finished (not dry-run) pass contributes. */
export interface PassSample {
  exitCode: number;
  durationSeconds: number;
  lockWaitSeconds: number;
  /** Unset when nothing was fetched (a pinned rollback, or a pass that failed before). */
  fetchSeconds?: number;
  guardRefused: boolean;
  /** Every item of the pass; absent when the pass ended in an error before any item. */
  items?: readonly { workload: string; action: string; result: string }[];
}

/** Actions that (re)start a workload's units when they succeed. */
const RESTARTING = new Set(['create', 'update', 'redeploy', 'drift']);

export function addPass(totals: MetricsTotals, sample: PassSample): MetricsTotals {
  const result = passResultLabel(sample.exitCode);
  const next: MetricsTotals = structuredClone(totals);
  next.passes[result] = (next.passes[result] ?? 0) + 1;
  next.passDuration[result] = observe(next.passDuration[result] ?? emptyHistogram(), sample.durationSeconds);
  if (sample.guardRefused) next.guardRefusals++;
  next.lockWait = observe(next.lockWait, sample.lockWaitSeconds);
  if (sample.fetchSeconds !== undefined) next.fetchDuration = observe(next.fetchDuration, sample.fetchSeconds);
  if (sample.items) {
    const workloads: Record<string, string> = {};
    for (const item of sample.items) {
      if (item.action === 'remove' && item.result === 'ok') continue;
      workloads[item.workload] = item.result;
      // A rolled-back update restarted the units twice over, but one restart is what the operator did not ask for.
      if (RESTARTING.has(item.action) && item.result !== 'planned') next.restarts[item.workload] = (next.restarts[item.workload] ?? 0) + 1;
    }
    next.workloads = workloads;
  }
  return next;
}

function observe(h: Histogram, value: number): Histogram {
  const v = Math.max(0, value);
  return { buckets: DURATION_BUCKETS.map((le, i) => (h.buckets[i] ?? 0) + (v <= le ? 1 : 0)), sum: h.sum + v, count: h.count + 1 };
}

/** What a scrape reads besides the totals: the last pass and the live generation, from state. */
export interface MetricsSnapshot {
  totals: MetricsTotals;
  lastPass?: { at: Date; exitCode: number };
  liveGeneration?: number;
  now: Date;
}

type Labels = Record<string, string>;
interface Sample {
  suffix?: string;
  labels?: Labels;
  value: number;
}
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Sample[];
}

export function metricFamilies(s: MetricsSnapshot): MetricFamily[] {
  const t = s.totals;
  const families: MetricFamily[] = [
    { name: 'moor_passes_total', help: 'Passes run (dry runs excluded), by result.', type: 'counter', samples: Object.entries(t.passes).map(([result, value]) => ({ labels: { result }, value })) },
    { name: 'moor_pass_duration_seconds', help: 'Wall time of a pass, lock wait excluded, by result.', type: 'histogram', samples: Object.entries(t.passDuration).flatMap(([result, h]) => histogramSamples(h, { result })) },
    { name: 'moor_guard_refusals_total', help: 'Passes a safety guard refused (mass removal).', type: 'counter', samples: [{ value: t.guardRefusals }] },
    { name: 'moor_lock_wait_seconds', help: 'Time a pass waited for the pass lock.', type: 'histogram', samples: histogramSamples(t.lockWait, {}) },
    { name: 'moor_fetch_duration_seconds', help: 'Time the fetch of the source repository took.', type: 'histogram', samples: histogramSamples(t.fetchDuration, {}) },
    { name: 'moor_workload_restarts_total', help: "Times a pass (re)started a workload's units: create, update, redeploy, drift repair.", type: 'counter', samples: Object.entries(t.restarts).map(([workload, value]) => ({ labels: { workload }, value })) },
    {
      name: 'moor_workload_result',
      help: "A workload's result in the latest pass: 1 for its result, 0 for the others.",
      type: 'gauge',
      samples: Object.entries(t.workloads).flatMap(([workload, result]) => WORKLOAD_RESULTS.map((r) => ({ labels: { workload, result: r }, value: r === result ? 1 : 0 }))),
    },
  ];
  if (s.lastPass) {
    families.push(
      { name: 'moor_last_pass_timestamp_seconds', help: 'When the latest pass ended (unix time).', type: 'gauge', samples: [{ value: s.lastPass.at.getTime() / 1000 }] },
      { name: 'moor_last_pass_exit_code', help: 'Exit code of the latest pass (0 ok, 1 partial, 2 invalid, 3 lock held, 4 source, 5 refused, 6 failed).', type: 'gauge', samples: [{ value: s.lastPass.exitCode }] },
    );
  }
  if (s.liveGeneration !== undefined) families.push({ name: 'moor_live_generation', help: 'The generation `current` points at.', type: 'gauge', samples: [{ value: s.liveGeneration }] });
  if (t.liveCommit) {
    families.push({ name: 'moor_commit_age_seconds', help: "Age of the live generation's commit (its committer time).", type: 'gauge', samples: [{ value: Math.max(0, s.now.getTime() / 1000 - t.liveCommit.time) }] });
  }
  return families;
}

const WORKLOAD_RESULTS = ['ok', 'failed', 'rolled-back'] as const;

function histogramSamples(h: Histogram, labels: Labels): Sample[] {
  if (h.count === 0 && Object.keys(labels).length > 0) return [];
  return [
    ...DURATION_BUCKETS.map((le, i) => ({ suffix: '_bucket', labels: { ...labels, le: String(le) }, value: h.buckets[i] ?? 0 })),
    { suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: h.count },
    { suffix: '_sum', labels, value: h.sum },
    { suffix: '_count', labels, value: h.count },
  ];
}

/** The text exposition format: HELP and TYPE once per family, label values escaped. */
export function formatExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
    for (const sample of f.samples) lines.push(`${f.name}${sample.suffix ?? ''}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The Content-Type of the text format, for HTTP answers. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
