// Workload users (docs/design.md §5): created with a GECOS marker and a supplementary group, looked
// up through NSS, removed with their home. Each operation acts first and reads the tool's
// answer, never "check, then act": another process may change the databases in between.
import { readFile } from 'node:fs/promises';
import { CommandError, HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { gecosFullName, parseGroupLine, parsePasswdLine, type PasswdEntry } from '../core/parse/passwd';
import { DEFAULT_UID_MIN, parseUidMin } from '../core/parse/login-defs';
import { commandError, mustSucceed } from './exec';

/** Supplementary group of every moor user; grants nothing, it only marks. */
export const MANAGED_GROUP = 'moor-managed';
/** GECOS comment of every moor user. */
export const MANAGED_MARKER = 'moor-managed';

// Exit codes of getent and shadow-utils that are answers, not failures.
const GETENT_NOT_FOUND = 2;
const EXISTS = 9; // useradd/groupadd: name already in use
const USERDEL_NO_SUCH_USER = 6;
const USERDEL_BUSY = 8; // user logged in / processes still running

export interface UserAccountsOptions {
  timeoutMs?: number;
  /** How often `userdel` is retried while the user is still busy. */
  busyRetries?: number;
  busyRetryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Reads /etc/login.defs (a seam for tests). */
  readFile?: (path: string) => Promise<string>;
  loginDefsPath?: string;
}

export type CreateUserOutcome = { status: 'created' } | { status: 'exists'; message: string };

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
   * Creates a workload user. "exists" means the name (or a group of that name) is taken;
   * the caller must re-read the user and decide whether moor owns it.
   */
  async createUser(name: string): Promise<CreateUserOutcome> {
    const result = await this.runner.run(
      [
        'useradd',
        '--create-home',
        '--user-group',
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
    mustSucceed(result);
    return { status: 'created' };
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
}
