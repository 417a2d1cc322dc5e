// logind: linger keeps a workload's user manager running without a login session.
import { lstat } from 'node:fs/promises';
import { HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { commandError, mustSucceed } from './exec';

// logind's answer for a user it has no record of ("User ID 1001 is not logged in or
// lingering."), and loginctl's for a name NSS does not know.
const NOT_KNOWN_TO_LOGIND = /not logged in|no such user|failed to look up user/i;

export interface LogindOptions {
  timeoutMs?: number;
  /**
   * Whether logind has the user's linger flag already (a seam: the fake host has none, so
   * every enable runs loginctl). Unset: loginctl every time.
   */
  lingering?: (user: string) => Promise<boolean>;
}

/**
 * logind's own record of linger: a file per user in a directory only root writes. Read
 * instead of running loginctl on every apply (20-30 ms before the restart a push waits for).
 */
export const LINGER_DIR = '/var/lib/systemd/linger';

export async function lingerFlagSet(user: string, dir = LINGER_DIR): Promise<boolean> {
  return lstat(`${dir}/${user}`).then(
    (s) => s.isFile(),
    () => false,
  );
}

export class Logind {
  private readonly timeoutMs: number;
  private readonly lingering: ((user: string) => Promise<boolean>) | undefined;

  constructor(
    private readonly runner: CommandRunner,
    options: LogindOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.lingering = options.lingering;
  }

  /**
   * Idempotent; logind also starts user@UID.service, which startUserManager then waits for.
   * A user that lingers already is left alone.
   */
  async enableLinger(user: string): Promise<void> {
    if (this.lingering && (await this.lingering(user))) return;
    mustSucceed(await this.runner.run(['loginctl', 'enable-linger', user], { timeoutMs: this.timeoutMs }));
  }

  async disableLinger(user: string): Promise<void> {
    mustSucceed(await this.runner.run(['loginctl', 'disable-linger', user], { timeoutMs: this.timeoutMs }));
  }

  /** Ends every session and process of the user; a user with none is not an error. */
  async terminateUser(user: string): Promise<'terminated' | 'not-logged-in'> {
    const result = await this.runner.run(['loginctl', 'terminate-user', user], { timeoutMs: this.timeoutMs });
    if (result.exitCode === 0 && !result.timedOut) return 'terminated';
    if (result.exitCode === 1 && NOT_KNOWN_TO_LOGIND.test(result.stderr)) return 'not-logged-in';
    throw commandError(result);
  }
}
