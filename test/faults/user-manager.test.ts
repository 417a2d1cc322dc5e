// Faults of the world: a workload's user manager (user@UID.service) that does not come up,
// fails, or hangs on a stop. Each wait is bounded by a timeout of the config; that
// workload fails, saying which unit and why, and the others are applied. A command that
// hangs is played by a runner that answers as ExecaRunner does once the bound given to it
// has passed (that ExecaRunner kills a command at its bound is proven in exec.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandResult, CommandRunner, RunOptions } from '../../daemon/core/ports';
import { runPass } from '../../daemon/pass/run-pass';
import type { PassResult } from '../../daemon/pass/pass-result';
import { containerSpec, PassHarness } from '../helpers/pass-harness';

type Fault = 'hang' | { exitCode: number; stdout?: string; stderr?: string };

/** The fake host, with faults for the commands `fault` picks. */
class FaultyHost implements CommandRunner {
  readonly bounds: { argv: string; timeoutMs: number; waitedMs: number }[] = [];
  constructor(
    private readonly h: PassHarness,
    private readonly fault: (argv: string) => Fault | undefined,
  ) {}
  async run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    const line = argv.join(' ');
    const fault = this.fault(line);
    if (fault === undefined) return this.h.fake.run(argv, options);
    this.h.fake.calls.push([...argv]);
    if (fault === 'hang') {
      const started = Date.now();
      await new Promise((r) => setTimeout(r, options.timeoutMs));
      this.bounds.push({ argv: line, timeoutMs: options.timeoutMs, waitedMs: Date.now() - started });
      return { argv: [...argv], exitCode: null, stdout: '', stderr: '', durationMs: options.timeoutMs, timedOut: true };
    }
    return { argv: [...argv], stdout: '', stderr: '', durationMs: 1, timedOut: false, ...fault };
  }
}

let h: PassHarness;
beforeEach(() => {
  // Short bounds, so that a hang costs the test a second, not a minute.
  h = new PassHarness({ config: { timeouts: { command: 1_000, user_manager: 3_000 } } });
});
afterEach(() => h.cleanup());

async function passOver(runner: CommandRunner): Promise<PassResult> {
  return runPass({ config: h.config, host: h.host(runner), store: await h.openStore(), log: h.log }, { settleMs: 0 });
}

const THREE = {
  'api.container': containerSpec('localhost/api:1'),
  'db.container': containerSpec('localhost/db:1'),
  'web.container': containerSpec('localhost/web:1'),
};
/** The second user moor creates (db, in sorted order) gets uid 1001. */
const DB_MANAGER = 'systemctl start user@1001.service';

function outcomes(result: PassResult): string[][] {
  return result.items.map((i) => [i.workload, i.action, i.result]);
}

