// Turns the merged file content into the full config with every default filled in.
import { HOST_NAME_PATTERN, type ConfigFile, type MoorConfig, type NotifyConfig } from './schema';
import type { Policy } from '../policy';
import { DEFAULT_REPO_BUDGET } from '../repo-budget';
import { defaultTrustMode } from '../trust';
import { ConfigError } from '../errors';

export const DEFAULT_CONFIG_FILE = '/etc/moor/config.toml';

/** What the config's defaults come from on this machine (read by host/config-load.ts). */
export interface MachineFacts {
  /** The kernel's host name (os.hostname()). */
  hostname?: string;
}

export function resolveConfig(merged: ConfigFile, files: string[], machine: MachineFacts = {}): MoorConfig {
  if (merged.trust?.mode === 'require' && !merged.trust.allowed_signers && !merged.trust.gpg_keyring) {
    // With no signer every commit would be refused: a pass could never deploy anything.
    throw new ConfigError(files.at(-1) ?? DEFAULT_CONFIG_FILE, 'trust.mode = "require" needs trust.allowed_signers or trust.gpg_keyring (no signer would accept any commit)', undefined, 'trust.mode');
  }
  if (merged.fleet?.after !== undefined && merged.fleet.after === (merged.fleet.ring ?? DEFAULT_RING)) {
    // A ring waiting for itself would never take a commit no host of it has taken.
    throw new ConfigError(files.at(-1) ?? DEFAULT_CONFIG_FILE, `fleet.after = "${merged.fleet.after}" names this host's own ring; it must name the ring before it (canary hosts set none)`, undefined, 'fleet.after');
  }
  const stateDir = merged.state_dir ?? '/var/lib/moor';
  return {
    logLevel: merged.log_level ?? 'info',
    userPrefix: merged.user_prefix ?? '',
    protectedUsers: ['root', ...(merged.protected_users ?? []).filter((u) => u !== 'root')],
    maxRemovals: merged.max_removals ?? { percent: 50 },
    maxFileBytes: merged.max_file_bytes ?? 1024 * 1024,
    repoBudget: {
      maxBytes: merged.max_repo_bytes ?? DEFAULT_REPO_BUDGET.maxBytes,
      maxFiles: merged.max_repo_files ?? DEFAULT_REPO_BUDGET.maxFiles,
      maxDepth: merged.max_repo_depth ?? DEFAULT_REPO_BUDGET.maxDepth,
    },
    reservedNames: merged.reserved_names ?? [],
    stateDir,
    transformsDir: merged.transforms_dir ?? '/etc/moor/transforms',
    lockPath: merged.lock_path ?? '/run/moor/lock',
    source: {
      url: merged.source?.url ?? merged.source?.bare_repo,
      bareRepo: merged.source?.bare_repo,
      branch: merged.source?.branch ?? 'main',
      sshKey: merged.source?.ssh_key,
    },
    schedule: { cron: merged.schedule?.cron ?? '*/2 * * * *', jitterMs: merged.schedule?.jitter ?? 30_000 },
    timeouts: {
      commandMs: merged.timeouts?.command ?? 60_000,
      fetchMs: merged.timeouts?.fetch ?? 120_000,
      userManagerMs: merged.timeouts?.user_manager ?? 30_000,
      healthMs: merged.timeouts?.health ?? 300_000,
      stopMs: merged.timeouts?.stop ?? 90_000,
      archiveMs: merged.timeouts?.archive ?? 3_600_000,
    },
    apply: { parallel: merged.apply?.parallel ?? 4, settleMs: merged.apply?.settle ?? 1_000 },
    removal: {
      home: merged.removal?.home ?? 'archive',
      archiveMaxAgeMs: merged.removal?.archive_max_age ?? 90 * 86_400_000,
      archiveMaxBytes: merged.removal?.archive_max_bytes ?? 10 * 1024 ** 3,
    },
    gc: {
      keepMin: merged.gc?.keep_min ?? 3,
      keepMax: merged.gc?.keep_max ?? 10,
      minAgeMs: merged.gc?.min_age ?? 7 * 86_400_000,
      maxAgeMs: merged.gc?.max_age ?? 30 * 86_400_000,
      maxBytes: merged.gc?.max_bytes ?? 1024 ** 3,
    },
    users: {
      ...(merged.users?.uid_min !== undefined ? { uidMin: merged.users.uid_min } : {}),
      ...(merged.users?.uid_max !== undefined ? { uidMax: merged.users.uid_max } : {}),
      ...(merged.users?.subid_min !== undefined ? { subidMin: merged.users.subid_min } : {}),
      ...(merged.users?.subid_max !== undefined ? { subidMax: merged.users.subid_max } : {}),
      subidCount: merged.users?.subid_count ?? 65536,
    },
    control: {
      socket: merged.control?.socket ?? '/run/moor/moor.sock',
      mode: merged.control?.mode ?? 0o600,
      webhookSecretFile: merged.control?.webhook_secret_file,
    },
    ...(merged.policy ? { policy: resolvePolicy(merged.policy) } : {}),
    trust: {
      mode: merged.trust?.mode ?? defaultTrustMode(merged.trust?.allowed_signers, merged.trust?.gpg_keyring),
      ...(merged.trust?.allowed_signers ? { allowedSigners: merged.trust.allowed_signers } : {}),
      ...(merged.trust?.gpg_keyring ? { gpgKeyring: merged.trust.gpg_keyring } : {}),
      allowHistoryRewrite: merged.trust?.allow_history_rewrite ?? false,
    },
    secrets: {
      ...(merged.secrets?.identity_file !== undefined ? { identityFile: merged.secrets.identity_file } : {}),
    },
    ...resolveNotify(merged.notify, files),
    metrics: {
      ...(merged.metrics?.listen !== undefined ? { listen: merged.metrics.listen } : {}),
      ...(merged.metrics?.textfile !== undefined ? { textfile: merged.metrics.textfile } : {}),
    },
    host: { name: merged.host?.name ?? hostNameOf(machine.hostname), labels: merged.host?.labels ?? {} },
    fleet: {
      publish: merged.fleet?.publish ?? false,
      ring: merged.fleet?.ring ?? DEFAULT_RING,
      ...(merged.fleet?.after !== undefined ? { after: merged.fleet.after } : {}),
    },
    files,
  };
}

