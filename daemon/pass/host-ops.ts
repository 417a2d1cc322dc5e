// Every host operation the pass uses, built once over one command runner so that tests
// can swap the runner for a fake system and see every argv.
import type { MoorConfig } from '../core/config/schema';
import type { Clock, CommandRunner } from '../core/ports';
import { archiveHome, restoreHome, type ArchiveHomeRequest } from '../host/home-archive';
import { loadImageArchive } from '../host/image-load';
import { Leftovers, type PathKindOf } from '../host/leftovers';
import { lingerFlagSet, Logind } from '../host/logind';
import { pauseProcessRuns, preparePodmanUserNamespace, type NamespaceProbe } from '../host/podman-userns';
import { applyPrerequisites } from '../host/preflight';
import type { SystemManager, UserManager } from '../host/systemd';
import { defaultSelfCommand, writeUserFiles, type UserFilesRequest } from '../host/user-files';
import { UserAccounts } from '../host/users';
import { PodmanSecrets } from '../host/secrets';
import type { UserRef } from '../host/as-user';
import type { WriteFilesResult } from '../host/write-files-payload';
import { ExecaRunner } from '../host/exec';
import type { UnitJobs, UnitStateReader } from '../host/user-bus';
import { createManagers, realUserBus } from './managers';

export interface HostOps {
  users: UserAccounts;
  logind: Logind;
  system: SystemManager;
  userManager: UserManager;
  writeFiles(request: UserFilesRequest): Promise<WriteFilesResult>;
  /** The user's rootless Podman user namespace (and pause process) exists once this returns. */
  preparePodmanUserNamespace(who: UserRef): Promise<void>;
  /** Processes and files of a removed user outside its manager and home. */
  leftovers: Leftovers;
  archiveHome(request: ArchiveHomeRequest): Promise<'archived' | 'no-home'>;
  restoreHome(who: UserRef, archive: string, home: string): Promise<void>;
  /** What applying needs of the host and is missing (Podman, its Quadlet generator), in words. */
  applyPrerequisites(): Promise<string[]>;
  /** `podman load` of an archive as the user, its stdin the archive; the names loaded. */
  loadImage(who: UserRef, archive: string): Promise<string[]>;
  /** A workload's secrets: decrypted with the host's age identity, given to the user's Podman on stdin. */
  secrets: PodmanSecrets;
  clock: Clock;
}

export interface HostOpsOptions {
  clock: Clock;
  /** How to run moor again as a workload user (for file writes). */
  selfCommand?: string[];
  /** Reads /etc/login.defs, /etc/subuid and /etc/subgid; a seam for tests. */
  readFile?: (path: string) => Promise<string>;
  /** What a path is, not following a symlink; a seam for tests. */
  pathKind?: PathKindOf;
  /** Reads user units' states over D-Bus; the real host's (realHostOps) has one, a fake host none. */
  userBus?: UnitStateReader;
  /** Has user managers reload and restart over D-Bus; the real host's has one, a fake host none. */
  userJobs?: UnitJobs;
  /** Tells a user's Podman namespace that exists already (no `podman unshare` then); the real host's has one. */
  podmanNamespace?: NamespaceProbe;
  /** Tells a user that lingers already (no `loginctl enable-linger` then); the real host's has one. */
  lingering?: (user: string) => Promise<boolean>;
}

/** The host operations of this machine: real commands, and unit states over D-Bus. */
export function realHostOps(config: MoorConfig, clock: Clock, runner: CommandRunner = new ExecaRunner()): HostOps {
  const bus = realUserBus(config);
  return createHostOps(runner, config, {
    clock,
    userBus: bus,
    userJobs: bus,
    podmanNamespace: (uid) => pauseProcessRuns(uid),
    lingering: (user) => lingerFlagSet(user),
  });
}

export function createHostOps(runner: CommandRunner, config: MoorConfig, opts: HostOpsOptions): HostOps {
  const t = config.timeouts;
  const sleep = (ms: number) => opts.clock.sleep(ms);
  const selfCommand = opts.selfCommand ?? defaultSelfCommand();
  return {
    users: new UserAccounts(runner, { timeoutMs: t.commandMs, sleep, idRange: config.users, ...(opts.readFile ? { readFile: opts.readFile } : {}) }),
    logind: new Logind(runner, { timeoutMs: t.commandMs, ...(opts.lingering ? { lingering: opts.lingering } : {}) }),
    ...createManagers(runner, config, opts),
    writeFiles: (request) => writeUserFiles(runner, request, selfCommand, { timeoutMs: t.commandMs }),
    preparePodmanUserNamespace: (who) => preparePodmanUserNamespace(runner, who, { timeoutMs: t.commandMs, ...(opts.podmanNamespace ? { exists: opts.podmanNamespace } : {}) }),
    leftovers: new Leftovers(runner, opts.clock, {
      timeoutMs: t.commandMs,
      ...(opts.readFile ? { readFile: opts.readFile } : {}),
      ...(opts.pathKind ? { pathKind: opts.pathKind } : {}),
    }),
    archiveHome: (request) => archiveHome(runner, request, opts.pathKind),
    restoreHome: (who, archive, home) => restoreHome(runner, who, archive, home, t.archiveMs),
    applyPrerequisites: () => applyPrerequisites(runner, t.commandMs),
    loadImage: (who, archive) => loadImageArchive(runner, who, archive, t.archiveMs),
    secrets: new PodmanSecrets(runner, {
      timeoutMs: t.commandMs,
      ...(config.secrets.identityFile !== undefined ? { identityFile: config.secrets.identityFile } : {}),
    }),
    clock: opts.clock,
  };
}
