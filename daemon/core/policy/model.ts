// The host policy (docs/policy.md): what the operator allows the containers of every
// workload to do, and the facts about a unit that it is judged on. No policy at all means
// every rule is off, today's behaviour.

import { NAMESPACES } from '../policy-values';

export { NAMESPACES, PULL_POLICIES } from '../policy-values';
export type Namespace = (typeof NAMESPACES)[number];

/** The `[policy]` table, resolved. An unset rule is not enforced; `[]` allows nothing. */
export interface Policy {
  /** Image patterns (`*` matches any run of characters) an image must match. */
  images?: string[];
  /** Host ports a container may publish, as [first, last] ranges. */
  ports?: [number, number][];
  /** Host paths (absolute, or under `%h`) a bind mount's source may be at or under. */
  hostPaths?: string[];
  /** false: no --privileged and no unconfined security option. */
  privileged?: boolean;
  /** Capabilities that may be added (upper case, without CAP_). */
  capabilities?: string[];
  /** Namespaces that may be the host's. */
  hostNamespaces?: Namespace[];
  /** Device patterns a host device must match. */
  devices?: string[];
  /** Pull policies allowed (`--pull`, `Pull=`). */
  pull?: string[];
  /** Programs (absolute paths) a unit may run besides podman. */
  programs: string[];
}

/** The rule a fact is judged by, named as in the config. */
export type Rule = 'images' | 'ports' | 'host_paths' | 'privileged' | 'capabilities' | 'host_namespaces' | 'devices' | 'pull' | 'programs' | 'judgeable';

export type FactKind =
  | 'image'
  | 'publish'
  | 'publish-all'
  | 'host-path'
  | 'privileged'
  | 'capability'
  | 'namespace'
  | 'device'
  | 'pull'
  | 'program'
  /** Something that runs but cannot be judged: refused under any policy. */
  | 'unjudgeable';

/** One policy-relevant fact about what a unit runs. */
export interface Fact {
  kind: FactKind;
  /** The value judged: an image, a host port, a path, a capability, "network=host"... */
  value: string;
  /** How it was written (`--publish 8080:80`, `PublishPort=8080:80`), for messages. */
  as: string;
  /** 1-based line in the file it comes from, when known. */
  line?: number;
  /** The file that line is in when it is not the unit's own (a transform). */
  source?: string;
}

export interface Violation {
  rule: Rule;
  /** The unit (or file) whose command breaks it. */
  unit: string;
  fact: Fact;
  message: string;
  hint: string;
}
