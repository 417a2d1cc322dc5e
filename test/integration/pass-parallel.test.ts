// Applying several workloads at once (`apply.parallel`): how many overlap, users created
// one at a time, outcomes in plan order whatever order the work ends in, a failure
// confined to its workload, removals alone, and a pass asked to stop.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandResult, CommandRunner, RunOptions } from '../../daemon/core/ports';
import { runPass, type PassOptions } from '../../daemon/pass/run-pass';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness({ config: { apply: { parallel: 3 } } });
});
afterEach(() => h.cleanup());

interface Hold {
  kind: string;
  who: string;
  ms: number;
  /**
   * How many commands of this kind the pass runs in all: one held is also kept (up to 2 s)
   * until `together` of its kind (2 unless said) run beside it, while any is still to come.
   * A loaded machine can take longer than `ms` between two workloads' commands; a pass that
   * runs them one at a time still shows one at a time, only 2 s later.
   */
  of?: number;
  together?: number;
}

/**
 * Runs the fake host's commands, holding the ones `slow` picks for a few milliseconds of
 * real time, and counts how many of each kind ran at once at most.
 */
class OverlapRunner implements CommandRunner {
  private readonly running = new Map<string, Set<string>>();
  private readonly started = new Map<string, number>();
  readonly most = new Map<string, number>();

  constructor(private readonly slow: (argv: readonly string[]) => Hold | undefined) {}

  async run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    const held = this.slow(argv);
    if (held) {
      const now = this.running.get(held.kind) ?? new Set<string>();
      this.running.set(held.kind, now);
      now.add(held.who);
      this.started.set(held.kind, (this.started.get(held.kind) ?? 0) + 1);
      this.most.set(held.kind, Math.max(this.most.get(held.kind) ?? 0, now.size));
      await new Promise((resolve) => setTimeout(resolve, held.ms));
      const until = Date.now() + 2_000;
      while (held.of !== undefined && now.size < (held.together ?? 2) && this.started.get(held.kind)! < held.of && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      now.delete(held.who);
    }
    return h.fake.run(argv, options);
  }
}

/** useradd and each user's `systemctl --user restart` (of the six) take a while. */
function slowUseraddAndRestart(argv: readonly string[]): Hold | undefined {
  const line = argv.join(' ');
  if (argv[0] === 'useradd') return { kind: 'useradd', who: argv.at(-1)!, ms: 15 };
  const restart = / systemctl --user restart (\S+)\.service$/.exec(line) ?? /systemctl --user restart (\S+)\.service/.exec(line);
  if (restart) return { kind: 'restart', who: restart[1]!, ms: 40, of: 6 };
  return undefined;
}

async function passOver(runner: CommandRunner, opts: PassOptions = {}) {
  return runPass({ config: h.config, host: h.host(runner), store: await h.openStore(), log: h.log }, { settleMs: 1_000, ...opts });
}

const SIX = Object.fromEntries(['a1', 'b2', 'c3', 'd4', 'e5', 'f6'].map((w) => [`${w}.container`, containerSpec(`localhost/${w}:1`)]));

describe('apply.parallel = 3', () => {
  it('starts up to three workloads at once, never more, and creates their users one at a time', async () => {
    h.commit(SIX);
    const runner = new OverlapRunner(slowUseraddAndRestart);
    const result = await passOver(runner);
    expect(result.exitCode).toBe(0);
    expect(runner.most.get('restart')).toBeGreaterThan(1);
    expect(runner.most.get('restart')).toBeLessThanOrEqual(3);
    expect(runner.most.get('useradd')).toBe(1);
    for (const w of ['a1', 'b2', 'c3', 'd4', 'e5', 'f6']) expect(h.fake.unit(w, `${w}.service`)?.activeState, w).toBe('active');
    // uids are handed out in plan order, as a sequential pass would.
    expect(['a1', 'b2', 'c3', 'd4', 'e5', 'f6'].map((w) => result.items.find((i) => i.workload === w)?.uid)).toEqual([1000, 1001, 1002, 1003, 1004, 1005]);
  });

  it('reports, logs and records the items in plan order, even when a later workload is done first', async () => {
    h.commit(SIX);
    // a1 takes far longer than the others to start.
    const runner = new OverlapRunner((argv) => (/systemctl --user restart a1\.service/.test(argv.join(' ')) ? { kind: 'restart', who: 'a1', ms: 150 } : undefined));
    const result = await passOver(runner);
    const order = ['a1', 'b2', 'c3', 'd4', 'e5', 'f6'];
    expect(result.items.map((i) => i.workload)).toEqual(order);
    expect(h.itemLines().map((l) => /workload=(\w+)/.exec(l)?.[1])).toEqual(order);
    const store = await h.openStore();
    const status = await store.generations.read(result.generation!);
    expect(status.status?.items.map((i) => i.workload)).toEqual(order);
  });

  it('fails only the workload that fails, whatever runs beside it', async () => {
    h.commit(SIX);
    h.fake.failUnit('c3', 'c3.service');
    const result = await passOver(new OverlapRunner(slowUseraddAndRestart));
    expect(result.exitCode).toBe(1);
    expect(result.items.map((i) => [i.workload, i.result])).toEqual([
      ['a1', 'ok'],
      ['b2', 'ok'],
      ['c3', 'failed'],
      ['d4', 'ok'],
      ['e5', 'ok'],
      ['f6', 'ok'],
    ]);
  });

  it('runs a removal alone: nothing else of the pass is in flight while a workload is removed', async () => {
    h.commit(SIX);
    expect((await passOver(new OverlapRunner(() => undefined))).exitCode).toBe(0);
    const rest = Object.fromEntries(Object.entries(SIX).filter(([path]) => !/^(a1|b2)\./.test(path)));
    h.commit({ ...rest, 'g7.container': containerSpec('localhost/g7:1'), 'h8.container': containerSpec('localhost/h8:1') }, 'swap two');
    const events: string[] = [];
    const runner = new OverlapRunner((argv) => {
      const line = argv.join(' ');
      if (argv[0] === 'userdel') events.push(`userdel ${argv.at(-1)}`);
      if (argv[0] === 'useradd') events.push(`useradd ${argv.at(-1)}`);
      return argv[0] === 'userdel' ? { kind: 'userdel', who: argv.at(-1)!, ms: 30 } : / restart /.test(line) ? { kind: 'restart', who: line, ms: 20 } : undefined;
    });
    const result = await passOver(runner);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['c3', 'unchanged', 'ok'],
      ['d4', 'unchanged', 'ok'],
      ['e5', 'unchanged', 'ok'],
      ['f6', 'unchanged', 'ok'],
      ['g7', 'create', 'ok'],
      ['h8', 'create', 'ok'],
      ['b2', 'remove', 'ok'],
      ['a1', 'remove', 'ok'],
    ]);
    expect(events).toEqual(['useradd g7', 'useradd h8', 'userdel b2', 'userdel a1']);
    expect(runner.most.get('userdel')).toBe(1);
  });
});

