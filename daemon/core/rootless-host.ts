// What rootless Quadlet needs from a host's cgroups and user bus, decided from facts that
// host/preflight.ts reads: the unified cgroup v2 hierarchy, a user bus in every user
// manager (so rootless Podman uses the systemd cgroup manager and Quadlet's default
// --cgroups=split works), and controllers delegated to user managers (Podman sets a pids
// limit on every container by default; memory and cpu back a spec's --memory and --cpus).

/** One line of `moor doctor`. */
export interface PreflightCheck {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string;
}

export interface RootlessHostFacts {
  /** `stat -f -c %T /sys/fs/cgroup`: `cgroup2fs` on the unified hierarchy (undefined: could not read). */
  cgroupFs: string | undefined;
  /** The controllers the unified hierarchy offers (/sys/fs/cgroup/cgroup.controllers), when it is mounted there. */
  rootControllers: readonly string[] | undefined;
  /** `Delegate=` and `DelegateControllers=` of user managers (`systemctl show user@0.service`). */
  userManager: { delegate: string; controllers: readonly string[] } | undefined;
  /** `systemctl --global is-enabled dbus.socket`: how user managers get their bus (`not-found` when no unit). */
  userBusSocket: string | undefined;
}

/** Controllers user managers must be given: pids for Podman's default pids limit, memory and cpu for limits in specs. */
export const DELEGATED_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;

/** is-enabled states in which every user manager's sockets.target pulls dbus.socket in. */
const BUS_ON = new Set(['enabled', 'enabled-runtime', 'static', 'indirect', 'alias', 'generated']);

const BUS_PACKAGES = 'install dbus-user-session (Debian, Ubuntu) or dbus-broker (Fedora, where it is the default)';

export function rootlessHostChecks(facts: RootlessHostFacts): PreflightCheck[] {
  const unified = facts.cgroupFs === 'cgroup2fs';
  const checks: PreflightCheck[] = [
    {
      name: 'cgroup v2',
      ok: unified,
      detail: unified
        ? 'unified hierarchy (cgroup2fs at /sys/fs/cgroup)'
        : facts.cgroupFs === undefined
          ? 'could not read the file system type of /sys/fs/cgroup'
          : `/sys/fs/cgroup is ${facts.cgroupFs}: the legacy (v1) or hybrid hierarchy`,
      hint: 'boot with the unified hierarchy (drop systemd.unified_cgroup_hierarchy=0 from the kernel command line): rootless Podman and Quadlet need cgroup v2',
    },
  ];

  const bus = facts.userBusSocket ?? 'unknown';
  checks.push({
    name: 'user bus',
    ok: BUS_ON.has(bus),
    detail: BUS_ON.has(bus)
      ? `dbus.socket of user managers is ${bus}`
      : bus === 'not-found'
        ? 'no dbus.socket for user managers: rootless Podman falls back to the cgroupfs manager'
        : `dbus.socket of user managers is ${bus}: rootless Podman falls back to the cgroupfs manager`,
    hint:
      bus === 'masked' || bus === 'masked-runtime'
        ? 'systemctl --global unmask dbus.socket'
        : bus === 'disabled'
          ? 'systemctl --global enable dbus.socket'
          : `${BUS_PACKAGES}, so that every user manager has a bus at /run/user/UID/bus`,
  });

  checks.push(delegationCheck(facts, unified));
  return checks;
}

function delegationCheck(facts: RootlessHostFacts, unified: boolean): PreflightCheck {
  const name = 'delegation';
  const wanted = DELEGATED_CONTROLLERS.join(' ');
  if (!unified) return { name, ok: false, detail: 'no cgroup v2 hierarchy to delegate controllers from', hint: 'boot with the unified hierarchy first' };
  if (!facts.userManager) return { name, ok: false, detail: 'could not read Delegate= of user@.service', hint: `user@.service must have Delegate=${wanted}` };
  const delegated = facts.userManager.delegate === 'yes' ? facts.userManager.controllers : [];
  const notDelegated = DELEGATED_CONTROLLERS.filter((c) => !delegated.includes(c));
  if (notDelegated.length > 0) {
    return {
      name,
      ok: false,
      detail: `user@.service does not delegate ${notDelegated.join(', ')} (Delegate=${facts.userManager.delegate}${delegated.length ? `, DelegateControllers=${delegated.join(' ')}` : ''})`,
      hint: `a drop-in for user@.service with [Service] Delegate=${wanted} (systemctl edit user@.service)`,
    };
  }
  // Delegation hands a user manager only what the hierarchy has: a controller bound to a
  // v1 hierarchy (or disabled on the kernel command line) never reaches it.
  const offered = facts.rootControllers ?? [];
  const missing = DELEGATED_CONTROLLERS.filter((c) => !offered.includes(c));
  if (missing.length > 0) {
    return {
      name,
      ok: false,
      detail: `the cgroup v2 hierarchy has no ${missing.join(', ')} controller (it offers: ${offered.join(' ') || 'none'}), so user managers cannot get ${missing.length > 1 ? 'them' : 'it'}`,
      hint: 'boot with the unified hierarchy alone (cgroup_no_v1=all, no cgroup_disable= for these), so that no controller stays bound to cgroup v1; in a container, its host must delegate them',
    };
  }
  return { name, ok: true, detail: `user managers get ${wanted} (user@.service Delegate=${delegated.join(' ')})` };
}

/** `systemctl show -p Delegate -p DelegateControllers` output → the delegation fact (undefined when unreadable). */
export function parseDelegate(showOutput: string): RootlessHostFacts['userManager'] {
  const props = new Map<string, string>();
  for (const line of showOutput.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const delegate = props.get('Delegate');
  if (delegate === undefined) return undefined;
  return { delegate, controllers: (props.get('DelegateControllers') ?? '').split(/\s+/).filter(Boolean) };
}
