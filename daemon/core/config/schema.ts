// The config file's shape (docs/design.md §11). Every table is strict: an unknown key is an
// error, never silently ignored, because a misspelt safety setting must not fall back
// to its default unnoticed. Every key is optional in a file; defaults fill the rest.
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration';
import { USER_NAME_CHARS, USER_NAME_PATTERN } from '../user-name';
import type { IdRangeConfig } from '../id-allocation';
import type { Policy } from '../policy';
import { NAMESPACES, PULL_POLICIES } from '../policy-values';
import { TRUST_MODES, type TrustConfig } from '../trust';
import { NOTIFY_ON, type NotifyOn } from '../notify-policy';

const duration = z
  .string()
  .regex(DURATION_PATTERN, 'a duration like "30s", "5m", "2h" or "7d"')
  .transform((s) => parseDuration(s)!);

const userName = z.string().regex(USER_NAME_PATTERN, `a user name (${USER_NAME_CHARS})`);

const fileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'an octal file mode like "0600"')
  .transform((s) => parseInt(s, 8));

// A source value reaches git's argv, its config files and the ssh command line: a newline
// there could add git config of the attacker's choosing (run as root).
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const plain = (schema: z.ZodString) => schema.regex(NO_CONTROL, 'must not contain a newline or any other control character');

// `[metrics] listen`: "127.0.0.1:9561", "[::1]:9561" or "localhost:9561" → where to bind.
const listenAddress = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'an address and port like "127.0.0.1:9561" or "[::1]:9561"')
  .transform((s) => {
    const colon = s.lastIndexOf(':');
    return { host: s.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(colon + 1)) };
  })
  .refine((a) => a.port >= 1 && a.port <= 65535, 'a port from 1 to 65535');

// A reserved name: a user name, or a prefix of one followed by "*".
const reservedName = z.string().regex(new RegExp(`^${USER_NAME_CHARS}\\*?$`), `a user name (${USER_NAME_CHARS}), or a prefix of one followed by "*"`);

const maxRemovals = z.union([
  z.string().regex(/^\d{1,3}%$/, 'a percentage like "50%" or a count').transform((s) => ({ percent: Number(s.slice(0, -1)) })),
  z.number().int().nonnegative().transform((n) => ({ count: n })),
]);

// A host port, or a range "8000-8099", as [first, last].
const portRange = z.union([
  z.number().int().min(1).max(65535).transform((n): [number, number] => [n, n]),
  z
    .string()
    .regex(/^\d{1,5}(-\d{1,5})?$/, 'a port or a range like "8000-8099"')
    .transform((s): [number, number] => {
      const [a, b = a] = s.split('-').map(Number) as [number, number?];
      return [a, b];
    })
    .refine(([a, b]) => a >= 1 && a <= b && b <= 65535, 'a range of ports between 1 and 65535, first <= last'),
]);

// The host policy (docs/policy.md): every rule optional; an unset rule is not enforced.
const policyTable = z.strictObject({
  images: z.array(z.string().min(1)).optional(),
  ports: z.array(portRange).optional(),
  host_paths: z.array(z.string().regex(/^(\/|%h(\/|$))/, 'an absolute path, or one under %h')).optional(),
  privileged: z.boolean().optional(),
  capabilities: z.array(z.string().regex(/^(CAP_)?[A-Za-z_]+$/, 'a capability name like "NET_BIND_SERVICE"')).optional(),
  host_namespaces: z.array(z.enum(NAMESPACES)).optional(),
  devices: z.array(z.string().min(1)).optional(),
  pull: z.array(z.enum(PULL_POLICIES)).optional(),
  programs: z.array(z.string().startsWith('/', 'an absolute path')).optional(),
});

/** The most workloads a pass may apply at once: past a few, the user managers' start-ups only compete for the CPU. */
export const MAX_PARALLEL_APPLIES = 32;

// Who may sign what a host deploys (docs/configuration.md [trust]). The paths reach git's
// `-c` options, so they are plain too. That require names a signer is checked once the
// drop-ins are merged (resolve.ts): one file may set the mode, another the signers.
const trustTable = z.strictObject({
  mode: z.enum(TRUST_MODES).optional(),
  allowed_signers: plain(z.string().startsWith('/', 'an absolute path')).optional(),
  gpg_keyring: plain(z.string().startsWith('/', 'an absolute path')).optional(),
  allow_history_rewrite: z.boolean().optional(),
});

