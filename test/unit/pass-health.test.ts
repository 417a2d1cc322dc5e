// The health gate of a pass (docs/design.md §6 step 7.8) over a scripted user manager and a clock
// that only moves when the gate sleeps.
import { describe, expect, it } from 'vitest';
import { healthGate, untilUp } from '../../daemon/pass/health-gate';
import type { UnitStatus } from '../../daemon/core/parse/systemctl-show';
import { unitHealth } from '../../daemon/core/unit-health';
import type { UserManager } from '../../daemon/host/systemd';
import { FakeClock } from '../helpers/pass-harness';

const who = { user: 'web', uid: 1000 };

function status(activeState: string, extra: Partial<UnitStatus> & { type?: string } = {}): UnitStatus {
  const { type, ...rest } = extra;
  return {
    loadState: 'loaded',
    activeState,
    subState: activeState === 'active' ? 'running' : 'dead',
    result: 'success',
    invocationId: '0'.repeat(31) + '1',
    unitFileState: 'generated',
    properties: type ? { Type: type } : {},
    ...rest,
  };
}

/** A user manager whose units' states follow `script(elapsedMs)`. */
function manager(clock: FakeClock, script: (elapsed: number, unit: string) => UnitStatus, output: string[] = []) {
  const start = clock.ms;
  const looks: number[] = [];
  const um = {
    async show(_who: unknown, units: readonly string[]) {
      looks.push(clock.ms - start);
      return new Map(units.map((u) => [u, script(clock.ms - start, u)]));
    },
    async unitOutput(_who: unknown, units: readonly string[]) {
      return { lines: output.map((message) => ({ unit: units[0]!, message, invocationId: '0'.repeat(31) + '1' })) };
    },
  } as unknown as UserManager;
  return { um, looks };
}

describe('healthGate', () => {
  it('passes once every unit has stayed up for the settle time', async () => {
    const clock = new FakeClock(0);
    const { um, looks } = manager(clock, () => status('active'));
    await healthGate(um, who, ['web.service'], { deadline: 300_000, clock, settleMs: 1_000, pollMs: 500 });
    // One look when it is up, one when its settle time has passed.
    expect(looks).toEqual([0, 1_000]);
  });

  it('fails a unit that dies while settling, with how it ended and its own output', async () => {
    const clock = new FakeClock(0);
    const died = status('failed', { result: 'exit-code', properties: { ExecMainCode: '1', ExecMainStatus: '2' } });
    const { um } = manager(clock, (t) => (t < 500 ? status('active') : died), ['panic: no config']);
    await expect(healthGate(um, who, ['web.service'], { deadline: 300_000, clock, settleMs: 1_000, pollMs: 500 })).rejects.toThrow(
      'web.service failed (Result=exit-code): main process exited with status 2 — output of web.service: panic: no config',
    );
  });

  it('says so when the journal cannot be read, and still names the failure', async () => {
    const clock = new FakeClock(0);
    const { um } = manager(clock, () => status('failed', { result: 'exit-code' }));
    (um as unknown as { unitOutput: () => Promise<unknown> }).unitOutput = async () => ({ problem: 'journalctl timed out after 60000 ms' });
    await expect(healthGate(um, who, ['web.service'], { deadline: 300_000, clock })).rejects.toThrow(
      'web.service failed (Result=exit-code) — its journal could not be read (journalctl timed out after 60000 ms)',
    );
  });

  it('fails a crash-looping unit at once instead of waiting out the bound', async () => {
    const clock = new FakeClock(0);
    const { um, looks } = manager(clock, () => status('activating', { subState: 'auto-restart', result: 'exit-code' }));
    await expect(healthGate(um, who, ['web.service'], { deadline: 300_000, clock, pollMs: 500 })).rejects.toThrow(/keeps failing and restarting/);
    expect(looks).toEqual([0]);
  });

  it('times out at the deadline with the units still pending', async () => {
    const clock = new FakeClock(0);
    const { um } = manager(clock, (_t, unit) => (unit === 'web.service' ? status('activating', { subState: 'start' }) : status('active')));
    await expect(healthGate(um, who, ['db.service', 'web.service'], { deadline: 10_000, clock, pollMs: 500 })).rejects.toThrow(
      'health gate timed out: web.service activating (start)',
    );
    expect(clock.ms).toBe(10_000);
  });

  it('a unit that comes up just before the deadline still gets its settle time', async () => {
    const clock = new FakeClock(0);
    const { um } = manager(clock, (t) => (t < 9_500 ? status('activating', { subState: 'start' }) : status('active')));
    await healthGate(um, who, ['web.service'], { deadline: 10_000, clock, settleMs: 1_000, pollMs: 500 });
    expect(clock.ms).toBe(10_500);
  });

  it('and one that dies in that settle time past the deadline still fails', async () => {
    const clock = new FakeClock(0);
    const { um } = manager(clock, (t) => (t < 9_500 ? status('activating', { subState: 'start' }) : t < 10_000 ? status('active') : status('failed', { result: 'signal' })));
    await expect(healthGate(um, who, ['web.service'], { deadline: 10_000, clock, settleMs: 1_000, pollMs: 500 })).rejects.toThrow('web.service failed (Result=signal)');
  });

  it('nothing to gate passes without a look', async () => {
    const clock = new FakeClock(0);
    const { um, looks } = manager(clock, () => status('failed'));
    await healthGate(um, who, [], { deadline: 0, clock });
    expect(looks).toEqual([]);
  });
});

