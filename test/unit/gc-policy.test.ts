import { describe, expect, it } from 'vitest';
import {
  decideGc,
  type GcGeneration,
  type GcGenerationState,
  type GcPolicy,
} from '../../daemon/core/gc-policy';

const DAY = 86_400_000;
const NOW = new Date('2025-06-01T12:00:00Z');
const POLICY: GcPolicy = { keepMin: 3, keepMax: 10, minAgeMs: 7 * DAY, maxAgeMs: 30 * DAY };

function gen(id: number, state: GcGenerationState, ageDays: number): GcGeneration {
  return { id, state, createdAt: new Date(NOW.getTime() - ageDays * DAY) };
}

/** `count` complete generations numbered from `from`, all `ageDays` old. */
function completes(from: number, count: number, ageDays: number): GcGeneration[] {
  return Array.from({ length: count }, (_, i) => gen(from + i, 'complete', ageDays));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

interface Case {
  name: string;
  gens: GcGeneration[];
  policy?: Partial<GcPolicy>;
  protect?: number[];
  deleted: number[];
}

const cases: Case[] = [
  { name: 'nothing to collect', gens: [], deleted: [] },

  // Each rule on its own.
  { name: 'keep_min: old complete beyond the newest keep_min go', gens: completes(1, 5, 100), deleted: [1, 2] },
  { name: 'keep_min: never fewer than keep_min, however old', gens: completes(1, 3, 1000), deleted: [] },
  { name: 'keep_max: beyond the newest keep_max go once past min_age', gens: completes(1, 15, 10), deleted: range(1, 5) },
  { name: 'min_age: young ones stay even beyond keep_max', gens: completes(1, 15, 1), deleted: [] },
  {
    name: 'max_age: old complete go beyond keep_min',
    gens: [...completes(1, 3, 40), ...completes(4, 3, 10)],
    deleted: [1, 2, 3],
  },
  { name: 'within keep_max and max_age: all kept', gens: completes(1, 10, 20), deleted: [] },
  { name: 'aborted: deleted once past min_age', gens: [gen(1, 'aborted', 100), gen(2, 'aborted', 8)], deleted: [1, 2] },
  { name: 'aborted: kept while younger than min_age', gens: [gen(1, 'aborted', 100), gen(2, 'aborted', 0)], deleted: [1] },
  { name: 'in-progress: never deleted', gens: [gen(1, 'in-progress', 100)], deleted: [] },
  {
    name: 'failed: the newest is kept, older ones go once past min_age',
    gens: [gen(1, 'failed', 9), gen(2, 'failed', 8.5), gen(3, 'failed', 8)],
    deleted: [1, 2],
  },
  {
    name: 'failed: every one younger than min_age stays',
    gens: [gen(1, 'failed', 0.3), gen(2, 'failed', 0.2), gen(3, 'failed', 0.1)],
    deleted: [],
  },
  {
    name: 'failed: young ones stay, old ones go, even with a young failed one newer',
    gens: [gen(1, 'failed', 20), gen(2, 'failed', 10), gen(3, 'failed', 1), gen(4, 'failed', 0.1)],
    deleted: [1, 2],
  },
  {
    name: 'min_age keeps failed and aborted ones however many passes followed',
    gens: [gen(1, 'failed', 0.01), ...completes(2, 30, 0.001), gen(32, 'aborted', 0.001), ...completes(33, 30, 0.0001)],
    policy: { keepMin: 1, keepMax: 2 },
    deleted: [],
  },
  {
    name: 'min_age 0: failed and aborted follow only their own rules',
    gens: [gen(1, 'failed', 0.1), gen(2, 'aborted', 0.1), gen(3, 'failed', 0.1)],
    policy: { minAgeMs: 0 },
    deleted: [1, 2],
  },
  { name: 'failed: a lone failed one stays, however old', gens: [gen(1, 'failed', 400)], deleted: [] },
  {
    name: 'protected: kept against every rule',
    gens: [gen(1, 'aborted', 9), gen(2, 'failed', 9), gen(3, 'failed', 8), ...completes(4, 20, 100)],
    protect: [1, 2, 4],
    deleted: range(5, 20),
  },

  // Interactions.
  {
    name: 'keep_min beats keep_max when it is larger',
    gens: completes(1, 8, 100),
    policy: { keepMin: 5, keepMax: 2 },
    deleted: [1, 2, 3],
  },
  {
    name: 'min_age beats max_age when it is larger',
    gens: completes(1, 6, 35),
    policy: { minAgeMs: 40 * DAY, maxAgeMs: 30 * DAY },
    deleted: [],
  },
  {
    name: 'min_age boundary: exactly min_age old is no longer protected',
    gens: completes(1, 11, 7),
    policy: { keepMin: 0 },
    deleted: [1],
  },
  {
    name: 'max_age boundary: exactly max_age old is not yet "older than"',
    gens: completes(1, 4, 30),
    deleted: [],
  },
  {
    name: 'young generations fill keep_max: older ones past min_age go',
    gens: [...completes(1, 5, 20), ...completes(6, 10, 2)],
    deleted: range(1, 5),
  },
  {
    name: 'keep_max excess that is old enough goes, young excess stays',
    gens: [...completes(1, 5, 20), ...completes(6, 3, 2), ...completes(9, 10, 8)],
    deleted: range(1, 5),
  },
  {
    name: 'young failed and aborted do not count toward keep_max',
    gens: [...completes(1, 4, 10), gen(5, 'failed', 1), gen(6, 'aborted', 1), gen(7, 'failed', 1)],
    policy: { keepMax: 3 },
    deleted: [1],
  },
  {
    name: 'failed and aborted do not count toward the complete limits',
    gens: [...completes(1, 3, 100), gen(4, 'failed', 100), gen(5, 'aborted', 100), gen(6, 'failed', 100)],
    deleted: [4, 5],
  },
  {
    name: 'the newest failed is kept even when older than complete ones',
    gens: [gen(1, 'failed', 50), ...completes(2, 3, 1)],
    deleted: [],
  },
  {
    name: 'a protected generation still counts toward the limits (keep_max)',
    gens: completes(1, 5, 20),
    policy: { keepMax: 3 },
    protect: [1],
    deleted: [2],
  },
  {
    name: 'protecting the newest (current) changes nothing else',
    gens: completes(1, 5, 20),
    policy: { keepMax: 3 },
    protect: [5],
    deleted: [1, 2],
  },
  {
    name: 'a protected failed one does not stop the newest failed from being kept',
    gens: [gen(1, 'failed', 10), gen(2, 'failed', 10), gen(3, 'failed', 10)],
    protect: [1],
    deleted: [2],
  },
  {
    name: 'rank goes by number, not by timestamp (clock stepped back)',
    gens: [gen(1, 'complete', 40), gen(2, 'complete', 40), gen(3, 'complete', 40), gen(4, 'complete', 50)],
    deleted: [1],
  },
  {
    name: 'a generation from the future (clock stepped back) counts as young',
    gens: [...completes(1, 12, 10), gen(13, 'complete', -5)],
    policy: { keepMin: 0, keepMax: 0 },
    deleted: range(1, 12),
  },
  {
    name: 'keep_min 0 and keep_max 0: only min_age keeps complete ones',
    gens: [...completes(1, 3, 10), ...completes(4, 2, 1)],
    policy: { keepMin: 0, keepMax: 0 },
    deleted: [1, 2, 3],
  },
  {
    name: 'a typical host: weeks of passes, a crash and a failing workload',
    gens: [
      ...completes(1, 10, 60),
      gen(11, 'failed', 45),
      ...completes(12, 10, 20),
      gen(22, 'aborted', 19),
      gen(23, 'failed', 3),
      gen(24, 'failed', 2),
      ...completes(25, 2, 1),
      gen(27, 'in-progress', 0),
    ],
    protect: [26, 5],
    // 26,25 young; 21..14 fill keep_max (ranks 2..9); 13,12 beyond keep_max; 1..10 old
    // except the pinned 5; the older failed 11; the aborted 22; 23 and 24 failed but young.
    deleted: [...range(1, 4), ...range(6, 10), 11, 12, 13, 22],
  },
];

/** Ids of the generations the policy deletes, ascending. */
function selectForDeletion(...args: Parameters<typeof decideGc>): number[] {
  return decideGc(...args)
    .filter((d) => d.delete)
    .map((d) => d.id);
}

describe('decideGc: what it deletes', () => {
  it.each(cases)('$name', ({ gens, policy, protect, deleted }) => {
    expect(selectForDeletion(gens, { ...POLICY, ...policy }, NOW, protect ?? [])).toEqual(deleted);
  });

  it('does not depend on the order of its input', () => {
    const c = cases.at(-1) as Case;
    const shuffled = [...c.gens].reverse();
    expect(selectForDeletion(shuffled, POLICY, NOW, c.protect ?? [])).toEqual(c.deleted);
  });
});

describe('decideGc', () => {
  it('gives one decision per generation, ascending, with a reason', () => {
    const decisions = decideGc(
      [gen(3, 'aborted', 10), gen(1, 'complete', 1), gen(2, 'failed', 10), gen(4, 'in-progress', 0), gen(5, 'failed', 1)],
      POLICY,
      NOW,
      [],
    );
    expect(decisions).toEqual([
      { id: 1, delete: false, reason: expect.stringContaining('keep_min') },
      { id: 2, delete: true, reason: 'an older failed generation' },
      { id: 3, delete: true, reason: 'aborted' },
      { id: 4, delete: false, reason: 'in progress' },
      { id: 5, delete: false, reason: 'younger than min_age' },
    ]);
  });

  it('names keep_max and max_age when they delete', () => {
    const decisions = decideGc([...completes(1, 4, 40), ...completes(5, 3, 10)], { ...POLICY, keepMax: 5 }, NOW, []);
    expect(decisions.find((d) => d.id === 1)?.reason).toContain('keep_max');
    expect(decisions.find((d) => d.id === 3)?.reason).toContain('max_age');
  });
});

// Invariants over many random histories: what the policy promises whatever the mix.
describe('selectForDeletion invariants', () => {
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }
  const states: GcGenerationState[] = ['complete', 'complete', 'complete', 'failed', 'aborted'];

  it('holds for 500 random histories', () => {
    const random = rng(42);
    for (let round = 0; round < 500; round++) {
      const count = Math.floor(random() * 40);
      const gens = Array.from({ length: count }, (_, i) =>
        gen(i + 1, states[Math.floor(random() * states.length)] as GcGenerationState, random() * 60),
      );
      if (count > 0 && random() < 0.5) gens.push(gen(count + 1, 'in-progress', 0));
      const policy: GcPolicy = {
        keepMin: Math.floor(random() * 5),
        keepMax: Math.floor(random() * 15),
        minAgeMs: random() * 14 * DAY,
        maxAgeMs: random() * 45 * DAY,
      };
      const protect = gens.filter(() => random() < 0.1).map((g) => g.id);
      const deleted = new Set(selectForDeletion(gens, policy, NOW, protect));
      const kept = gens.filter((g) => !deleted.has(g.id));
      const context = JSON.stringify({ round, policy, protect });

      for (const id of protect) expect(deleted.has(id), context).toBe(false);
      for (const g of gens) {
        if (g.state === 'in-progress') expect(deleted.has(g.id), context).toBe(false);
        const young = NOW.getTime() - g.createdAt.getTime() < policy.minAgeMs;
        if (g.state === 'aborted' && !young && !protect.includes(g.id)) expect(deleted.has(g.id), context).toBe(true);
        // min_age keeps every generation younger than it, whatever its state.
        if (young) expect(deleted.has(g.id), context).toBe(false);
      }
      const completeCount = gens.filter((g) => g.state === 'complete').length;
      const keptComplete = kept.filter((g) => g.state === 'complete');
      expect(keptComplete.length, context).toBeGreaterThanOrEqual(Math.min(policy.keepMin, completeCount));
      const newestComplete = gens.filter((g) => g.state === 'complete').map((g) => g.id).sort((a, b) => b - a);
      for (const id of newestComplete.slice(0, policy.keepMin)) expect(deleted.has(id), context).toBe(false);
      const keptFailed = kept.filter(
        (g) => g.state === 'failed' && !protect.includes(g.id) && NOW.getTime() - g.createdAt.getTime() >= policy.minAgeMs,
      );
      expect(keptFailed.length, context).toBeLessThanOrEqual(1);
      const excess = keptComplete.filter(
        (g) => !protect.includes(g.id) && NOW.getTime() - g.createdAt.getTime() >= policy.minAgeMs,
      );
      expect(excess.length, context).toBeLessThanOrEqual(Math.max(policy.keepMin, policy.keepMax));
    }
  });
});
