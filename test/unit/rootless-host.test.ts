import { describe, expect, it } from 'vitest';
import { parseDelegate, rootlessHostChecks, type RootlessHostFacts } from '../../daemon/core/rootless-host';

/** A current Debian or Fedora host: everything rootless Quadlet needs. */
const realHost: RootlessHostFacts = {
  cgroupFs: 'cgroup2fs',
  rootControllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'],
  userManager: { delegate: 'yes', controllers: ['cpu', 'memory', 'pids'] },
  userBusSocket: 'static',
};

const byName = (facts: RootlessHostFacts) => Object.fromEntries(rootlessHostChecks(facts).map((c) => [c.name, c]));

describe('rootless host checks', () => {
  it('passes a host with cgroup v2, a user bus and cpu, memory and pids delegated', () => {
    const checks = rootlessHostChecks(realHost);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['cgroup v2', true],
      ['user bus', true],
      ['delegation', true],
    ]);
    expect(byName(realHost)['delegation']!.detail).toBe('user managers get cpu memory pids (user@.service Delegate=cpu memory pids)');
  });

  it('fails the legacy or hybrid hierarchy, and delegation with it', () => {
    const checks = byName({ ...realHost, cgroupFs: 'tmpfs', rootControllers: undefined });
    expect(checks['cgroup v2']).toMatchObject({ ok: false, detail: '/sys/fs/cgroup is tmpfs: the legacy (v1) or hybrid hierarchy' });
    expect(checks['cgroup v2']!.hint).toContain('systemd.unified_cgroup_hierarchy=0');
    expect(checks['delegation']).toMatchObject({ ok: false, detail: 'no cgroup v2 hierarchy to delegate controllers from' });
  });

  it('fails when the file system type could not be read', () => {
    expect(byName({ ...realHost, cgroupFs: undefined })['cgroup v2']).toMatchObject({ ok: false, detail: 'could not read the file system type of /sys/fs/cgroup' });
  });

  it('names the package to install when user managers have no bus', () => {
    const bus = byName({ ...realHost, userBusSocket: 'not-found' })['user bus']!;
    expect(bus.ok).toBe(false);
    expect(bus.detail).toContain('falls back to the cgroupfs manager');
    expect(bus.hint).toContain('dbus-user-session');
    expect(byName({ ...realHost, userBusSocket: undefined })['user bus']!.ok).toBe(false);
  });

  it('says how to turn on a bus that is installed but off', () => {
    expect(byName({ ...realHost, userBusSocket: 'masked' })['user bus']).toMatchObject({ ok: false, hint: 'systemctl --global unmask dbus.socket' });
    expect(byName({ ...realHost, userBusSocket: 'disabled' })['user bus']).toMatchObject({ ok: false, hint: 'systemctl --global enable dbus.socket' });
    expect(byName({ ...realHost, userBusSocket: 'enabled' })['user bus']!.ok).toBe(true);
  });

  it('fails a user@.service that delegates too little, with the drop-in to add', () => {
    const none = byName({ ...realHost, userManager: { delegate: 'no', controllers: [] } })['delegation']!;
    expect(none).toMatchObject({ ok: false, detail: 'user@.service does not delegate cpu, memory, pids (Delegate=no)' });
    expect(none.hint).toContain('Delegate=cpu memory pids');
    const some = byName({ ...realHost, userManager: { delegate: 'yes', controllers: ['memory', 'pids'] } })['delegation']!;
    expect(some).toMatchObject({ ok: false, detail: 'user@.service does not delegate cpu (Delegate=yes, DelegateControllers=memory pids)' });
    expect(byName({ ...realHost, userManager: undefined })['delegation']).toMatchObject({ ok: false, detail: 'could not read Delegate= of user@.service' });
  });

  it('fails delegation the hierarchy cannot give: controllers left on cgroup v1', () => {
    const checks = byName({ ...realHost, rootControllers: ['hugetlb'] });
    expect(checks['cgroup v2']!.ok).toBe(true);
    expect(checks['delegation']).toMatchObject({
      ok: false,
      detail: 'the cgroup v2 hierarchy has no cpu, memory, pids controller (it offers: hugetlb), so user managers cannot get them',
    });
    expect(checks['delegation']!.hint).toContain('cgroup_no_v1=all');
    expect(byName({ ...realHost, rootControllers: ['cpu', 'memory'] })['delegation']!.detail).toContain('has no pids controller (it offers: cpu memory), so user managers cannot get it');
  });
});

describe('parseDelegate', () => {
  it('reads Delegate= and DelegateControllers= of systemctl show', () => {
    expect(parseDelegate('Delegate=yes\nDelegateControllers=cpu memory pids\n')).toEqual({ delegate: 'yes', controllers: ['cpu', 'memory', 'pids'] });
    expect(parseDelegate('DelegateControllers=\nDelegate=no\n')).toEqual({ delegate: 'no', controllers: [] });
  });

  it('is undefined for output without Delegate=', () => {
    expect(parseDelegate('')).toBeUndefined();
    expect(parseDelegate('Failed to get properties\n')).toBeUndefined();
  });
});