// Where a pass is announced (docs/configuration.md [notify]). The commands run as `user`,
// never root: a name that is root here is refused at load, a user whose uid is 0 when it is
// looked up (at the daemon's start and at each send). A URL is http or https only.
const notifyTable = z.strictObject({
  commands: z.array(z.array(plain(z.string().min(1))).min(1, 'an argv array like ["/usr/local/bin/page", "--team", "ops"]')).optional(),
  user: userName.refine((u) => u !== 'root', 'an unprivileged user: notify commands never run as root').optional(),
  urls: z.array(plain(z.string().regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL'))).optional(),
  secret_file: plain(z.string().startsWith('/', 'an absolute path')).optional(),
  timeout: duration.optional(),
  on: z.enum(NOTIFY_ON).optional(),
  retries: z.number().int().min(0).max(10).optional(),
});

import { HOST_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from './host-names';
export { HOST_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from './host-names';
const hostName = z.string().regex(HOST_NAME_PATTERN, 'a host name: lower-case letters, digits and "-", at most 63 characters');
const labels = z
  .record(z.string(), z.string().regex(LABEL_VALUE_PATTERN, 'a label value: letters, digits and _ . : @ / + - (no spaces), at most 128 characters'))
  .superRefine((record, ctx) => {
    // Checked here rather than as the record's key schema, whose own message names no rule.
    for (const key of Object.keys(record)) {
      if (!LABEL_KEY_PATTERN.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'a label key: lower-case letters, digits, "_", "." and "-"' });
    }
  });
const ringName = z.string().regex(HOST_NAME_PATTERN, 'a ring name: lower-case letters, digits and "-"');

export const configFileSchema = z.strictObject({
  log_level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  user_prefix: z.string().regex(new RegExp(`${USER_NAME_PATTERN.source}|^$`), 'empty or a user-name prefix').max(16).optional(),
  protected_users: z.array(userName).optional(),
  max_removals: maxRemovals.optional(),
  max_file_bytes: z.number().int().positive().optional(),
  max_repo_bytes: z.number().int().positive().optional(),
  max_repo_files: z.number().int().positive().optional(),
  max_repo_depth: z.number().int().positive().optional(),
  reserved_names: z.array(reservedName).optional(),
  state_dir: z.string().startsWith('/', 'an absolute path').optional(),
  transforms_dir: z.string().startsWith('/', 'an absolute path').optional(),
  lock_path: z.string().startsWith('/', 'an absolute path').optional(),
  source: z
    .strictObject({
      url: plain(z.string().min(1)).optional(),
      bare_repo: plain(z.string().startsWith('/', 'an absolute path')).optional(),
      branch: plain(z.string().min(1)).optional(),
      ssh_key: plain(z.string().startsWith('/', 'an absolute path')).optional(),
    })
    .optional(),
  schedule: z
    .strictObject({
      cron: z.string().min(1).optional(),
      jitter: duration.optional(),
    })
    .optional(),
  timeouts: z
    .strictObject({
      command: duration.optional(),
      fetch: duration.optional(),
      user_manager: duration.optional(),
      health: duration.optional(),
      stop: duration.optional(),
      archive: duration.optional(),
    })
    .optional(),
  apply: z
    .strictObject({
      parallel: z.number().int().min(1).max(MAX_PARALLEL_APPLIES).optional(),
    })
    .optional(),
  removal: z
    .strictObject({
      home: z.enum(['archive', 'purge']).optional(),
      archive_max_age: duration.optional(),
      archive_max_bytes: z.number().int().nonnegative().optional(),
    })
    .optional(),
  gc: z
    .strictObject({
      keep_min: z.number().int().nonnegative().optional(),
      keep_max: z.number().int().positive().optional(),
      min_age: duration.optional(),
      max_age: duration.optional(),
      max_bytes: z.number().int().positive().optional(),
    })
    .optional(),
  users: z
    .strictObject({
      uid_min: z.number().int().positive().optional(),
      uid_max: z.number().int().positive().optional(),
      subid_min: z.number().int().positive().optional(),
      subid_max: z.number().int().positive().optional(),
      subid_count: z.number().int().positive().optional(),
    })
    .optional(),
  control: z
    .strictObject({
      socket: z.string().startsWith('/', 'an absolute path').optional(),
      mode: fileMode.optional(),
      webhook_secret_file: z.string().startsWith('/', 'an absolute path').optional(),
    })
    .optional(),
  policy: policyTable.optional(),
  trust: trustTable.optional(),
  secrets: z
    .strictObject({
      identity_file: plain(z.string()).startsWith('/', 'an absolute path').optional(),
    })
    .optional(),
  notify: notifyTable.optional(),
  host: z
    .strictObject({
      name: hostName.optional(),
      labels: labels.optional(),
    })
    .optional(),
  fleet: z
    .strictObject({
      publish: z.boolean().optional(),
      ring: ringName.optional(),
      after: ringName.optional(),
    })
    .optional(),
  metrics: z
    .strictObject({
      listen: listenAddress.optional(),
      textfile: plain(z.string()).startsWith('/', 'an absolute path').endsWith('.prom', "a file name ending in .prom (node_exporter's textfile collector reads only those)").optional(),
    })
    .optional(),
});

export interface RepoBudget {
  maxBytes: number;
  maxFiles: number;
  maxDepth: number;
}

export interface NotifyConfig {
  /** argv arrays, each run with the pass's JSON on stdin. */
  commands: string[][];
  /** The unprivileged user the commands run as (required with commands). */
  user?: string;
  urls: string[];
  /** The HMAC-SHA256 key of the POSTs (required with urls). */
  secretFile?: string;
  timeoutMs: number;
  on: NotifyOn;
  /** Retries of a POST that failed, with doubling waits. */
  retries: number;
}

export type ConfigFile = z.infer<typeof configFileSchema>;

export interface MoorConfig {
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  userPrefix: string;
  protectedUsers: string[];
  maxRemovals: { percent: number } | { count: number };
  maxFileBytes: number;
  /** Budgets on the whole tree, checked before checkout and while scanning. */
  repoBudget: RepoBudget;
  /** Names (or `prefix*` patterns) no workload user may have, beyond the built-in list. */
  reservedNames: string[];
  stateDir: string;
  transformsDir: string;
  lockPath: string;
  source: { url?: string; bareRepo?: string; branch: string; sshKey?: string };
  schedule: { cron: string; jitterMs: number };
  timeouts: { commandMs: number; fetchMs: number; userManagerMs: number; healthMs: number; stopMs: number; archiveMs: number };
  /** How many workloads a pass applies at once (users are still created one at a time). */
  apply: { parallel: number };
  /** What a removal does with the home: archive it under state_dir/archives first, or delete it. */
  removal: { home: 'archive' | 'purge'; archiveMaxAgeMs: number; archiveMaxBytes: number };
  gc: { keepMin: number; keepMax: number; minAgeMs: number; maxAgeMs: number; maxBytes: number };
  /** Where workload users' uids and subid ranges come from; an unset bound comes from /etc/login.defs. */
  users: IdRangeConfig;
  control: { socket: string; mode: number; webhookSecretFile?: string };
  /** The host policy; unset when the config has no [policy] table (nothing is judged). */
  policy?: Policy;
  /** Signed commits and history-rewrite protection; mode off when no signer is configured. */
  trust: TrustConfig;
  /** The age identity that decrypts the repository's `.age` files (docs/repository.md#secrets). */
  secrets: { identityFile?: string };
  /** Who hears of a pass; unset when the config has no [notify] table or it names no receiver. */
  notify?: NotifyConfig;
  /** Prometheus metrics beyond the control socket's GET /metrics: a TCP listener, a node_exporter textfile; both off unless set. */
  metrics: { listen?: { host: string; port: number }; textfile?: string };
  /**
   * Who this host is in a fleet (docs/fleet.md): its name (default the machine's host name,
   * up to the first dot, lower-cased) and labels.
   */
  host: { name: string; labels: Record<string, string> };
  /**
   * Staged rollout and the fleet view: whether this host pushes its status to
   * `moor-status/<name>`, its ring, and the ring whose healthy commits it waits for.
   */
  fleet: { publish: boolean; ring: string; after?: string };
  /** The files the config was read from, in merge order. */
  files: string[];
}