describe('unitHealth', () => {
  it('reads the states a pass meets', () => {
    expect(unitHealth(status('active'))).toEqual({ state: 'ok' });
    expect(unitHealth(status('reloading'))).toEqual({ state: 'ok' });
    expect(unitHealth(status('inactive', { type: 'oneshot' }))).toEqual({ state: 'ok' });
    expect(unitHealth(status('inactive', { type: 'oneshot', invocationId: '' }))).toMatchObject({ state: 'failed' });
    expect(unitHealth(status('inactive', { type: 'simple' }))).toEqual({ state: 'failed', detail: 'inactive (Result=success)' });
    expect(unitHealth(status('failed', { result: 'exit-code' }))).toEqual({ state: 'failed', detail: 'failed (Result=exit-code)' });
    expect(unitHealth(status('active', { loadState: 'not-found' }))).toEqual({ state: 'failed', detail: 'not loaded (LoadState=not-found)' });
    expect(unitHealth(status('activating', { subState: 'start-pre' }))).toEqual({ state: 'pending', detail: 'activating (start-pre)' });
    expect(unitHealth(status('deactivating', { subState: 'stop-sigterm' }))).toMatchObject({ state: 'pending' });
  });
});

describe('untilUp, then settle', () => {
  it('returns once the units are up; settle looks once, when the settle time has passed', async () => {
    const clock = new FakeClock(0);
    const { um, looks } = manager(clock, () => status('active'));
    const up = await untilUp(um, who, ['web.service'], { deadline: 300_000, clock, settleMs: 1_000, pollMs: 500 });
    expect(looks).toEqual([0]);
    clock.advance(1_500); // the pass applied the next workload meanwhile
    await up.settle();
    expect(looks).toEqual([0, 1_500]);
  });

  it('a unit that restarted while settling (another InvocationID) is watched again until it stays up', async () => {
    const clock = new FakeClock(0);
    const second = '0'.repeat(31) + '2';
    const { um, looks } = manager(clock, (t) => status('active', t === 0 ? {} : { invocationId: second }));
    const up = await untilUp(um, who, ['web.service'], { deadline: 300_000, clock, settleMs: 1_000, pollMs: 500 });
    await up.settle();
    // Up at 0; at 1000 it is another run: watched from there for a whole settle time.
    expect(looks).toEqual([0, 1_000, 1_000, 1_500, 2_000]);
  });

  it('a unit that died while settling fails the settle with its own output', async () => {
    const clock = new FakeClock(0);
    const died = status('failed', { result: 'exit-code', properties: { ExecMainCode: '1', ExecMainStatus: '3' } });
    const { um } = manager(clock, (t) => (t === 0 ? status('active') : died), ['FATAL: bad config']);
    const up = await untilUp(um, who, ['web.service'], { deadline: 300_000, clock, settleMs: 1_000 });
    await expect(up.settle()).rejects.toThrow('web.service failed (Result=exit-code): main process exited with status 3 — output of web.service: FATAL: bad config');
  });
});
