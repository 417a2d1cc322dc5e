// Many hosts from one repository (docs/fleet.md): fleet.toml, per-host folders, and the
// slice of the tree each host deploys.
export { FLEET_MANIFEST, parseFleetManifest, selectorMatches, type FleetHost, type FleetManifest, type FleetRole, type Labels } from './manifest';
export { hostInManifest, hostWorkloads, HOSTS_DIR, notInFleet, overlayHostFolder, sliceFor, type HostSlice } from './slice';
export { fleetLayoutProblems, fleetWorkloads, readFleetManifest, unassignedWorkloads, type FleetWorkloads } from './layout';
