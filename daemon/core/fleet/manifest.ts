// fleet.toml (docs/fleet.md#layout): the hosts of a fleet, the roles each has, and the
// workloads and groups each role gives. Read from the scanned tree, so it is checked
// exactly as the commit a host deploys holds it; every problem names its line and fails
// the whole tree, since a host that misreads it could deploy another host's slice.
import { parse as parseToml, TomlError } from 'smol-toml';
import * as z from 'zod/mini';
import '../zod-english';
import { findKeyLine } from '../config/key-line';
import { HOST_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from '../config/schema';
import type { Problem } from '../problem';

/** The manifest's path: only the repository root's is read. */
export const FLEET_MANIFEST = 'fleet.toml';

export type Labels = Readonly<Record<string, string>>;

export interface FleetHost {
  name: string;
  roles: readonly string[];
  /** The host's labels as the repository knows them; a host's `[host] labels` win over them. */
  labels: Labels;
}

export interface FleetRole {
  name: string;
  workloads: readonly string[];
  groups: readonly string[];
  /** Given also to every host whose labels include all of these (empty: to none). */
  select: Labels;
}

export interface FleetManifest {
  hosts: readonly FleetHost[];
  roles: readonly FleetRole[];
  /** The text, for the line of a key in later problems. */
  text: string;
}

const names = z.array(z.string());
const labels = z.record(z.string(), z.string());
const hostTable = z.strictObject({ roles: z.optional(names), labels: z.optional(labels) });
const roleTable = z.strictObject({ workloads: z.optional(names), groups: z.optional(names), select: z.optional(labels) });
const manifestSchema = z.strictObject({
  hosts: z.optional(z.record(z.string(), hostTable)),
  roles: z.optional(z.record(z.string(), roleTable)),
});

const NAME_RULE = 'lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters';

/** A problem of fleet.toml at the line of `key` (a path of table and key names). */
export function manifestProblem(text: string, key: readonly string[], code: string, message: string, hint: string): Problem {
  // A table's own header (`[hosts.alpha]`) before the first key inside it.
  const header = text.split(/\r?\n/).findIndex((l) => {
    const m = /^\s*\[\s*([^\]]+?)\s*\]/.exec(l);
    const path = m?.[1]!.split('.').map((s) => s.trim().replace(/^(["'])(.*)\1$/, '$2'));
    return path !== undefined && path.length >= key.length && key.every((k, i) => path[i] === k);
  });
  const found = findKeyLine(text, key);
  const line = header >= 0 && (found === undefined || header + 1 < found) ? header + 1 : found;
  return { path: FLEET_MANIFEST, ...(line !== undefined ? { line } : {}), code, message, hint };
}

/** The manifest, or the problems that keep it from being read; a manifest with problems is not returned. */
export function parseFleetManifest(text: string): { manifest?: FleetManifest; problems: Problem[] } {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    return {
      problems: [{ path: FLEET_MANIFEST, line: err.line, code: 'fleet-syntax', message: `TOML syntax error: ${err.message.split('\n')[0]}`, hint: 'fix the line; docs/fleet.md#layout shows the shape' }],
    };
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((issue) => {
        const at = issue.path.map(String);
        if (issue.code === 'unrecognized_keys') {
          const key = [...at, issue.keys[0]!];
          return manifestProblem(text, key, 'fleet-unknown-key', `unknown key "${key.join('.')}"`, 'a host has roles and labels, a role workloads, groups and select (docs/fleet.md#layout)');
        }
        return manifestProblem(text, at, 'fleet-invalid', `key "${at.join('.')}": ${issue.message}`, 'roles, workloads and groups are lists of names; labels and select are tables of strings (docs/fleet.md#layout)');
      }),
    };
  }
  const hosts: FleetHost[] = Object.entries(parsed.data.hosts ?? {}).map(([name, h]) => ({ name, roles: h.roles ?? [], labels: h.labels ?? {} }));
  const roles: FleetRole[] = Object.entries(parsed.data.roles ?? {}).map(([name, r]) => ({ name, workloads: r.workloads ?? [], groups: r.groups ?? [], select: r.select ?? {} }));
  const problems: Problem[] = [];
  for (const [table, list] of [['hosts', hosts], ['roles', roles]] as const) {
    for (const { name } of list) {
      if (HOST_NAME_PATTERN.test(name)) continue;
      problems.push(manifestProblem(text, [table, name], 'fleet-bad-name', `${table === 'hosts' ? 'host' : 'role'} name ${JSON.stringify(name)} is not a valid name`, `rename it: ${NAME_RULE}`));
    }
  }
  for (const h of hosts) problems.push(...labelProblems(text, ['hosts', h.name, 'labels'], h.labels));
  for (const r of roles) problems.push(...labelProblems(text, ['roles', r.name, 'select'], r.select));
  const defined = new Set(roles.map((r) => r.name));
  for (const h of hosts) {
    for (const role of h.roles.filter((r) => !defined.has(r))) {
      problems.push(manifestProblem(text, ['hosts', h.name, 'roles'], 'fleet-unknown-role', `host ${h.name} has role ${JSON.stringify(role)}, which no [roles.${role}] defines`, `add a [roles.${role}] table, or fix the name in the roles of [hosts.${h.name}]`));
    }
  }
  return problems.length > 0 ? { problems } : { manifest: { hosts, roles, text }, problems: [] };
}

function labelProblems(text: string, key: readonly string[], record: Labels): Problem[] {
  const problems: Problem[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (!LABEL_KEY_PATTERN.test(k)) {
      problems.push(manifestProblem(text, key, 'fleet-bad-label', `label key ${JSON.stringify(k)} in ${key.join('.')} is not a valid label key`, 'a label key holds lower-case letters, digits, "_", "." and "-"'));
    } else if (!LABEL_VALUE_PATTERN.test(v)) {
      problems.push(manifestProblem(text, key, 'fleet-bad-label', `label ${k} = ${JSON.stringify(v)} in ${key.join('.')} is not a valid label value`, 'a label value holds letters, digits and _ . : @ / + - (no spaces), at most 128 characters'));
    }
  }
  return problems;
}

/** Whether labels include every key and value of the selector (an empty one selects nothing). */
export function selectorMatches(select: Labels, labels: Labels): boolean {
  const keys = Object.keys(select);
  return keys.length > 0 && keys.every((k) => Object.hasOwn(labels, k) && labels[k] === select[k]);
}
