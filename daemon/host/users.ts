// Workload users (docs/design.md §5): created with a GECOS marker and a supplementary group, a
// uid and subordinate-id range moor chose, looked up through NSS, removed with their home.
// Each operation acts first and reads the tool's answer, never "check, then act": another
// process may change the databases in between.
import { readFile } from 'node:fs/promises';
import { formatRange, resolveIdPolicy, type Allocation, type IdPolicy, type IdRangeConfig, type SubidRange } from '../core/id-allocation';
import { CommandError, HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { gecosFullName, parseGroupLine, parsePasswd, parsePasswdLine, type PasswdEntry } from '../core/parse/passwd';
import { DEFAULT_UID_MIN, LOGIN_DEFS_DEFAULTS, parseLoginDefs, parseUidMin, type LoginDefs } from '../core/parse/login-defs';
import { parseSubidFile, type SubidEntry } from '../core/parse/subid';
import { commandError, mustSucceed } from './exec';

/** Supplementary group of every moor user; grants nothing, it only marks. */
export const MANAGED_GROUP = 'moor-managed';
/** GECOS comment of every moor user. */
export const MANAGED_MARKER = 'moor-managed';

// Exit codes of getent and shadow-utils that are answers, not failures.
const GETENT_NOT_FOUND = 2;
const EXISTS = 9; // useradd/groupadd: name already in use
const UID_IN_USE = 4; // useradd --uid: "UID N is not unique"
const USERDEL_NO_SUCH_USER = 6;
const USERDEL_BUSY = 8; // user logged in / processes still running
/** Keys per `getent passwd` of lookupUsers: far below any argv limit. */
const LOOKUP_BATCH = 256;

export interface UserAccountsOptions {
  timeoutMs?: number;
  /** How often `userdel` is retried while the user is still busy. */
  busyRetries?: number;
  busyRetryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Reads /etc/login.defs (a seam for tests). */
  readFile?: (path: string) => Promise<string>;
  loginDefsPath?: string;
  subuidPath?: string;
  subgidPath?: string;
  /** Config `[users]`: the bounds of the uids and ranges moor hands out. */
  idRange?: IdRangeConfig;
}

export type CreateUserOutcome =
  | { status: 'created' }
  | { status: 'exists'; message: string }
  /** The name is free but another user holds the uid: try the next one. */
  | { status: 'uid-taken'; message: string };

/** Every range of /etc/subuid and of /etc/subgid. */
export interface SubidFiles {
  subuid: SubidEntry[];
  subgid: SubidEntry[];
}

export function hasManagedMarker(entry: PasswdEntry): boolean {
  return gecosFullName(entry.gecos) === MANAGED_MARKER;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class UserAccounts {
  private readonly timeoutMs: number;
  private readonly busyRetries: number;
  private readonly busyRetryDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly readFile: (path: string) => Promise<string>;
  private readonly loginDefsPath: string;
  private readonly subuidPath: string;
  private readonly subgidPath: string;
  private readonly idRange: IdRangeConfig;
  private readonly groupsSeen = new Set<string>();

  constructor(
    private readonly runner: CommandRunner,
    options: UserAccountsOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.busyRetries = options.busyRetries ?? 10;
    this.busyRetryDelayMs = options.busyRetryDelayMs ?? 1_000;
    this.sleep = options.sleep ?? realSleep;
    this.readFile = options.readFile ?? ((p) => readFile(p, 'utf8'));
    this.loginDefsPath = options.loginDefsPath ?? '/etc/login.defs';
    this.subuidPath = options.subuidPath ?? '/etc/subuid';
    this.subgidPath = options.subgidPath ?? '/etc/subgid';
    this.idRange = options.idRange ?? { subidCount: 65536 };
  }

  /** Every uid NSS lists (`getent passwd`), for the allocator to skip. */
  async listUids(): Promise<number[]> {
    const result = await this.runner.run(['getent', 'passwd'], { timeoutMs: this.timeoutMs });
    mustSucceed(result);
    return parsePasswd(result.stdout).map((e) => e.uid);
  }

  /** The NSS entry of a user, or null when there is none. */
  async lookupUser(name: string): Promise<PasswdEntry | null> {
    const result = await this.runner.run(['getent', 'passwd', name], { timeoutMs: this.timeoutMs });
    if (result.exitCode === GETENT_NOT_FOUND && !result.timedOut) return null;
    mustSucceed(result);
    const line = result.stdout.split('\n').find((l) => l.trim() !== '');
    if (line === undefined) throw new HostError(`getent passwd ${name} succeeded without output`);
    const entry = parsePasswdLine(line);
    // getent also resolves numeric keys as UIDs; only an exact name match is this user.
    if (entry.name !== name) throw new HostError(`getent passwd ${name} answered for user ${entry.name}`);
    return entry;
  }

  /**
   * The NSS entries of many users at once, by name: `getent passwd NAME...` answers every
   * key in one process (exit 2 when some are missing). A pass looks up every workload's
   * user; one process per user cost more than everything else the pass does when nothing
   * changed.
   */
  async lookupUsers(names: readonly string[]): Promise<Map<string, PasswdEntry>> {
    const found = new Map<string, PasswdEntry>();
    const wanted = [...new Set(names)];
    for (let i = 0; i < wanted.length; i += LOOKUP_BATCH) {
      const batch = wanted.slice(i, i + LOOKUP_BATCH);
      const result = await this.runner.run(['getent', 'passwd', ...batch], { timeoutMs: this.timeoutMs });
      if (!(result.exitCode === GETENT_NOT_FOUND && !result.timedOut)) mustSucceed(result);
      // getent also resolves numeric keys as UIDs; only an exact name match is a user asked for.
      const asked = new Set(batch);
      for (const line of result.stdout.split('\n')) {
        if (line.trim() === '') continue;
        const entry = parsePasswdLine(line);
        if (asked.has(entry.name)) found.set(entry.name, entry);
      }
    }
    return found;
  }

  /** Whether NSS knows a group of this name (`getent group`). */
  async groupExists(name: string): Promise<boolean> {
    const result = await this.runner.run(['getent', 'group', name], { timeoutMs: this.timeoutMs });
    if (result.exitCode === GETENT_NOT_FOUND && !result.timedOut) return false;
    mustSucceed(result);
    // getent also resolves numeric keys as GIDs; only an exact name match is this group.
    return result.stdout.split('\n').some((l) => l.split(':')[0] === name);
  }

  /** Creates a system group unless it exists. */
  async ensureGroup(name: string): Promise<'created' | 'exists'> {
    // Asked before every user this object creates: one lookup is enough.
    if (this.groupsSeen.has(name)) return 'exists';
    const outcome = await this.lookupOrAddGroup(name);
    this.groupsSeen.add(name);
    return outcome;
  }

  private async lookupOrAddGroup(name: string): Promise<'created' | 'exists'> {
    const lookup = await this.runner.run(['getent', 'group', name], { timeoutMs: this.timeoutMs });
    if (lookup.exitCode === 0) return 'exists';
    if (lookup.exitCode !== GETENT_NOT_FOUND || lookup.timedOut) throw commandError(lookup);
    const add = await this.runner.run(['groupadd', '--system', name], { timeoutMs: this.timeoutMs });
    // Another process created it between our lookup and groupadd: the outcome we wanted.
    if (add.exitCode === EXISTS && !add.timedOut) return 'exists';
    mustSucceed(add);
    return 'created';
  }

  /**
   * Creates a workload user with the uid moor chose, and no subordinate ids (useradd
   * would pick a range itself: `addSubids` adds moor's). "exists" means the name (or a
   * group of that name) is taken; the caller must re-read the user and decide whether
   * moor owns it. "uid-taken" means the uid is held by another user.
   */
  async createUser(name: string, ids: Pick<Allocation, 'uid'>): Promise<CreateUserOutcome> {
    const result = await this.runner.run(
      [
        'useradd',
        '--create-home',
        '--user-group',
        '--uid',
        String(ids.uid),
        '-K',
        'SUB_UID_COUNT=0',
        '-K',
        'SUB_GID_COUNT=0',
        '--comment',
        MANAGED_MARKER,
        '--groups',
        MANAGED_GROUP,
        '--shell',
        '/usr/sbin/nologin',
        name,
      ],
      { timeoutMs: this.timeoutMs },
    );
    if (result.exitCode === EXISTS && !result.timedOut) {
      return { status: 'exists', message: result.stderr.trim() || `user ${name} already exists` };
    }
    if (result.exitCode === UID_IN_USE && !result.timedOut) {
      return { status: 'uid-taken', message: result.stderr.trim() || `uid ${ids.uid} is not unique` };
    }
    mustSucceed(result);
    return { status: 'created' };
  }

  /**
   * Gives a user a range as subuids, subgids or both (usermod does not look at other users'
   * ranges: the caller chose one clear of them). Adding a range it already has changes nothing.
   */
  async addSubids(name: string, range: SubidRange, to: { subuid: boolean; subgid: boolean } = { subuid: true, subgid: true }): Promise<void> {
    const flags = [...(to.subuid ? ['--add-subuids', formatRange(range)] : []), ...(to.subgid ? ['--add-subgids', formatRange(range)] : [])];
    if (flags.length === 0) return;
    const result = await this.runner.run(['usermod', ...flags, name], { timeoutMs: this.timeoutMs });
    if (result.exitCode === 0) return;
    const error = commandError(result);
    if (/does not exist, you cannot use the flags/.test(result.stderr)) {
      throw new HostError(`${error.message}; create empty /etc/subuid and /etc/subgid (rootless Podman needs them)`);
    }
    throw error;
  }

  /** The ranges of /etc/subuid and /etc/subgid; a missing file has none. */
  async subidFiles(): Promise<SubidFiles> {
    return { subuid: parseSubidFile(await this.readOptional(this.subuidPath)), subgid: parseSubidFile(await this.readOptional(this.subgidPath)) };
  }

  /**
   * Deletes a user and its home. A user whose processes are still exiting (after
   * terminate-user) makes userdel answer "busy"; that is retried a bounded number of times.
   */
  async removeUser(name: string): Promise<'removed' | 'absent'> {
    const argv = ['userdel', '--remove', name];
    for (let attempt = 0; ; attempt++) {
      const result = await this.runner.run(argv, { timeoutMs: this.timeoutMs });
      if (!result.timedOut) {
        if (result.exitCode === 0) return 'removed';
        if (result.exitCode === USERDEL_NO_SUCH_USER) return 'absent';
        if (result.exitCode === USERDEL_BUSY && attempt < this.busyRetries) {
          await this.sleep(this.busyRetryDelayMs);
          continue;
        }
      }
      throw new CommandError(result.argv, result.exitCode, result.stdout, result.stderr, result.durationMs, result.timedOut);
    }
  }

  /** UID_MIN from /etc/login.defs; users below it are never removed. */
  async uidMin(): Promise<number> {
    try {
      return parseUidMin(await this.readFile(this.loginDefsPath));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_UID_MIN;
      throw e;
    }
  }

  /** The uid and subordinate-id bounds of /etc/login.defs (shadow-utils defaults when absent). */
  async loginDefs(): Promise<LoginDefs> {
    try {
      return parseLoginDefs(await this.readFile(this.loginDefsPath));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...LOGIN_DEFS_DEFAULTS };
      throw e;
    }
  }

  /** The bounds moor hands uids and ranges out of: config `[users]` over login.defs. */
  async idPolicy(): Promise<IdPolicy> {
    return resolveIdPolicy(this.idRange, await this.loginDefs());
  }

  private async readOptional(path: string): Promise<string> {
    try {
      return await this.readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw e;
    }
  }
}
