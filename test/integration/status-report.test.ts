// What `moor status` says (docs/operations.md, "What moor did"): the commit each workload
// runs, a live line that stays true after partial passes and rollbacks, rolled-back rows
// with the failing commit and the cause, removed rows only for a while, and an exit code.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatStatus } from '../../daemon/cli/status';
import { REMOVED_ROW_MS, statusExitCode, statusReport } from '../../daemon/state/reports';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const THREE = (tag: string) => ({
  'api.container': containerSpec(`localhost/api:${tag}`),
  'db.container': containerSpec(`localhost/db:${tag}`),
  'web.container': containerSpec(`localhost/web:${tag}`),
});
const report = async (now?: Date) => statusReport(await h.openStore(), now);
const row = (text: string, workload: string) => text.split('\n').find((l) => l.startsWith(`${workload} `))!;

describe('moor status after an update was rolled back', () => {
  it('shows the row rolled back from the failing commit with the cause, the commit it runs, and exits 1 until fixed', async () => {
    const c1 = h.commit(THREE('1'), 'v1');
    await h.pass();
    const c2 = h.commit({ ...THREE('1'), 'db.container': containerSpec('localhost/db:2') }, 'v2');
    h.fake.failUnitWhenLoadedWith('db', 'db.service', 'localhost/db:2');
    h.fake.setUnitOutput('db', 'db.service', ['db[7]: FATAL: unknown option --frobnicate']);
    await h.pass();

    const r = await report();
    const db = r.workloads.find((w) => w.workload === 'db')!;
    expect(db).toMatchObject({ action: 'update', result: 'rolled-back', appliedCommit: c1, appliedGeneration: 1 });
    expect(db.rolledBack).toMatchObject({ commit: c2, generation: 2 });
    expect(db.error).toContain('FATAL: unknown option --frobnicate');
    // db runs what the live generation holds again: the live line needs no qualifier.
    expect(r.mixed).toBeUndefined();
    expect(statusExitCode(r)).toBe(1);
    const text = formatStatus(r);
    expect(text).toContain(`live: generation 1 @${c1.slice(0, 12)} (pass)`);
    expect(text).toContain('latest: generation 2');
    expect(row(text, 'db')).toContain(`rolled-back from ${c2.slice(0, 12)}`);
    expect(row(text, 'db')).toContain(c1.slice(0, 12));
    expect(row(text, 'db')).toContain('FATAL: unknown option --frobnicate');

    // A kept pass changes none of it.
    await h.pass();
    expect(statusExitCode(await report())).toBe(1);

    const c3 = h.commit({ ...THREE('1'), 'db.container': containerSpec('localhost/db:3') }, 'v3');
    await h.pass();
    const fixed = await report();
    expect(fixed.workloads.find((w) => w.workload === 'db')).toMatchObject({ result: 'ok', appliedCommit: c3 });
    expect(fixed.workloads.find((w) => w.workload === 'db')!.rolledBack).toBeUndefined();
    expect(statusExitCode(fixed)).toBe(0);
  });
});

describe('moor status after a partial pass', () => {
  it('the live line says how many workloads run the live generation and what the others run', async () => {
    const c1 = h.commit(THREE('1'), 'v1');
    await h.pass();
    const c2 = h.commit(THREE('2'), 'v2');
    h.fake.failUnit('db', 'db.service');
    await h.pass();

    const r = await report();
    expect(r.live).toMatchObject({ generation: 1, commit: c1 });
    expect(r.mixed).toEqual({
      running: 0,
      total: 3,
      others: [
        { workload: 'api', commit: c2, generation: 2 },
        { workload: 'db', commit: c1, generation: 1, failed: true },
        { workload: 'web', commit: c2, generation: 2 },
      ],
    });
    const text = formatStatus(r);
    expect(text).toContain(
      `live: generation 1 @${c1.slice(0, 12)} (pass) from ${r.live!.source}, run by 0 of 3 workloads; the others: api @${c2.slice(0, 12)} (generation 2), db @${c1.slice(0, 12)} (generation 1) FAILED, web @${c2.slice(0, 12)} (generation 2)`,
    );
    expect(row(text, 'api')).toContain(c2.slice(0, 12));
    expect(row(text, 'db')).toContain(c1.slice(0, 12));
    expect(statusExitCode(r)).toBe(1);
  });

  it('a complete pass makes the live line plain again and the exit code 0', async () => {
    h.commit(THREE('1'), 'v1');
    await h.pass();
    const r = await report();
    expect(r.mixed).toBeUndefined();
    expect(formatStatus(r).split('\n')[0]).toMatch(/^live: generation 1 @[0-9a-f]{12} \(pass\) from \S+$/);
    expect(statusExitCode(r)).toBe(0);
  });
});

describe('moor status after a removal', () => {
  it('shows the removed workload as removed, with when, for a day; then no more', async () => {
    h.commit(THREE('1'), 'v1');
    await h.pass();
    const { ['web.container']: _gone, ...rest } = THREE('1');
    h.commit(rest, 'drop web');
    const { result } = await h.pass();
    expect(result.items.find((i) => i.workload === 'web')).toMatchObject({ action: 'remove', result: 'ok' });

    const now = h.clock.now();
    const r = await report(now);
    const web = r.workloads.find((w) => w.workload === 'web')!;
    expect(web).toMatchObject({ action: 'remove', result: 'removed', removedAt: now.toISOString() });
    expect(row(formatStatus(r), 'web')).toContain(`removed`);
    expect(statusExitCode(r)).toBe(0);

    // Passes with nothing to do make no generation: the row goes by time, not by a later generation.
    await h.pass();
    const later = await report(new Date(now.getTime() + REMOVED_ROW_MS + 1));
    expect(later.workloads.map((w) => w.workload)).toEqual(['api', 'db']);
  });
});
