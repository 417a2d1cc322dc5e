// Every host operation the pass uses, built once over one command runner so that tests
// can swap the runner for a fake system and see every argv.
import type { MoorConfig } from '../core/config/schema';
import type { Clock, CommandRunner } from '../core/ports';
import { Logind } from '../host/logind';
import { SystemManager, UserManager } from '../host/systemd';
import { defaultSelfCommand, writeUserFiles, type UserFilesRequest } from '../host/user-files';
import { UserAccounts } from '../host/users';
import type { WriteFilesResult } from '../host/write-files-payload';

export interface HostOps {
  users: UserAccounts;
  logind: Logind;
  system: SystemManager;
  userManager: UserManager;
  writeFiles(request: UserFilesRequest): Promise<WriteFilesResult>;
  clock: Clock;
}

export interface HostOpsOptions {
  clock: Clock;
  /** How to run moor again as a workload user (for file writes). */
  selfCommand?: string[];
  /** Reads /etc/login.defs, /etc/subuid and /etc/subgid; a seam for tests. */
  readFile?: (path: string) => Promise<string>;
}

export function createHostOps(runner: CommandRunner, config: MoorConfig, opts: HostOpsOptions): HostOps {
  const t = config.timeouts;
  const sleep = (ms: number) => opts.clock.sleep(ms);
  const selfCommand = opts.selfCommand ?? defaultSelfCommand();
  return {
    users: new UserAccounts(runner, { timeoutMs: t.commandMs, sleep, idRange: config.users, ...(opts.readFile ? { readFile: opts.readFile } : {}) }),
    logind: new Logind(runner, { timeoutMs: t.commandMs }),
    system: new SystemManager(runner, { timeoutMs: t.commandMs, readyTimeoutMs: t.userManagerMs, sleep }),
    userManager: new UserManager(runner, { timeoutMs: t.commandMs, startTimeoutMs: t.healthMs }),
    writeFiles: (request) => writeUserFiles(runner, request, selfCommand, { timeoutMs: t.commandMs }),
    clock: opts.clock,
  };
}
