// logind: linger keeps a workload's user manager running without a login session.
import { HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { commandError, mustSucceed } from './exec';

// logind's answer for a user it has no record of ("User ID 1001 is not logged in or
// lingering."), and loginctl's for a name NSS does not know.
const NOT_KNOWN_TO_LOGIND = /not logged in|no such user|failed to look up user/i;

export interface LogindOptions {
  timeoutMs?: number;
}

export class Logind {
  private readonly timeoutMs: number;

  constructor(
    private readonly runner: CommandRunner,
    options: LogindOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Idempotent; logind also starts user@UID.service, which startUserManager then waits for. */
  async enableLinger(user: string): Promise<void> {
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
