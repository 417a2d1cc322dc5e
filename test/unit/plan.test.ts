import { describe, expect, it } from 'vitest';
import { planPass, removalGuard, type AppliedEntry, type DesiredEntry } from '../../daemon/core/plan';

const desired = (name: string, hash: string, files: Record<string, string> = { [`containers/systemd/${name}.container`]: hash }): DesiredEntry => ({ name, user: name, hash, hashes: files });
const applied = (name: string, hash: string, files: Record<string, string> = { [`containers/systemd/${name}.container`]: hash }): AppliedEntry => ({ workload: name, user: name, hash, hashes: files });
const none = { invalid: new Map(), observed: new Map(), redeploy: new Set<string>() };

describe('planPass', () => {
  it('creates new workloads, updates changed ones, leaves unchanged ones', () => {
    const items = planPass({ ...none, desired: [desired('b', 'h2'), desired('a', 'h1'), desired('c', 'h3')], applied: [applied('b', 'old'), applied('c', 'h3')] });
    expect(items.map((i) => [i.workload, i.action])).toEqual([
      ['a', 'create'],
      ['b', 'update'],
      ['c', 'unchanged'],
    ]);
    expect(items[1]!.changed).toEqual(['containers/systemd/b.container']);
    expect(items[2]!.changed).toEqual([]);
  });

  it('re-applies a drifted workload although its hash is unchanged', () => {
    const items = planPass({ ...none, desired: [desired('a', 'h1')], applied: [applied('a', 'h1')], observed: new Map([['a', { drift: 'a.service is inactive' }]]) });
    expect(items[0]).toMatchObject({ action: 'drift', reason: 'a.service is inactive', changed: ['containers/systemd/a.container'] });
  });

  it('honours a redeploy request', () => {
    const items = planPass({ ...none, desired: [desired('a', 'h1')], applied: [applied('a', 'h1')], redeploy: new Set(['a']) });
    expect(items[0]!.action).toBe('redeploy');
  });

  it('keeps a workload rolled back from the desired version; a redeploy or another version updates it', () => {
    const rolledBack = { hash: 'h2', commit: 'c2c2c2c2c2c2c2c2', error: 'a.service failed (Result=exit-code)\nsecond line' };
    const back = { ...applied('a', 'h1'), rolledBack };
    const kept = planPass({ ...none, desired: [desired('a', 'h2')], applied: [back] });
    expect(kept[0]).toMatchObject({ action: 'keep', reason: 'rolled back from c2c2c2c2c2c2: a.service failed (Result=exit-code)', changed: [], removed: [] });
    // The version that runs drifted: repaired as that version (its files, not the desired ones).
    const repaired = planPass({ ...none, desired: [desired('a', 'h2', { 'containers/systemd/a.container': 'h2', 'moor/files/a.env': 'x' })], applied: [back], observed: new Map([['a', { drift: 'a.service is inactive' }]]) });
    expect(repaired[0]).toMatchObject({
      action: 'drift',
      reason: 'a.service is inactive (the version it was rolled back from c2c2c2c2c2c2: a.service failed (Result=exit-code))',
      changed: ['containers/systemd/a.container'],
      removed: [],
    });
    const retried = planPass({ ...none, desired: [desired('a', 'h2')], applied: [back], redeploy: new Set(['a']) });
    expect(retried[0]).toMatchObject({ action: 'update', reason: '1 file(s) changed; redeploy requested: trying again the version rolled back from c2c2c2c2c2c2' });
    expect(planPass({ ...none, desired: [desired('a', 'h3')], applied: [back] })[0]!.action).toBe('update');
    expect(planPass({ ...none, desired: [desired('a', 'h1')], applied: [back] })[0]!.action).toBe('unchanged');
  });

  it('removes workloads gone from the repo in reverse sorted order, with their files', () => {
    const items = planPass({ ...none, desired: [desired('m', 'h')], applied: [applied('a', 'x'), applied('m', 'h'), applied('z', 'y')] });
    expect(items.filter((i) => i.action === 'remove').map((i) => i.workload)).toEqual(['z', 'a']);
    expect(items.find((i) => i.workload === 'a')!.removed).toEqual(['containers/systemd/a.container']);
  });

  it('never removes a workload whose spec is invalid: it is skipped as it runs', () => {
    const problems = [{ path: 'a.container', code: 'missing-image', message: 'no Image=' }];
    const items = planPass({ ...none, desired: [], applied: [applied('a', 'h')], invalid: new Map([['a', { user: 'a', problems }]]) });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ workload: 'a', action: 'skip', problems });
  });

  it('lists files applied before and no longer desired', () => {
    const items = planPass({ ...none, desired: [desired('a', 'h2', { 'x': '1' })], applied: [applied('a', 'h1', { 'x': '1', 'y': '2' })] });
    expect(items[0]).toMatchObject({ action: 'update', changed: [], removed: ['y'] });
  });
});

describe('removalGuard', () => {
  const plan = (removals: number, keep: number) =>
    planPass({ ...none, desired: Array.from({ length: keep }, (_, i) => desired(`k${i}`, 'h')), applied: [...Array.from({ length: removals }, (_, i) => applied(`r${i}`, 'h')), ...Array.from({ length: keep }, (_, i) => applied(`k${i}`, 'h'))] });

  it('refuses a plan that removes every workload', () => {
    expect(removalGuard(plan(2, 0), 2, { percent: 50 })).toMatch(/removes every workload/);
    expect(removalGuard(plan(1, 0), 1, { percent: 100 })).toMatch(/removes every workload/);
  });
  it('refuses more than max_removals percent', () => {
    expect(removalGuard(plan(3, 2), 5, { percent: 50 })).toMatch(/3 of 5/);
    expect(removalGuard(plan(2, 2), 4, { percent: 50 })).toBeUndefined();
  });
  it('honours an absolute count', () => {
    expect(removalGuard(plan(2, 8), 10, { count: 1 })).toMatch(/more than max_removals \(1\)/);
    expect(removalGuard(plan(1, 8), 9, { count: 1 })).toBeUndefined();
  });
  it('allows a plan without removals', () => {
    expect(removalGuard(plan(0, 3), 3, { percent: 0 })).toBeUndefined();
  });
});