describe('a user manager that does not come up', () => {
  it('one whose start hangs: cut at timeouts.command, that workload fails naming user@UID.service, the others are applied (exit 1)', async () => {
    const runner = new FaultyHost(h, (c) => (c === DB_MANAGER ? 'hang' : undefined));
    h.commit(THREE);
    const started = Date.now();
    const result = await passOver(runner);

    expect(result.exitCode).toBe(1);
    expect(outcomes(result)).toEqual([
      ['api', 'create', 'ok'],
      ['db', 'create', 'failed'],
      ['web', 'create', 'ok'],
    ]);
    expect(result.items[1]!.error).toBe('systemctl start user@1001.service timed out after 1000 ms');
    expect(runner.bounds).toEqual([{ argv: DB_MANAGER, timeoutMs: 1_000, waitedMs: expect.any(Number) }]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(h.fake.unit('api', 'api.service')?.activeState).toBe('active');
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
    expect(h.fake.unit('db', 'db.service')).toBeUndefined();
  });

  it('one that starts but never becomes active: given up after timeouts.user_manager, that workload fails, the others are applied', async () => {
    const runner = new FaultyHost(h, (c) => (c === 'systemctl is-active user@1001.service' ? { exitCode: 3, stdout: 'activating\n' } : undefined));
    h.commit(THREE);
    const t0 = h.clock.ms;
    const result = await passOver(runner);

    expect(result.exitCode).toBe(1);
    expect(outcomes(result)).toEqual([
      ['api', 'create', 'ok'],
      ['db', 'create', 'failed'],
      ['web', 'create', 'ok'],
    ]);
    expect(result.items[1]!.error).toBe('user@1001.service did not become active after start (state: activating)');
    // The poll ran out on the clock at user_manager's bound (the fake clock's sleeps are instant).
    const polls = h.fake.callLines().filter((c) => c === 'systemctl is-active user@1001.service').length;
    expect(polls).toBe(12);
    expect(h.clock.ms - t0).toBeGreaterThanOrEqual(3_000);
  });

  it('one that is masked or fails: that workload fails with systemd\'s own words, the others are applied; the next pass retries it', async () => {
    let masked = true;
    const runner = new FaultyHost(h, (c) => (masked && c === DB_MANAGER ? { exitCode: 1, stderr: 'Failed to start user@1001.service: Unit user@1001.service is masked.\n' } : undefined));
    h.commit(THREE);
    const result = await passOver(runner);
    expect(outcomes(result)).toEqual([
      ['api', 'create', 'ok'],
      ['db', 'create', 'failed'],
      ['web', 'create', 'ok'],
    ]);
    expect(result.items[1]!.error).toBe('systemctl start user@1001.service exited 1 after 1 ms: Failed to start user@1001.service: Unit user@1001.service is masked.');

    masked = false;
    const next = await passOver(runner);
    expect(next.exitCode).toBe(0);
    expect(outcomes(next)).toEqual([
      ['api', 'unchanged', 'ok'],
      ['db', 'create', 'ok'],
      ['web', 'unchanged', 'ok'],
    ]);
  });

  it("one whose manager answers nothing (its bus hangs): each command as the user is cut at timeouts.command, that workload fails", async () => {
    const runner = new FaultyHost(h, (c) => (c.includes('--uid=db ') && c.endsWith('systemctl --user daemon-reload') ? 'hang' : undefined));
    h.commit(THREE);
    const result = await passOver(runner);
    expect(outcomes(result)).toEqual([
      ['api', 'create', 'ok'],
      ['db', 'create', 'failed'],
      ['web', 'create', 'ok'],
    ]);
    expect(result.items[1]!.error).toMatch(/systemctl --user daemon-reload timed out after 1000 ms$/);
    expect(runner.bounds.map((b) => b.timeoutMs)).toEqual([1_000]);
  });
});

describe('a user manager that hangs on a stop', () => {
  it('removing its workload: the stop is cut at timeouts.command, the slice and the kill end what runs, and the removal completes', async () => {
    h.commit(THREE);
    expect((await passOver(h.fake)).exitCode).toBe(0);
    const runner = new FaultyHost(h, (c) => (c === 'systemctl stop user@1001.service' ? 'hang' : undefined));
    h.commit({ 'api.container': THREE['api.container'], 'web.container': THREE['web.container'] });
    const result = await passOver(runner);

    expect(result.exitCode).toBe(0);
    expect(outcomes(result)).toEqual([
      ['api', 'unchanged', 'ok'],
      ['web', 'unchanged', 'ok'],
      ['db', 'remove', 'ok'],
    ]);
    expect(runner.bounds).toEqual([{ argv: 'systemctl stop user@1001.service', timeoutMs: 1_000, waitedMs: expect.any(Number) }]);
    expect(h.fake.passwd.has('db')).toBe(false);
    expect(h.fake.managers.has(1001)).toBe(false);
  });

  it('when the slice will not stop either, the removal fails naming it, deletes nothing, and the other workloads are untouched', async () => {
    h.commit(THREE);
    expect((await passOver(h.fake)).exitCode).toBe(0);
    const runner = new FaultyHost(h, (c) => (c === 'systemctl stop user@1001.service' || c === 'systemctl stop user-1001.slice' ? 'hang' : undefined));
    h.commit({ 'api.container': THREE['api.container'], 'web.container': THREE['web.container'] });
    const result = await passOver(runner);

    expect(result.exitCode).toBe(1);
    expect(outcomes(result)).toEqual([
      ['api', 'unchanged', 'ok'],
      ['web', 'unchanged', 'ok'],
      ['db', 'remove', 'failed'],
    ]);
    expect(result.items[2]!.error).toBe('systemctl stop user-1001.slice timed out after 1000 ms');
    expect(h.fake.passwd.has('db')).toBe(true);
    expect(h.fake.userFiles('db').size).toBeGreaterThan(0);
    expect(h.fake.unit('api', 'api.service')?.activeState).toBe('active');
  });
});
