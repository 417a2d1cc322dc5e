import { describe, expect, it } from 'vitest';
import { propertyInterface, unitObjectPath, unitPropertiesFromDbus, UnreadableProperty } from '../../daemon/core/parse/dbus-unit-properties';
import { UserManager } from '../../daemon/host/systemd';
import type { UnitStateReader } from '../../daemon/host/user-bus';
import { toUnitStatus, type UnitStatus } from '../../daemon/core/parse/systemctl-show';
import type { CommandResult, CommandRunner } from '../../daemon/core/ports';

describe('unit properties over D-Bus', () => {
  it("escapes a unit's object path as sd-bus does", () => {
    // Paths as busctl tree lists them on a user manager.
    expect(unitObjectPath('default.target')).toBe('/org/freedesktop/systemd1/unit/default_2etarget');
    expect(unitObjectPath('web-cache.service')).toBe('/org/freedesktop/systemd1/unit/web_2dcache_2eservice');
    expect(unitObjectPath('podman-user-wait-network-online.service')).toBe('/org/freedesktop/systemd1/unit/podman_2duser_2dwait_2dnetwork_2donline_2eservice');
    expect(unitObjectPath('a_b@1.timer')).toBe('/org/freedesktop/systemd1/unit/a_5fb_401_2etimer');
    expect(unitObjectPath('')).toBe('/org/freedesktop/systemd1/unit/_');
  });

  it("asks each property on the interface it is on: the Unit's, or the one of the unit's type", () => {
    expect(propertyInterface('web.service', 'ActiveState')).toBe('org.freedesktop.systemd1.Unit');
    expect(propertyInterface('web.service', 'InvocationID')).toBe('org.freedesktop.systemd1.Unit');
    expect(propertyInterface('web.service', 'ExecMainStatus')).toBe('org.freedesktop.systemd1.Service');
    expect(propertyInterface('web-tick.timer', 'Result')).toBe('org.freedesktop.systemd1.Timer');
    expect(propertyInterface('default.target', 'Result')).toBe('org.freedesktop.systemd1.Target');
    expect(propertyInterface('app-data.mount', 'Result')).toBe('org.freedesktop.systemd1.Mount');
  });

  it('prints each wanted property as systemctl show does, and leaves out what the unit lacks', () => {
    const all = {
      Id: 'web.service',
      LoadState: 'loaded',
      ActiveState: 'failed',
      SubState: 'failed',
      Result: 'exit-code',
      InvocationID: Buffer.from('0123456789abcdef0123456789abcdef', 'hex'),
      NeedDaemonReload: false,
      ExecMainCode: 1,
      ExecMainStatus: 3,
      NRestarts: 2,
      MemoryCurrent: 18446744073709551615n,
      Names: ['web.service'],
    };
    expect(unitPropertiesFromDbus(all, ['Id', 'ActiveState', 'Result', 'InvocationID', 'NeedDaemonReload', 'ExecMainCode', 'ExecMainStatus', 'MemoryCurrent', 'UnitFileState'])).toEqual({
      Id: 'web.service',
      ActiveState: 'failed',
      Result: 'exit-code',
      InvocationID: '0123456789abcdef0123456789abcdef',
      NeedDaemonReload: 'no',
      ExecMainCode: '1',
      ExecMainStatus: '3',
      MemoryCurrent: '18446744073709551615',
    });
    // A unit that never ran has an empty invocation id, which systemctl prints as nothing.
    expect(unitPropertiesFromDbus({ InvocationID: Buffer.alloc(0) }, ['InvocationID'])).toEqual({ InvocationID: '' });
  });

  it('refuses a value it cannot print as systemctl would, rather than guessing', () => {
    expect(() => unitPropertiesFromDbus({ Names: ['a', 'b'] }, ['Names'])).toThrow(UnreadableProperty);
    expect(() => unitPropertiesFromDbus({ CPUWeight: 1.5 }, ['CPUWeight'])).toThrow(UnreadableProperty);
    expect(() => unitPropertiesFromDbus({ InvocationID: Buffer.alloc(3) }, ['InvocationID'])).toThrow(UnreadableProperty);
  });
});

/** Records every argv; answers `systemctl --user show` with one block per unit. */
class ShowRunner implements CommandRunner {
  readonly calls: string[][] = [];
  async run(argv: readonly string[]): Promise<CommandResult> {
    this.calls.push([...argv]);
    const units = argv.slice(argv.indexOf('show') + 3);
    const stdout = units.map((u) => `Id=${u}\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nInvocationID=\nUnitFileState=generated\n`).join('\n');
    return { argv: [...argv], exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 };
  }
}

const fromBus = (unit: string): UnitStatus => toUnitStatus({ Id: unit, LoadState: 'loaded', ActiveState: 'activating', SubState: 'start', Result: 'success', InvocationID: 'ab', UnitFileState: 'generated' });

describe('UserManager.show with a bus', () => {
  const who = { user: 'web', uid: 1000 };

  it('asks the bus and runs nothing when it answers', async () => {
    const runner = new ShowRunner();
    const asked: [number, string[], string[]][] = [];
    const bus: UnitStateReader = {
      show: async (uid, units, props) => {
        asked.push([uid, [...units], [...props]]);
        return new Map(units.map((u) => [u, fromBus(u)]));
      },
    };
    const got = await new UserManager(runner, { bus }).show(who, ['web.service'], ['ActiveState']);
    expect(got.get('web.service')?.activeState).toBe('activating');
    expect(runner.calls).toEqual([]);
    // Id is always asked for, so each answer is checked against its unit.
    expect(asked).toEqual([[1000, ['web.service'], ['Id', 'ActiveState']]]);
  });

  it('falls back to systemctl --user show as the user when the bus fails', async () => {
    const runner = new ShowRunner();
    const bus: UnitStateReader = { show: async () => { throw new Error('connect ENOENT /run/user/1000/systemd/private'); } };
    const got = await new UserManager(runner, { bus }).show(who, ['web.service', 'web-db.service']);
    expect([...got.keys()]).toEqual(['web.service', 'web-db.service']);
    expect(got.get('web.service')?.activeState).toBe('active');
    expect(runner.calls).toHaveLength(1);
    expect(runner.calls[0]).toContain('--uid=web');
    expect(runner.calls[0]!.slice(-5)).toEqual(['--user', 'show', '-p', 'Id,LoadState,ActiveState,SubState,Result,InvocationID,UnitFileState', 'web.service', 'web-db.service'].slice(-5));
  });
});
