// The daemon's pass loop: one pass at a time, triggers during a pass coalesce into ONE
// follow-up, simultaneous triggers share a pass, progress reaches the waiters, and stop
// lets the running pass finish while cancelling the queued one. The pass is a fake whose
// end the test decides; starts run at once (no event-loop deferral) where order matters.
import { describe, expect, it } from 'vitest';
import { PassLoop, type PassRequest } from '../../daemon/service/pass-loop';
import type { PassOutcome } from '../../daemon/service/protocol';
import type { ItemOutcome, PassResult } from '../../daemon/pass/pass-result';
import { summarize } from '../../daemon/pass/pass-result';
import { ValidationError } from '../../daemon/core/errors';
import { createLogger } from '../../daemon/host/log';

const log = createLogger('error', { write: () => undefined, journal: true });

function result(commit = 'abc1234'): PassResult {
  return summarize({ kind: 'pass', dryRun: false, commit, source: 'repo', items: [] });
}

function item(workload: string): ItemOutcome {
  return { workload, user: workload, action: 'update', reason: 'changed', changed: [], removed: [], result: 'ok', durationMs: 1 };
}

/** A pass function whose passes end when the test says so. */
class FakePasses {
  readonly started: PassRequest[] = [];
  private readonly ends: Array<(o: PassOutcome) => void> = [];

  readonly execute = (request: PassRequest): Promise<PassOutcome> => {
    this.started.push(request);
    return new Promise((resolve) => this.ends.push(resolve));
  };

