// core/metrics.ts: how passes add up, and the exposition text as a real Prometheus parser
// reads it (names, types, histogram buckets, escaped labels).
import { describe, expect, it } from 'vitest';
import { addPass, DURATION_BUCKETS, emptyTotals, formatExposition, metricFamilies, passResultLabel, type PassSample } from '../../daemon/core/metrics';
import { family, parseExposition, value } from '../helpers/prometheus-text';

const NOW = new Date('2026-03-01T12:00:00Z');

function sample(over: Partial<PassSample> = {}): PassSample {
  return { exitCode: 0, durationSeconds: 1.5, lockWaitSeconds: 0, fetchSeconds: 0.3, guardRefused: false, ...over };
}

describe('addPass', () => {
  it('counts passes and their durations by result, lock waits and fetches', () => {
    let t = emptyTotals();
    t = addPass(t, sample());
    t = addPass(t, sample({ exitCode: 1, durationSeconds: 40, lockWaitSeconds: 3 }));
    t = addPass(t, sample({ exitCode: 0, durationSeconds: 0.05, fetchSeconds: undefined }));
    expect(t.passes).toEqual({ ok: 2, partial: 1 });
    expect(t.passDuration.ok).toMatchObject({ count: 2, sum: 1.55 });
    expect(t.passDuration.partial).toMatchObject({ count: 1, sum: 40 });
    expect(t.lockWait).toMatchObject({ count: 3, sum: 3 });
    // The pass that fetched nothing (a pinned rollback) is not a fetch.
    expect(t.fetchDuration).toMatchObject({ count: 2 });
  });

  it('names every exit code as a result label', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(passResultLabel)).toEqual(['ok', 'partial', 'invalid', 'lock_held', 'source_unavailable', 'refused', 'failed']);
  });

  it('counts restarts per workload for actions that start units, and keeps the latest result of each workload', () => {
    let t = emptyTotals();
    t = addPass(t, sample({ items: [
      { workload: 'web', action: 'create', result: 'ok' },
      { workload: 'db', action: 'create', result: 'failed' },
      { workload: 'old', action: 'unchanged', result: 'ok' },
    ] }));
    t = addPass(t, sample({ exitCode: 1, items: [
      { workload: 'web', action: 'unchanged', result: 'ok' },
      { workload: 'db', action: 'update', result: 'rolled-back' },
      { workload: 'old', action: 'remove', result: 'ok' },
    ] }));
    expect(t.restarts).toEqual({ web: 1, db: 2 });
    // A removed workload has no result any more.
    expect(t.workloads).toEqual({ web: 'ok', db: 'rolled-back' });
  });

  it('a pass that ended in an error before any item leaves the workloads as they were; a guard refusal is counted', () => {
    let t = addPass(emptyTotals(), sample({ items: [{ workload: 'web', action: 'create', result: 'ok' }] }));
    t = addPass(t, sample({ exitCode: 5, guardRefused: true }));
    expect(t.workloads).toEqual({ web: 'ok' });
    expect(t.guardRefusals).toBe(1);
    expect(t.passes).toEqual({ ok: 1, refused: 1 });
  });
});

describe('the exposition text', () => {
  it('parses with a Prometheus text parser, every family typed, values as recorded', () => {
    let t = emptyTotals();
    t = addPass(t, sample({ durationSeconds: 2, items: [{ workload: 'web', action: 'create', result: 'ok' }] }));
    t = addPass(t, sample({ exitCode: 1, durationSeconds: 700, items: [{ workload: 'web', action: 'update', result: 'failed' }] }));
    t = { ...t, liveCommit: { commit: 'abc1234', time: NOW.getTime() / 1000 - 3600 } };
    const text = formatExposition(metricFamilies({ totals: t, lastPass: { at: new Date('2026-03-01T11:59:00Z'), exitCode: 1 }, liveGeneration: 4, now: NOW }));
    const parsed = parseExposition(text);

    expect(parsed.map((f) => [f.name, f.type])).toEqual([
      ['moor_passes_total', 'COUNTER'],
      ['moor_pass_duration_seconds', 'HISTOGRAM'],
      ['moor_guard_refusals_total', 'COUNTER'],
      ['moor_lock_wait_seconds', 'HISTOGRAM'],
      ['moor_fetch_duration_seconds', 'HISTOGRAM'],
      ['moor_workload_restarts_total', 'COUNTER'],
      ['moor_workload_result', 'GAUGE'],
      ['moor_last_pass_timestamp_seconds', 'GAUGE'],
      ['moor_last_pass_exit_code', 'GAUGE'],
      ['moor_live_generation', 'GAUGE'],
      ['moor_commit_age_seconds', 'GAUGE'],
    ]);
    expect(value(parsed, 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect(value(parsed, 'moor_passes_total', { result: 'partial' })).toBe(1);
    expect(value(parsed, 'moor_last_pass_exit_code')).toBe(1);
    expect(value(parsed, 'moor_last_pass_timestamp_seconds')).toBe(Date.parse('2026-03-01T11:59:00Z') / 1000);
    expect(value(parsed, 'moor_live_generation')).toBe(4);
    expect(value(parsed, 'moor_commit_age_seconds')).toBe(3600);
    expect(value(parsed, 'moor_workload_restarts_total', { workload: 'web' })).toBe(2);
    expect(value(parsed, 'moor_workload_result', { workload: 'web', result: 'failed' })).toBe(1);
    expect(value(parsed, 'moor_workload_result', { workload: 'web', result: 'ok' })).toBe(0);

    // The parser folds a histogram's label sets into one, so each result's series is read from the text.
    expect(text).toContain('moor_pass_duration_seconds_count{result="ok"} 1\n');
    expect(text).toContain('moor_pass_duration_seconds_sum{result="partial"} 700\n');
    expect(text).toContain(`moor_pass_duration_seconds_bucket{result="partial",le="${DURATION_BUCKETS.at(-1)}"} 0\n`);
    expect(text).toContain('moor_pass_duration_seconds_bucket{result="partial",le="+Inf"} 1\n');
  });

  it('histogram buckets are cumulative and +Inf is the count', () => {
    let t = emptyTotals();
    for (const d of [0.05, 2, 2, 700]) t = addPass(t, sample({ durationSeconds: d }));
    const parsed = parseExposition(formatExposition(metricFamilies({ totals: t, now: NOW })));
    const ok = family(parsed, 'moor_pass_duration_seconds').metrics[0]!;
    expect(ok.buckets).toMatchObject({ '0.1': '1', '1': '1', '2.5': '3', '600': '3', '+Inf': '4' });
  });

  it('a host with no pass yet has counters at zero and no last-pass or generation gauges', () => {
    const parsed = parseExposition(formatExposition(metricFamilies({ totals: emptyTotals(), now: NOW })));
    expect(value(parsed, 'moor_guard_refusals_total')).toBe(0);
    expect(value(parsed, 'moor_lock_wait_seconds')).toBe(0);
    expect(parsed.map((f) => f.name)).not.toContain('moor_last_pass_exit_code');
    expect(parsed.map((f) => f.name)).not.toContain('moor_live_generation');
  });

  it('escapes label values: a backslash, a quote and a newline survive the round trip', () => {
    const t = { ...emptyTotals(), restarts: { 'we"b\\x\ny': 3 } };
    const text = formatExposition(metricFamilies({ totals: t, now: NOW }));
    expect(text).toContain('moor_workload_restarts_total{workload="we\\"b\\\\x\\ny"} 3');
    expect(value(parseExposition(text), 'moor_workload_restarts_total')).toBe(3);
  });
});
