import { describe, expect, it } from 'vitest';
import {
  buildStatusDocument,
  failedWorkloads,
  MAX_STATUS_BYTES,
  parseStatusDocument,
  sameStatus,
  statusJson,
  type StatusDocument,
  type StatusFacts,
} from '../../daemon/core/fleet-status';

const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);
const AT = new Date('2026-11-30T08:00:00Z');

const facts = (over: Partial<StatusFacts> = {}): StatusFacts => ({
  host: 'alpha',
  ring: 'canary',
  labels: { zone: 'eu-1' },
  live: { generation: 3, commit: C1 },
  pass: { exitCode: 0, commit: C2, kind: 'pass', items: [
    { workload: 'web', user: 'web', uid: 1001, action: 'update', result: 'ok' },
    { workload: 'db', user: 'db', uid: 1002, action: 'unchanged', result: 'ok' },
  ] },
  applied: [
    { workload: 'web', user: 'web', uid: 1001, hash: 'h-web' },
    { workload: 'db', user: 'db', uid: 1002, hash: 'h-db' },
  ],
  homes: new Map([['web', '/var/lib/moor/home/web']]),
  at: AT,
  ...over,
});

describe('buildStatusDocument', () => {
  it('a pass that exited 0 is healthy at its commit, which becomes lastHealthy; workloads keep the applied identity and hash', () => {
    const doc = buildStatusDocument(facts());
    expect(Object.keys(doc)[0]).toBe('schema');
    expect(doc).toMatchObject({ schema: 1, host: 'alpha', ring: 'canary', labels: { zone: 'eu-1' }, commit: C2, passCommit: C2, generation: 3, result: 'ok', exitCode: 0, healthy: true, lastHealthy: C2, at: AT.toISOString() });
    expect(doc.workloads).toEqual({
      db: { user: 'db', uid: 1002, hash: 'h-db', status: 'ok' },
      web: { user: 'web', uid: 1001, home: '/var/lib/moor/home/web', hash: 'h-web', status: 'ok' },
    });
    expect(Object.keys(doc.workloads)).toEqual(['db', 'web']);
  });

  it('a partial pass is not healthy: it runs the live commit, carries the previous lastHealthy and names the failure', () => {
    const doc = buildStatusDocument(facts({
      lastHealthy: C1,
      pass: { exitCode: 1, commit: C2, kind: 'pass', items: [{ workload: 'web', user: 'web', uid: 1001, action: 'update', result: 'rolled-back', error: 'web.service failed' }] },
    }));
    expect(doc).toMatchObject({ commit: C1, passCommit: C2, result: 'partial', healthy: false, lastHealthy: C1 });
    expect(doc.workloads.web).toMatchObject({ status: 'rolled-back', error: 'web.service failed', hash: 'h-web' });
    expect(failedWorkloads(doc)).toEqual(['web']);
  });

  it('a pass that failed before its items: result failed, applied workloads unknown, no pass commit', () => {
    const doc = buildStatusDocument(facts({ pass: { exitCode: 4 } }));
    expect(doc).toMatchObject({ result: 'failed', exitCode: 4, healthy: false, passCommit: null, commit: C1, lastHealthy: null });
    expect(doc.workloads.web?.status).toBe('unknown');
  });

  it('a pinned rollback is never healthy; a removed workload is left out; a long error is cut', () => {
    const rollback = buildStatusDocument(facts({ pass: { exitCode: 0, commit: C1, kind: 'rollback', items: [] } }));
    expect(rollback.healthy).toBe(false);
    const removed = buildStatusDocument(facts({ pass: { exitCode: 1, commit: C2, kind: 'pass', items: [
      { workload: 'db', user: 'db', action: 'remove', result: 'ok' },
      { workload: 'web', user: 'web', action: 'update', result: 'failed', error: 'x'.repeat(10_000) },
    ] }, applied: [{ workload: 'web', user: 'web', uid: 1001, hash: 'h-web' }] }));
    expect(Object.keys(removed.workloads)).toEqual(['web']);
    expect(removed.workloads.web!.error!.length).toBeLessThanOrEqual(2_000);
  });

  it('sameStatus ignores when, not what', () => {
    const a = buildStatusDocument(facts());
    expect(sameStatus(a, buildStatusDocument(facts({ at: new Date('2027-01-01T00:00:00Z') })))).toBe(true);
    expect(sameStatus(a, buildStatusDocument(facts({ live: { generation: 4, commit: C1 } })))).toBe(false);
    expect(sameStatus(a, { ...a, workloads: { ...a.workloads, db: { ...a.workloads.db!, status: 'failed' } } })).toBe(false);
  });
});

describe('parseStatusDocument: a document from the repository', () => {
  const good = (): StatusDocument => buildStatusDocument(facts());

  it('round-trips what a host writes', () => {
    expect(parseStatusDocument('alpha', statusJson(good()))).toEqual({ host: 'alpha', document: good() });
  });

  it('drops keys a newer moor adds', () => {
    const parsed = parseStatusDocument('alpha', JSON.stringify({ ...good(), uptime: 42 }));
    expect('document' in parsed && 'uptime' in parsed.document).toBe(false);
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{"schema": 1,', /not JSON/],
    ['another schema', { ...good(), schema: 2 }, /schema 2; this moor reads schema 1/],
    ['a document of another host', { ...good(), host: 'beta' }, /names host beta, not the branch's alpha/],
    ['a ring with a newline', { ...good(), ring: 'canary\n' }, /ring/],
    ['a commit that is no commit id', { ...good(), lastHealthy: 'HEAD~1' }, /lastHealthy/],
    ['an option for git as a commit', { ...good(), lastHealthy: '--upload-pack=touch' }, /lastHealthy/],
    ['a healthy flag that is a string', { ...good(), healthy: 'yes' }, /healthy/],
    ['a home with an escape sequence', { ...good(), workloads: { web: { user: 'web', home: '/h\u001b[2J', status: 'ok' } } }, /home/],
    ['a workload name with a slash', { ...good(), workloads: { '../x': { user: 'web', status: 'ok' } } }, /workloads\.\.\.\/x: Invalid key/],
    ['an array', [1, 2], /not a status document/],
    ['null', null, /not a status document/],
  ])('refuses %s', (_what, value, problem) => {
    const parsed = parseStatusDocument('alpha', typeof value === 'string' ? value : JSON.stringify(value));
    expect('problem' in parsed && parsed.problem).toMatch(problem);
  });

  it('refuses a document larger than the bound before parsing it, and too many workloads', () => {
    const huge = ' '.repeat(MAX_STATUS_BYTES + 1);
    expect(parseStatusDocument('alpha', huge)).toEqual({ host: 'alpha', problem: `status.json is ${MAX_STATUS_BYTES + 1} bytes, more than ${MAX_STATUS_BYTES}` });
    const many = Object.fromEntries(Array.from({ length: 2_001 }, (_, i) => [`w${i}`, { user: 'w', status: 'ok' }]));
    expect(parseStatusDocument('alpha', JSON.stringify({ ...good(), workloads: many }))).toMatchObject({ problem: expect.stringMatching(/at most 2000 workloads/) });
  });
});
