import { describe, expect, it } from 'vitest';
import type { PublishedStatus, StatusDocument } from '../../daemon/core/fleet-status';
import { ancestryKey, ancestryQuestions, decideRollout, type RolloutInput } from '../../daemon/core/rollout';

// A line of history C1 → C2 → C3 → C4 (the tip), and X1 on a rewritten history.
const C = ['c1', 'c2', 'c3', 'c4'].map((c) => c.padEnd(40, '0'));
const [C1, C2, C3, C4] = C as [string, string, string, string];
const X1 = 'x1'.padEnd(40, '0');

/** git's answers for that history: a is an ancestor-or-equal of b when both are on the line and a is not later. */
function answersFor(input: RolloutInput): Map<string, boolean> {
  const answers = new Map<string, boolean>();
  for (const [a, b] of ancestryQuestions(input)) {
    const ia = C.indexOf(a);
    const ib = C.indexOf(b);
    answers.set(ancestryKey(a, b), ia >= 0 && ib >= 0 && ia <= ib);
  }
  return answers;
}

function doc(host: string, ring: string, lastHealthy: string | null, healthy = lastHealthy !== null): PublishedStatus {
  const document: StatusDocument = {
    schema: 1, host, ring, labels: {}, commit: lastHealthy, passCommit: lastHealthy, generation: 1, result: healthy ? 'ok' : 'partial',
    exitCode: healthy ? 0 : 1, at: '2026-11-30T08:00:00Z', healthy, lastHealthy, workloads: {},
  };
  return { host, document };
}

function decide(statuses: PublishedStatus[], live?: string) {
  const input: RolloutInput = { ring: 'canary', branch: 'main', tip: C4, ...(live ? { live } : {}), statuses };
  return decideRollout(input, answersFor(input));
}

describe('decideRollout: the ring rule', () => {
  it('takes the commit every canary ran healthy; hosts of other rings do not count', () => {
    const d = decide([doc('alpha', 'canary', C4), doc('gamma', 'canary', C4), doc('beta', 'default', null)]);
    expect(d).toEqual({ take: true, commit: C4, ring: 'canary', hosts: ['alpha', 'gamma'], message: `taking ${C4.slice(0, 12)}: healthy on ring canary (alpha, gamma)` });
  });

  it('a canary that failed on the newest commit keeps its previous healthy one: that one is taken', () => {
    expect(decide([doc('alpha', 'canary', C3, false)])).toMatchObject({ take: true, commit: C3 });
  });

  it('two canaries at different commits: the older one, which the newer descends from', () => {
    expect(decide([doc('alpha', 'canary', C4), doc('gamma', 'canary', C2)])).toMatchObject({ take: true, commit: C2, hosts: ['alpha', 'gamma'] });
  });

  it('a canary on a rewritten history: holds, naming it', () => {
    const d = decide([doc('alpha', 'canary', C4), doc('gamma', 'canary', X1)]);
    expect(d.take).toBe(false);
    expect(d.message).toBe(`holding: the healthy commit of gamma at ${X1.slice(0, 12)} is not on branch main (tip ${C4.slice(0, 12)}): a rewritten history, or another branch`);
  });

  it('no canary published: holds', () => {
    expect(decide([doc('beta', 'default', C4)])).toEqual({ take: false, ring: 'canary', message: 'holding: no host of ring canary has published its status (a moor-status/ branch whose document says ring = "canary")' });
    expect(decide([]).take).toBe(false);
  });

  it('a canary that never ran a commit healthy: holds', () => {
    expect(decide([doc('alpha', 'canary', C4), doc('gamma', 'canary', null)]).message).toBe('holding: gamma of ring canary has published no healthy commit yet');
  });

  it('a malformed document: holds, since it could be a canary', () => {
    const d = decide([doc('alpha', 'canary', C4), { host: 'gamma', problem: 'status.json is not JSON' }]);
    expect(d.take).toBe(false);
    expect(d.message).toContain('moor-status/gamma: status.json is not JSON');
    expect(d.message).toContain('it may be a host of ring canary');
  });

  it('diverging healthy commits on the branch: holds', () => {
    const input: RolloutInput = { ring: 'canary', branch: 'main', tip: C4, statuses: [doc('alpha', 'canary', C2), doc('gamma', 'canary', C3)] };
    // C2 and C3 both merged into the tip, neither descending from the other.
    const answers = new Map(ancestryQuestions(input).map(([a, b]) => [ancestryKey(a, b), b === C4]));
    expect(decideRollout(input, answers)).toMatchObject({ take: false, message: expect.stringContaining('diverging histories (alpha at c2') });
  });

  it('never moves a host back: a live commit past the target holds there; an older one moves forward', () => {
    expect(decide([doc('alpha', 'canary', C2)], C3)).toMatchObject({ take: false, message: expect.stringContaining(`this host runs ${C3.slice(0, 12)}, which already descends from ${C2.slice(0, 12)}`) });
    expect(decide([doc('alpha', 'canary', C3)], C2)).toMatchObject({ take: true, commit: C3 });
    expect(decide([doc('alpha', 'canary', C3)], C3)).toMatchObject({ take: true, commit: C3 });
  });

  it('asks git only about distinct commits', () => {
    const input: RolloutInput = { ring: 'canary', branch: 'main', tip: C4, live: C1, statuses: [doc('a', 'canary', C3), doc('b', 'canary', C3), doc('c', 'canary', C2)] };
    expect(ancestryQuestions(input)).toEqual([[C3, C4], [C3, C2], [C3, C1], [C2, C4], [C2, C3], [C2, C1]]);
  });
});
