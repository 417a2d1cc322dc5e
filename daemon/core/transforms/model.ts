// A transform file (docs/design.md §3) as moor holds it once read: host-side settings merged
// into every spec of one type, for the whole host (`_base`) or for one group directory.

/** The unit types a transform may target: Quadlet types and plain user unit types. */
export const TRANSFORM_TYPES = [
  'container',
  'pod',
  'volume',
  'network',
  'image',
  'build',
  'kube',
  'service',
  'timer',
  'socket',
  'path',
  'target',
] as const;

export type TransformType = (typeof TRANSFORM_TYPES)[number];

export function isTransformType(s: string): s is TransformType {
  return (TRANSFORM_TYPES as readonly string[]).includes(s);
}

/**
 * - default `Key=Value`: used only where the spec does not set Key
 * - prepend `+Key=Value`: placed before the spec's own values
 * - force `!Key=Value`: replaces every value the spec gives
 * - remove `-Key=`: drops Key from the spec
 */
export type TransformOp = 'default' | 'prepend' | 'force' | 'remove';

export interface TransformRule {
  op: TransformOp;
  /** The key without its prefix. */
  key: string;
  /** As written, placeholders not yet substituted ("" for a removal). */
  value: string;
  line: number;
}

export interface TransformSection {
  name: string;
  line: number;
  rules: TransformRule[];
}

export interface Transform {
  /** File name, e.g. "apps.container". */
  name: string;
  /** Where the file lives, for messages. */
  path: string;
  type: TransformType;
  /** The group it applies to; undefined for `_base.<type>`. */
  group?: string;
  sections: TransformSection[];
}

/** Who a spec is rendered for, and on which host: the values of the `{{...}}` placeholders. */
export interface Identity {
  name: string;
  user: string;
  uid: number | string;
  home: string;
  /** `{{host}}`: the host's name in its fleet (`[host] name`, docs/fleet.md). */
  host: string;
  /** `{{label.KEY}}`: the host's labels (fleet.toml's, overlaid by `[host] labels`). */
  labels: Readonly<Record<string, string>>;
}

/** The workload's user as a host has it: what rendering needs besides the host. */
export type WorkloadAccount = Pick<Identity, 'name' | 'user' | 'uid' | 'home'>;

/** The host a workload is rendered on: what `{{host}}` and `{{label.KEY}}` stand for. */
export interface HostIdentity {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/**
 * A companion template `_base-<suffix>.<type>`: a whole unit file (not merge rules) from
 * which every workload gets a file `<workload>-<suffix>.<type>` of its own, with the
 * placeholders substituted (docs/transforms.md).
 */
export interface CompanionTemplate {
  /** File name, e.g. "_base-data.volume". */
  name: string;
  path: string;
  /** What follows `_base-`, e.g. "data". */
  suffix: string;
  type: TransformType;
  /** The file as written, placeholders not yet substituted. */
  content: string;
}

/** The transforms of one host, indexed the way a spec looks them up. */
export interface TransformSet {
  /** `_base.<type>` by type. */
  base: ReadonlyMap<string, Transform>;
  /** `<group>.<type>` by group, then by type. */
  groups: ReadonlyMap<string, ReadonlyMap<string, Transform>>;
  /** `_base-<suffix>.<type>`, by file name. */
  templates: readonly CompanionTemplate[];
}
