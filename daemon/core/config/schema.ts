// The config file's shape (docs/design.md §11). Every table is strict: an unknown key is an
// error, never silently ignored, because a misspelt safety setting must not fall back
// to its default unnoticed. Every key is optional in a file; defaults fill the rest.
// zod's mini API: `moor status` and every other command read the config at start, and
// the classic API is another 100 KB to load and compile first. The issues, and so the
// errors, are the same: classic's methods are these same checks.
import * as z from 'zod/mini';
import '../zod-english';
import { DURATION_PATTERN, parseDuration } from './duration';
import { USER_NAME_CHARS, USER_NAME_PATTERN } from '../user-name';
import type { IdRangeConfig } from '../id-allocation';
import type { Policy } from '../policy';
import { NAMESPACES, PULL_POLICIES } from '../policy-values';
import { TRUST_MODES, type TrustConfig } from '../trust';
import { NOTIFY_ON, type NotifyOn } from '../notify-policy';

const ABSOLUTE = 'an absolute path';
const absolutePath = () => z.string().check(z.startsWith('/', ABSOLUTE));

const duration = z.pipe(
  z.string().check(z.regex(DURATION_PATTERN, 'a duration like "30s", "5m", "2h" or "7d"')),
  z.transform((s: string) => parseDuration(s)!),
);

const userName = z.string().check(z.regex(USER_NAME_PATTERN, `a user name (${USER_NAME_CHARS})`));

const fileMode = z.pipe(
  z.string().check(z.regex(/^0?[0-7]{3}$/, 'an octal file mode like "0600"')),
  z.transform((s: string) => parseInt(s, 8)),
);

// A source value reaches git's argv, its config files and the ssh command line: a newline
// there could add git config of the attacker's choosing (run as root).
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const plainCheck = () => z.regex(NO_CONTROL, 'must not contain a newline or any other control character');
const plain = (schema: z.ZodMiniString<string>) => schema.check(plainCheck());

// `[metrics] listen`: "127.0.0.1:9561", "[::1]:9561" or "localhost:9561" → where to bind.
const listenAddress = z
  .pipe(
    z.string().check(z.regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'an address and port like "127.0.0.1:9561" or "[::1]:9561"')),
    z.transform((s: string) => {
      const colon = s.lastIndexOf(':');
      return { host: s.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(colon + 1)) };
    }),
  )
  .check(z.refine((a) => a.port >= 1 && a.port <= 65535, 'a port from 1 to 65535'));

// A reserved name: a user name, or a prefix of one followed by "*".
const reservedName = z.string().check(z.regex(new RegExp(`^${USER_NAME_CHARS}\\*?$`), `a user name (${USER_NAME_CHARS}), or a prefix of one followed by "*"`));

const maxRemovals = z.union([
  z.pipe(
    z.string().check(z.regex(/^\d{1,3}%$/, 'a percentage like "50%" or a count')),
    z.transform((s: string) => ({ percent: Number(s.slice(0, -1)) })),
  ),
  z.pipe(
    z.int().check(z.nonnegative()),
    z.transform((n: number) => ({ count: n })),
  ),
]);

// A host port, or a range "8000-8099", as [first, last].
const portRange = z.union([
  z.pipe(
    z.int().check(z.minimum(1), z.maximum(65535)),
    z.transform((n: number): [number, number] => [n, n]),
  ),
  z
    .pipe(
      z.string().check(z.regex(/^\d{1,5}(-\d{1,5})?$/, 'a port or a range like "8000-8099"')),
      z.transform((s: string): [number, number] => {
        const [a, b = a] = s.split('-').map(Number) as [number, number?];
        return [a, b];
      }),
    )
    .check(z.refine(([a, b]) => a >= 1 && a <= b && b <= 65535, 'a range of ports between 1 and 65535, first <= last')),
]);

// The host policy (docs/policy.md): every rule optional; an unset rule is not enforced.
const policyTable = z.strictObject({
  images: z.optional(z.array(z.string().check(z.minLength(1)))),
  ports: z.optional(z.array(portRange)),
  host_paths: z.optional(z.array(z.string().check(z.regex(/^(\/|%h(\/|$))/, 'an absolute path, or one under %h')))),
  privileged: z.optional(z.boolean()),
  capabilities: z.optional(z.array(z.string().check(z.regex(/^(CAP_)?[A-Za-z_]+$/, 'a capability name like "NET_BIND_SERVICE"')))),
  host_namespaces: z.optional(z.array(z.enum(NAMESPACES))),
  devices: z.optional(z.array(z.string().check(z.minLength(1)))),
  pull: z.optional(z.array(z.enum(PULL_POLICIES))),
  programs: z.optional(z.array(absolutePath())),
});

/** The most workloads a pass may apply at once: past a few, the user managers' start-ups only compete for the CPU. */
export const MAX_PARALLEL_APPLIES = 32;

// Who may sign what a host deploys (docs/configuration.md [trust]). The paths reach git's
// `-c` options, so they are plain too. That require names a signer is checked once the
// drop-ins are merged (resolve.ts): one file may set the mode, another the signers.
const trustTable = z.strictObject({
  mode: z.optional(z.enum(TRUST_MODES)),
  allowed_signers: z.optional(plain(absolutePath())),
  gpg_keyring: z.optional(plain(absolutePath())),
  allow_history_rewrite: z.optional(z.boolean()),
});

