// The host side of step 4: a workload whose spec did not change is still re-applied when
// the host no longer runs it as applied (a unit file deleted, a service stopped, the
// user or its manager gone).
import type { RenderedWorkload } from '../core/desired';
import { unitHealth } from '../core/unit-health';
import { userManagerUnit } from '../host/systemd';
import { HEALTH_PROPERTIES } from './health-gate';
import type { HostOps } from './host-ops';

/**
 * Why the workload drifted, or undefined when the host runs it as applied. `managers`:
 * the states of user managers already asked for (step 4 asks for all of them at once).
 */
export async function observeDrift(
  host: HostOps,
  rendered: RenderedWorkload,
  uid: number | undefined,
  managers?: ReadonlyMap<string, string>,
): Promise<string | undefined> {
  try {
    if (uid === undefined) return `user ${rendered.user} is missing`;
    const manager = managers?.get(userManagerUnit(uid)) ?? (await host.system.isActive(userManagerUnit(uid)));
    if (manager !== 'active') return `${userManagerUnit(uid)} is ${manager}`;
    const units = rendered.units.map((u) => u.unit);
    const statuses = await host.userManager.show({ user: rendered.user, uid }, units, [...HEALTH_PROPERTIES, 'NeedDaemonReload']);
    for (const unit of rendered.units.filter((u) => u.gate).map((u) => u.unit)) {
      const health = unitHealth(statuses.get(unit));
      if (health.state === 'failed') return `${unit} is ${health.detail}`;
    }
    // A unit file deleted or edited on disk leaves the loaded unit running as it was until
    // the next reload (or reboot); systemd flags it, as it does for Quadlet's SourcePath=.
    const stale = units.find((unit) => statuses.get(unit)?.properties.NeedDaemonReload === 'yes');
    if (stale) return `${stale}: its files changed on disk since they were loaded (NeedDaemonReload=yes)`;
    return undefined;
  } catch (err) {
    return `host state unreadable: ${(err as Error).message}`;
  }
}
