// The host's system manager and its users' managers, as a pass drives them and as
// `moor status` reads them. Built here for both, so that a command that only reads units
// loads these and not every host operation of a pass (host-ops.ts: users, homes, images,
// secrets...).
import type { MoorConfig } from '../core/config/schema';
import type { Clock, CommandRunner } from '../core/ports';
import { ExecaRunner } from '../host/exec';
import { SystemManager, UserManager } from '../host/systemd';
import { UserBus, type UnitJobs, type UnitStateReader } from '../host/user-bus';

export interface Managers {
  system: SystemManager;
  userManager: UserManager;
}

/**
 * A manager answers over D-Bus in milliseconds; one that does not within this is asked
 * through systemctl instead, under the full command bound.
 */
const USER_BUS_TIMEOUT_MS = 10_000;

export function createManagers(runner: CommandRunner, config: MoorConfig, opts: { clock: Clock; userBus?: UnitStateReader; userJobs?: UnitJobs }): Managers {
  const t = config.timeouts;
  return {
    system: new SystemManager(runner, { timeoutMs: t.commandMs, readyTimeoutMs: t.userManagerMs, sleep: (ms: number) => opts.clock.sleep(ms) }),
    userManager: new UserManager(runner, { timeoutMs: t.commandMs, startTimeoutMs: t.healthMs, ...(opts.userBus ? { bus: opts.userBus } : {}), ...(opts.userJobs ? { jobs: opts.userJobs } : {}) }),
  };
}

/** This host's user bus, each question bounded. */
export function realUserBus(config: MoorConfig): UserBus {
  return new UserBus({ timeoutMs: Math.min(config.timeouts.commandMs, USER_BUS_TIMEOUT_MS) });
}

/** This host's managers for reading: real commands, and unit states over D-Bus (no jobs: `moor status` changes nothing). */
export function realManagers(config: MoorConfig, clock: Clock, runner: CommandRunner = new ExecaRunner()): Managers {
  return createManagers(runner, config, { clock, userBus: realUserBus(config) });
}
