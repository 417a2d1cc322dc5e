// The values the `[policy]` keys host_namespaces and pull may take: what the config schema
// checks them against. Apart from core/policy/, so that reading a config loads none of the
// policy's parsers (the YAML reader among them).

export const NAMESPACES = ['network', 'pid', 'ipc', 'uts', 'userns', 'cgroupns'] as const;

export const PULL_POLICIES = ['always', 'missing', 'never', 'newer'] as const;