/** The ring of a host whose config names none. */
export const DEFAULT_RING = 'default';

/**
 * The machine's host name as a fleet name: up to the first dot, lower-cased, anything
 * else a host name cannot hold made "-". An unusable one is "localhost": `host.name`
 * then has to be set for a fleet.
 */
export function hostNameOf(hostname: string | undefined): string {
  const short = (hostname ?? '').split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return HOST_NAME_PATTERN.test(short) ? short : 'localhost';
}

function resolvePolicy(p: NonNullable<ConfigFile['policy']>): Policy {
  return {
    ...(p.images ? { images: p.images } : {}),
    ...(p.ports ? { ports: p.ports } : {}),
    ...(p.host_paths ? { hostPaths: p.host_paths } : {}),
    ...(p.privileged !== undefined ? { privileged: p.privileged } : {}),
    ...(p.capabilities ? { capabilities: p.capabilities.map((c) => c.toUpperCase().replace(/^CAP_/, '')) } : {}),
    ...(p.host_namespaces ? { hostNamespaces: p.host_namespaces } : {}),
    ...(p.devices ? { devices: p.devices } : {}),
    ...(p.pull ? { pull: p.pull } : {}),
    programs: p.programs ?? [],
  };
}

/** [notify]: the receivers and what each needs (checked once the drop-ins are merged, as [trust]). */
function resolveNotify(n: ConfigFile['notify'], files: string[]): { notify?: NotifyConfig } {
  const commands = n?.commands ?? [];
  const urls = n?.urls ?? [];
  if (commands.length === 0 && urls.length === 0) return {};
  const file = files.at(-1) ?? DEFAULT_CONFIG_FILE;
  if (commands.length > 0 && !n?.user) {
    throw new ConfigError(file, 'notify.commands needs notify.user: the unprivileged user the commands run as (never root)', undefined, 'notify.user');
  }
  if (urls.length > 0 && !n?.secret_file) {
    throw new ConfigError(file, 'notify.urls needs notify.secret_file: the key every POST is signed with (X-Moor-Signature-256)', undefined, 'notify.secret_file');
  }
  return {
    notify: {
      commands,
      ...(n?.user ? { user: n.user } : {}),
      urls,
      ...(n?.secret_file ? { secretFile: n.secret_file } : {}),
      timeoutMs: n?.timeout ?? 10_000,
      on: n?.on ?? 'change',
      retries: n?.retries ?? 3,
    },
  };
}

const TABLES = new Set(['source', 'schedule', 'timeouts', 'apply', 'removal', 'gc', 'users', 'control', 'policy', 'trust', 'secrets', 'notify', 'metrics', 'host', 'fleet']);

/** Later files win key by key; the config's tables merge, every other value is replaced. */
export function mergeConfigFiles(files: ConfigFile[]): ConfigFile {
  const out: Record<string, unknown> = {};
  for (const file of files) {
    for (const [key, value] of Object.entries(file)) {
      const prev = out[key];
      out[key] = TABLES.has(key) && prev ? { ...(prev as object), ...(value as object) } : value;
    }
  }
  return out as ConfigFile;
}
