import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSystemctlShow, parseUnitStatuses, toUnitStatus } from '../../daemon/core/parse/systemctl-show';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/host/${name}`, import.meta.url), 'utf8');
const units = ['web.service', 'web-cache-volume.service', 'web-nightly.timer', 'web-old.service', 'api.service'];

describe('systemctl show', () => {
  it('splits blocks separated by blank lines', () => {
    const blocks = parseSystemctlShow(fixture('systemctl-show-user-units.txt'));
    expect(blocks).toHaveLength(5);
    expect(blocks[0]).toMatchObject({ Id: 'web.service', ActiveState: 'active', SubState: 'running' });
  });

  it('maps each requested unit to its status', () => {
    const statuses = parseUnitStatuses(units, fixture('systemctl-show-user-units.txt'));
    expect(statuses.get('web.service')).toMatchObject({
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      result: 'success',
      unitFileState: 'generated',
      invocationId: '5c3f0e9a1b2d4c7e8f90a1b2c3d4e5f6',
    });
    expect(statuses.get('web-cache-volume.service')).toMatchObject({ activeState: 'active', subState: 'exited' });
    expect(statuses.get('web-nightly.timer')).toMatchObject({ subState: 'waiting', unitFileState: 'enabled' });
  });

  it('reports a unit that does not exist as not-found, with empty invocation and file state', () => {
    const status = parseUnitStatuses(units, fixture('systemctl-show-user-units.txt')).get('web-old.service');
    expect(status).toMatchObject({ loadState: 'not-found', activeState: 'inactive', subState: 'dead', invocationId: '', unitFileState: '' });
  });

  it('reports a failed unit with its result', () => {
    const status = parseUnitStatuses(units, fixture('systemctl-show-user-units.txt')).get('api.service');
    expect(status).toMatchObject({ activeState: 'failed', subState: 'failed', result: 'exit-code' });
  });

  it('pairs blocks by position when Id was not requested', () => {
    const statuses = parseUnitStatuses(['a.service', 'b.service'], fixture('systemctl-show-no-id.txt'));
    expect(statuses.get('a.service')).toMatchObject({ activeState: 'activating', subState: 'start', unitFileState: '' });
    expect(statuses.get('a.service')?.id).toBeUndefined();
    expect(statuses.get('b.service')?.loadState).toBe('not-found');
  });

  it('leaves Result empty for unit types that have none', () => {
    const status = parseUnitStatuses(['default.target'], fixture('systemctl-show-target.txt')).get('default.target');
    expect(status).toMatchObject({ result: '', activeState: 'active', unitFileState: 'static' });
  });

  it('reads the user manager unit of the system scope', () => {
    const [props] = parseSystemctlShow(fixture('systemctl-show-user-manager.txt'));
    expect(toUnitStatus(props ?? {})).toMatchObject({ id: 'user@1001.service', activeState: 'active' });
  });

  it('keeps "=" inside values', () => {
    expect(parseSystemctlShow('ExecStart={ path=/usr/bin/podman ; argv[]=/usr/bin/podman run --name=web }\n')[0]).toEqual({
      ExecStart: '{ path=/usr/bin/podman ; argv[]=/usr/bin/podman run --name=web }',
    });
  });

  it('refuses misaligned output', () => {
    expect(() => parseUnitStatuses(['web.service'], fixture('systemctl-show-user-units.txt'))).toThrow(/5 blocks for 1 units/);
    const swapped = ['web-cache-volume.service', 'web.service', 'web-nightly.timer', 'web-old.service', 'api.service'];
    expect(() => parseUnitStatuses(swapped, fixture('systemctl-show-user-units.txt'))).toThrow(/is for web.service/);
    expect(() => parseSystemctlShow('garbage line\n')).toThrow(/not a systemctl show line/);
  });
});
