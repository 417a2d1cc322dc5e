// What a pass reports: counts, the one-line summary (logs, sd_notify STATUS=) and the exit code.
import { describe, expect, it } from 'vitest';
import { summarize, type ItemOutcome } from '../../daemon/pass/pass-result';

const item = (workload: string, action: ItemOutcome['action'], result: ItemOutcome['result'] = 'ok'): ItemOutcome => ({
  workload,
  user: workload,
  action,
  reason: '',
  changed: [],
  removed: [],
  result,
  durationMs: 0,
});
const base = { kind: 'pass' as const, dryRun: false, commit: 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12', source: '/srv/repo.git' };

describe('summarize', () => {
  it('counts items and exits 0 when all applied', () => {
    const r = summarize({ ...base, generation: 42, items: [item('api', 'create'), item('db', 'unchanged'), item('old', 'remove'), item('web', 'drift')] });
    expect(r.counts).toEqual({ applied: 2, unchanged: 1, failed: 0, rolledBack: 0, removed: 1 });
    expect(r.summary).toBe('gen 42 @ab12cd3: 2 applied, 1 unchanged, 0 failed, 1 removed');
    expect(r.exitCode).toBe(0);
  });

  it('exits 1 and names the failed workloads when an item failed, whatever its action', () => {
    const r = summarize({ ...base, generation: 7, items: [item('api', 'create', 'failed'), item('web', 'skip', 'failed'), item('db', 'update')] });
    expect(r.counts).toEqual({ applied: 1, unchanged: 0, failed: 2, rolledBack: 0, removed: 0 });
    expect(r.summary).toBe('gen 7 @ab12cd3: 1 applied, 0 unchanged, 2 failed (api, web), 0 removed');
    expect(r.exitCode).toBe(1);
  });

  it('exits 1 and names the rolled-back workloads, rolled back now or kept so', () => {
    const r = summarize({ ...base, items: [item('api', 'update', 'rolled-back'), item('db', 'keep', 'rolled-back'), item('web', 'unchanged')] });
    expect(r.counts).toEqual({ applied: 0, unchanged: 1, failed: 0, rolledBack: 2, removed: 0 });
    expect(r.summary).toBe('@ab12cd3: 0 applied, 1 unchanged, 0 failed, 2 rolled back (api, db), 0 removed');
    expect(r.exitCode).toBe(1);
  });

  it('says a rollback is one, and that it pins', () => {
    const r = summarize({ ...base, kind: 'rollback', rollbackOf: 3, pinned: 3, generation: 9, items: [item('web', 'update')] });
    expect(r.summary).toBe('gen 9 @ab12cd3: 1 applied, 0 unchanged, 0 failed, 0 removed [rollback to gen 3, pinned until moor resume]');
    expect(r.exitCode).toBe(0);
  });

  it('a refused dry run exits 5', () => {
    const r = summarize({ ...base, dryRun: true, refused: 'the plan removes every workload (2)', items: [item('a', 'remove', 'planned'), item('b', 'remove', 'planned')] });
    expect(r.summary).toBe('@ab12cd3: plan: 2 to change, 0 unchanged — REFUSED: the plan removes every workload (2)');
    expect(r.exitCode).toBe(5);
  });
});