// Where a pass is announced (docs/configuration.md [notify]). The commands run as `user`,
// never root: a name that is root here is refused at load, a user whose uid is 0 when it is
// looked up (at the daemon's start and at each send). A URL is http or https only.
const notifyTable = z.strictObject({
  commands: z.optional(z.array(z.array(plain(z.string().check(z.minLength(1)))).check(z.minLength(1, 'an argv array like ["/usr/local/bin/page", "--team", "ops"]')))),
  user: z.optional(userName.check(z.refine((u) => u !== 'root', 'an unprivileged user: notify commands never run as root'))),
  urls: z.optional(z.array(plain(z.string().check(z.regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL'))))),
  secret_file: z.optional(plain(absolutePath())),
  timeout: z.optional(duration),
  on: z.optional(z.enum(NOTIFY_ON)),
  retries: z.optional(z.int().check(z.minimum(0), z.maximum(10))),
});

import { HOST_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from './host-names';
export { HOST_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from './host-names';
const hostName = z.string().check(z.regex(HOST_NAME_PATTERN, 'a host name: lower-case letters, digits and "-", at most 63 characters'));
const labels = z.record(z.string(), z.string().check(z.regex(LABEL_VALUE_PATTERN, 'a label value: letters, digits and _ . : @ / + - (no spaces), at most 128 characters'))).check(
  z.superRefine((record, ctx) => {
    // Checked here rather than as the record's key schema, whose own message names no rule.
    for (const key of Object.keys(record)) {
      if (!LABEL_KEY_PATTERN.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'a label key: lower-case letters, digits, "_", "." and "-"' });
    }
  }),
);
const ringName = z.string().check(z.regex(HOST_NAME_PATTERN, 'a ring name: lower-case letters, digits and "-"'));

const positiveInt = () => z.int().check(z.positive());
const nonnegativeInt = () => z.int().check(z.nonnegative());

export const configFileSchema = z.strictObject({
  log_level: z.optional(z.enum(['debug', 'info', 'warn', 'error'])),
  user_prefix: z.optional(z.string().check(z.regex(new RegExp(`${USER_NAME_PATTERN.source}|^$`), 'empty or a user-name prefix'), z.maxLength(16))),
  protected_users: z.optional(z.array(userName)),
  max_removals: z.optional(maxRemovals),
  max_file_bytes: z.optional(positiveInt()),
  max_repo_bytes: z.optional(positiveInt()),
  max_repo_files: z.optional(positiveInt()),
  max_repo_depth: z.optional(positiveInt()),
  reserved_names: z.optional(z.array(reservedName)),
  state_dir: z.optional(absolutePath()),
  transforms_dir: z.optional(absolutePath()),
  lock_path: z.optional(absolutePath()),
  source: z.optional(
    z.strictObject({
      url: z.optional(plain(z.string().check(z.minLength(1)))),
      bare_repo: z.optional(plain(absolutePath())),
      branch: z.optional(plain(z.string().check(z.minLength(1)))),
      ssh_key: z.optional(plain(absolutePath())),
    }),
  ),
  schedule: z.optional(
    z.strictObject({
      cron: z.optional(z.string().check(z.minLength(1))),
      jitter: z.optional(duration),
    }),
  ),
  timeouts: z.optional(
    z.strictObject({
      command: z.optional(duration),
      fetch: z.optional(duration),
      user_manager: z.optional(duration),
      health: z.optional(duration),
      stop: z.optional(duration),
      archive: z.optional(duration),
    }),
  ),
  apply: z.optional(
    z.strictObject({
      parallel: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_PARALLEL_APPLIES))),
      settle: z.optional(duration),
    }),
  ),
  removal: z.optional(
    z.strictObject({
      home: z.optional(z.enum(['archive', 'purge'])),
      archive_max_age: z.optional(duration),
      archive_max_bytes: z.optional(nonnegativeInt()),
    }),
  ),
  gc: z.optional(
    z.strictObject({
      keep_min: z.optional(nonnegativeInt()),
      keep_max: z.optional(positiveInt()),
      min_age: z.optional(duration),
      max_age: z.optional(duration),
      max_bytes: z.optional(positiveInt()),
    }),
  ),
  users: z.optional(
    z.strictObject({
      uid_min: z.optional(positiveInt()),
      uid_max: z.optional(positiveInt()),
      subid_min: z.optional(positiveInt()),
      subid_max: z.optional(positiveInt()),
      subid_count: z.optional(positiveInt()),
    }),
  ),
  control: z.optional(
    z.strictObject({
      socket: z.optional(absolutePath()),
      mode: z.optional(fileMode),
      webhook_secret_file: z.optional(absolutePath()),
    }),
  ),
  policy: z.optional(policyTable),
  trust: z.optional(trustTable),
  secrets: z.optional(
    z.strictObject({
      identity_file: z.optional(z.string().check(plainCheck(), z.startsWith('/', ABSOLUTE))),
    }),
  ),
  notify: z.optional(notifyTable),
  host: z.optional(
    z.strictObject({
      name: z.optional(hostName),
      labels: z.optional(labels),
    }),
  ),
  fleet: z.optional(
    z.strictObject({
      publish: z.optional(z.boolean()),
      ring: z.optional(ringName),
      after: z.optional(ringName),
    }),
  ),
  metrics: z.optional(
    z.strictObject({
      listen: z.optional(listenAddress),
      textfile: z.optional(
        z.string().check(plainCheck(), z.startsWith('/', ABSOLUTE), z.endsWith('.prom', "a file name ending in .prom (node_exporter's textfile collector reads only those)")),
      ),
    }),
  ),
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

export type ConfigFile = z.output<typeof configFileSchema>;

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
  /** settleMs: how long a started unit must stay up before its health gate passes. */
  apply: { parallel: number; settleMs: number };
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