  finish(i: number, outcome: PassOutcome = { kind: 'result', result: result(`c${i}`) }): void {
    this.ends[i]!(outcome);
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('the pass loop', () => {
  it('starts a pass for a trigger on the next turn, not synchronously', async () => {
    const passes = new FakePasses();
    const loop = new PassLoop(passes.execute, { log });
    const ticket = loop.trigger('schedule');
    expect(ticket.coalesced).toBe(false);
    expect(passes.started).toHaveLength(0);
    await tick();
    expect(passes.started.map((r) => r.reasons)).toEqual([['schedule']]);
    passes.finish(0);
    expect(await ticket.outcome).toMatchObject({ kind: 'result', result: { commit: 'c0' } });
  });

  it('gives triggers of the same moment one pass', async () => {
    const passes = new FakePasses();
    const loop = new PassLoop(passes.execute, { log });
    const a = loop.trigger('watch');
    const b = loop.trigger('webhook');
    const c = loop.trigger('control');
    await tick();
    expect(passes.started).toHaveLength(1);
    expect(passes.started[0]!.reasons.sort()).toEqual(['control', 'watch', 'webhook']);
    passes.finish(0);
    const outcomes = await Promise.all([a.outcome, b.outcome, c.outcome]);
    expect(new Set(outcomes).size).toBe(1);
  });

  it('coalesces every trigger during a pass into ONE follow-up pass', async () => {
    const passes = new FakePasses();
    const loop = new PassLoop(passes.execute, { log });
    const first = loop.trigger('startup');
    await tick();
    const during = [loop.trigger('schedule'), loop.trigger('watch'), loop.trigger('control'), loop.trigger('watch'), loop.trigger('webhook')];
    expect(during.every((t) => t.coalesced)).toBe(true);
    await tick();
    expect(passes.started).toHaveLength(1);
    expect(loop.snapshot().queued?.sort()).toEqual(['control', 'schedule', 'watch', 'webhook']);

    passes.finish(0);
    expect(await first.outcome).toMatchObject({ result: { commit: 'c0' } });
    await tick();
    expect(passes.started).toHaveLength(2);
    expect(passes.started[1]!.reasons.sort()).toEqual(['control', 'schedule', 'watch', 'webhook']);
    passes.finish(1);
    for (const t of during) expect(await t.outcome).toMatchObject({ result: { commit: 'c1' } });
    await tick();
    expect(passes.started).toHaveLength(2);
    expect(loop.count).toBe(2);
  });

  it('never runs two passes at once, however the triggers fall', async () => {
    let running = 0;
    let most = 0;
    const loop = new PassLoop(
      async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        return { kind: 'result', result: result() };
      },
      { log },
    );
    const tickets = [];
    for (let i = 0; i < 40; i++) {
      tickets.push(loop.trigger(i % 2 ? 'watch' : 'schedule'));
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(tickets.map((t) => t.outcome));
    await loop.idle();
    expect(most).toBe(1);
    expect(loop.count).toBeLessThan(40);
  });

  it('streams each item to the waiters of that pass only, until they detach', async () => {
    const passes = new FakePasses();
    const loop = new PassLoop(passes.execute, { log });
    const seenFirst: string[] = [];
    const seenSecond: string[] = [];
    const seenDetached: string[] = [];
    loop.trigger('control', (i) => seenFirst.push(i.workload));
    await tick();
    loop.trigger('control', (i) => seenSecond.push(i.workload));
    const detached = loop.trigger('control', (i) => seenDetached.push(i.workload));
    passes.started[0]!.onItem(item('web'));
    passes.finish(0);
    await tick();
    await tick();
    passes.started[1]!.onItem(item('api'));
    detached.detach();
    passes.started[1]!.onItem(item('db'));
    passes.finish(1);
    await loop.idle();
    expect(seenFirst).toEqual(['web']);
    expect(seenSecond).toEqual(['api', 'db']);
    expect(seenDetached).toEqual(['api']);
  });

  it('a listener that throws does not break the pass', async () => {
    const passes = new FakePasses();
    const loop = new PassLoop(passes.execute, { log });
    const t = loop.trigger('control', () => {
      throw new Error('client went away');
    });
    await tick();
    expect(() => passes.started[0]!.onItem(item('web'))).not.toThrow();
    passes.finish(0);
    expect((await t.outcome).kind).toBe('result');
  });

  it('turns an executor that throws into an error outcome with the right exit code', async () => {
    const loop = new PassLoop(
      async () => {
        throw new ValidationError([{ path: 'web.container', code: 'bad', message: 'bad' }]);
      },
      { log },
    );
    const outcome = await loop.trigger('schedule').outcome;
    expect(outcome).toMatchObject({ kind: 'error', exitCode: 2, error: { category: 'validation' } });
    // The loop goes on.
    const again = loop.trigger('schedule');
    expect((await again.outcome).kind).toBe('error');
  });

  it('reports each outcome before the waiters hear of it', async () => {
    const order: string[] = [];
    const loop = new PassLoop(async () => ({ kind: 'result', result: result() }), { log, onOutcome: () => order.push('recorded') });
    await loop.trigger('schedule').outcome.then(() => order.push('waiter'));
    expect(order).toEqual(['recorded', 'waiter']);
  });

  it('on stop: the running pass is told to stop and finishes, the queued one is cancelled, later triggers are refused', async () => {
    const passes = new FakePasses();
    const loop = new PassLoop(passes.execute, { log });
    const running = loop.trigger('schedule');
    await tick();
    const queued = loop.trigger('watch');
    expect(passes.started[0]!.shouldStop()).toBe(false);
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    expect(passes.started[0]!.shouldStop()).toBe(true);
    expect(await queued.outcome).toMatchObject({ kind: 'cancelled' });
    await tick();
    expect(stopped).toBe(false);
    passes.finish(0);
    await stopping;
    expect(await running.outcome).toMatchObject({ kind: 'result' });
    expect(await loop.trigger('control').outcome).toMatchObject({ kind: 'cancelled' });
    await tick();
    expect(passes.started).toHaveLength(1);
  });

  it('measures how long a working pass has gone without progress, not while it waits for the lock', async () => {
    let now = 1_000_000;
    const passes = new FakePasses();
    const loop = new PassLoop(passes.execute, { log, now: () => new Date(now) });
    expect(loop.stalledMs()).toBeUndefined();
    loop.trigger('schedule');
    await tick();
    now += 60_000;
    expect(loop.stalledMs()).toBeUndefined(); // still waiting for the lock
    passes.started[0]!.progress();
    now += 5_000;
    expect(loop.stalledMs()).toBe(5_000);
    passes.started[0]!.onItem(item('web'));
    now += 1_000;
    expect(loop.stalledMs()).toBe(1_000);
    passes.finish(0);
    await loop.idle();
    expect(loop.stalledMs()).toBeUndefined();
  });
});