describe('apply.parallel = 1', () => {
  it('applies one workload at a time, the next one while the one before waits out its settle time', async () => {
    h.config = h.makeConfig({ apply: { parallel: 1 } });
    h.commit(SIX);
    // a1's look after its settle time waits until b2 was restarted (or 2 s): a pass that
    // applied b2 only after a1 settled would show a1's look first.
    const seen: string[] = [];
    let a1Shows = 0;
    const runner = new OverlapRunner((argv) => {
      const line = argv.join(' ');
      if (/systemctl --user restart/.test(line)) return { kind: 'restart', who: line, ms: 5 };
      return undefined;
    });
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 200 && !seen.some((l) => pattern.test(l)); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const result = await passOver({
      run: async (argv, options) => {
        const line = argv.join(' ');
        if (/--uid=a1 .*systemctl --user show .*a1\.service/.test(line) && ++a1Shows === 3) await waitFor(/--uid=b2 .*systemctl --user restart/);
        seen.push(line);
        return runner.run(argv, options);
      },
    });
    expect(result.items.map((i) => [i.workload, i.result])).toEqual(['a1', 'b2', 'c3', 'd4', 'e5', 'f6'].map((w) => [w, 'ok']));
    const a1Look = seen.findIndex((l, i) => /--uid=a1 .*systemctl --user show/.test(l) && seen.slice(0, i).filter((x) => /--uid=a1 .*systemctl --user show/.test(x)).length === 2);
    const b2Restart = seen.findIndex((l) => /--uid=b2 .*systemctl --user restart/.test(l));
    expect(b2Restart).toBeGreaterThan(0);
    expect(a1Look).toBeGreaterThan(b2Restart);
    // Never two restarts at once: one workload is applied at a time.
    expect(runner.most.get('restart')).toBe(1);
  });
});

describe('a pass asked to stop while several workloads are in hand', () => {
  it('finishes and reports every workload it began, in plan order, begins no other, then says it stops', async () => {
    h.commit(SIX);
    const runner = new OverlapRunner(slowUseraddAndRestart);
    let stop = false;
    const result = await passOver(runner, {
      shouldStop: () => stop,
      onItem: () => {
        stop = true;
      },
    });
    const reported = result.items.map((i) => i.workload);
    // Those begun before the first item finished: at least the first, fewer than all.
    expect(reported.length).toBeGreaterThanOrEqual(1);
    expect(reported.length).toBeLessThan(6);
    expect(reported).toEqual(['a1', 'b2', 'c3', 'd4', 'e5', 'f6'].slice(0, reported.length));
    for (const item of result.items) {
      expect(item.result).toBe('ok');
      expect(h.fake.unit(item.workload, `${item.workload}.service`)?.activeState).toBe('active');
    }
    // Nothing of the workloads left for the next pass was touched.
    for (const w of ['a1', 'b2', 'c3', 'd4', 'e5', 'f6'].slice(reported.length)) {
      expect(h.fake.callLines().some((l) => new RegExp(`^useradd .* ${w}$`).test(l)), w).toBe(false);
    }
    const stopping = h.logs.findIndex((l) => l.includes('stopping: the remaining workloads are left for the next pass'));
    const lastItem = h.logs.findIndex((l) => l.includes(`workload=${reported.at(-1)} `) && /create ok/.test(l));
    expect(stopping).toBeGreaterThan(lastItem);
  });
});

describe('step 4, with nothing to apply', () => {
  it('looks at up to sixteen workloads at once, never more', async () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`w${String(i).padStart(2, '0')}.container`, containerSpec(`localhost/w${i}:1`)]));
    h.commit(many);
    expect((await passOver(new OverlapRunner(() => undefined))).exitCode).toBe(0);
    // Each look reads the workload's units: held for a while, counted while held.
    const runner = new OverlapRunner((argv) => {
      const line = argv.join(' ');
      return / systemctl --user show /.test(line) ? { kind: 'show', who: line, ms: 20, of: 40, together: 16 } : undefined;
    });
    const result = await passOver(runner);
    expect(result.exitCode).toBe(0);
    expect(result.items.every((i) => i.action === 'unchanged')).toBe(true);
    expect(runner.most.get('show')).toBe(16);
  });
});
