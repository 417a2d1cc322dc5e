import { describe, expect, it } from 'vitest';
import { planForHost, publishedAccount } from '../../daemon/core/host-plan';
import type { StatusDocument } from '../../daemon/core/fleet-status';
import type { RenderedWorkload } from '../../daemon/core/rendered';

const rendered = (name: string, hash: string, problems: RenderedWorkload['problems'] = []): RenderedWorkload => ({
  name,
  user: name,
  files: [],
  units: [{ unit: `${name}.service`, source: `${name}.container`, action: 'restart', gate: true }],
  hash,
  problems,
});

const doc = (workloads: StatusDocument['workloads']): StatusDocument => ({
  schema: 1,
  host: 'alpha',
  ring: 'default',
  labels: {},
  commit: 'a'.repeat(40),
  passCommit: 'a'.repeat(40),
  generation: 3,
  result: 'ok',
  exitCode: 0,
  at: '2026-11-30T07:00:00.000Z',
  healthy: true,
  lastHealthy: 'a'.repeat(40),
  workloads,
});

describe('planForHost', () => {
  it('keeps a workload whose hash the host published as ok; updates one that differs or failed there; creates, removes, and says which are invalid', () => {
    const published = doc({
      same: { user: 'same', uid: 1001, home: '/home/same', hash: 'h1', status: 'ok' },
      changed: { user: 'changed', uid: 1002, home: '/home/changed', hash: 'old', status: 'ok' },
      broken: { user: 'broken', uid: 1003, home: '/home/broken', hash: 'h3', status: 'failed', error: 'exit 3' },
      gone: { user: 'gone', uid: 1004, home: '/home/gone', hash: 'h4', status: 'ok' },
    });
    const bad = [{ path: 'odd.container', code: 'unknown-key', message: 'm', workload: 'odd' }];
    const items = planForHost([rendered('same', 'h1'), rendered('changed', 'new'), rendered('broken', 'h3'), rendered('fresh', 'h5'), rendered('odd', 'h6', bad)], published);
    expect(items.map((i) => [i.workload, i.action])).toEqual([
      ['broken', 'update'],
      ['changed', 'update'],
      ['fresh', 'create'],
      ['odd', 'invalid'],
      ['same', 'keep'],
      ['gone', 'remove'],
    ]);
    expect(items.find((i) => i.workload === 'odd')?.problems).toEqual(bad);
    expect(publishedAccount(published, 'same')).toEqual({ uid: 1001, home: '/home/same' });
    expect(publishedAccount(published, 'fresh')).toBeUndefined();
  });

  it('with nothing published, every valid workload is a create', () => {
    expect(planForHost([rendered('web', 'h')], undefined).map((i) => i.action)).toEqual(['create']);
  });
});
