// systemd, in two scopes: the system manager (a workload's user@UID.service) and each
// workload's user manager. The user manager is reached by running
//   systemctl --user ...
// as the user (host/as-user.ts: a scope of the user's slice, a clean environment), which
// talks to the manager's private socket under /run/user/UID/systemd/. Reading unit states,
// the most frequent question, and daemon-reload and restarts, which a push waits for, go to
// that socket directly over D-Bus (host/user-bus.ts). The shorter
// `systemctl --user -M USER@` needs machined and a user D-Bus session, which minimal hosts
// lack, so it is not used.
import { HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { parseUnitStatuses, UNIT_STATUS_PROPERTIES, type UnitStatus } from '../core/parse/systemctl-show';
import { parseGeneratorMessages } from '../core/parse/journal';
import { unitLogLines, type UnitLogLine } from '../core/unit-log';
import { runAsUser, userSlice, type UserRef } from './as-user';
import { commandError, mustSucceed } from './exec';
import { readUnitJournal } from './journal';
import { UnitJobFailed, UnitJobLost, type UnitJobs, type UnitStateReader } from './user-bus';

export type { UserRef } from './as-user';

export const QUADLET_USER_GENERATOR = '/usr/lib/systemd/user-generators/podman-user-generator';

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function userManagerUnit(uid: number): string {
  return `user@${uid}.service`;
}

export interface SystemManagerOptions {
  timeoutMs?: number;
  /** Bound on confirming that a started user manager is active. */
  readyTimeoutMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class SystemManager {
  private readonly timeoutMs: number;
  private readonly readyTimeoutMs: number;
  private readonly pollMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly runner: CommandRunner,
    options: SystemManagerOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.pollMs = options.pollMs ?? 250;
    this.sleep = options.sleep ?? realSleep;
  }

  /**
   * Starts the user's manager and returns once it is active. `systemctl start` blocks on
   * the start job, so this is the dependency itself; the is-active poll only confirms it,
   * bounded, since a manager can be mid-restart when the job returns.
   */
  async startUserManager(uid: number): Promise<void> {
    const unit = userManagerUnit(uid);
    mustSucceed(await this.runner.run(['systemctl', 'start', unit], { timeoutMs: this.timeoutMs }));
    const attempts = Math.max(1, Math.ceil(this.readyTimeoutMs / this.pollMs));
    let state = 'unknown';
    for (let i = 0; i < attempts; i++) {
      state = await this.isActive(unit);
      if (state === 'active') return;
      if (state === 'failed') break;
      await this.sleep(this.pollMs);
    }
    throw new HostError(`${unit} did not become active after start (state: ${state})`);
  }

  async stopUserManager(uid: number): Promise<void> {
    mustSucceed(await this.runner.run(['systemctl', 'stop', userManagerUnit(uid)], { timeoutMs: this.timeoutMs }));
  }

  /**
   * Stops the user's slice: every unit and scope of the user (a `systemd-run --scope` of
   * moor's, a session) ends. A slice that is not loaded is already stopped.
   */
  async stopUserSlice(uid: number): Promise<void> {
    const result = await this.runner.run(['systemctl', 'stop', userSlice(uid)], { timeoutMs: this.timeoutMs });
    if (result.exitCode === 5 && !result.timedOut) return; // "Unit user-UID.slice not loaded."
    mustSucceed(result);
  }

  /**
   * Each unit's active state word, in one `systemctl is-active` for all of them (one line
   * per unit, in order): a pass asks about every user manager at once.
   */
  async activeStates(units: readonly string[]): Promise<Map<string, string>> {
    if (units.length === 0) return new Map();
    const result = await this.runner.run(['systemctl', 'is-active', ...units], { timeoutMs: this.timeoutMs });
    const states = result.stdout.split('\n').filter((l) => l !== '');
    if (result.timedOut || states.length !== units.length || (result.exitCode !== 0 && result.exitCode !== 3)) throw commandError(result);
    return new Map(units.map((u, i) => [u, states[i]!]));
  }

  /** The unit's active state word; "inactive" and "failed" are answers, not errors. */
  async isActive(unit: string): Promise<string> {
    const result = await this.runner.run(['systemctl', 'is-active', unit], { timeoutMs: this.timeoutMs });
    const state = result.stdout.trim();
    if (result.timedOut || state === '' || (result.exitCode !== 0 && result.exitCode !== 3)) throw commandError(result);
    return state;
  }
}

export interface UserManagerOptions {
  /** Bound for quick verbs (daemon-reload, is-active, show, stop) and journal reads. */
  timeoutMs?: number;
  /** Bound for a blocking start/restart; first starts may pull images. */
  startTimeoutMs?: number;
  generatorPath?: string;
  /**
   * Reads unit states over D-Bus (host/user-bus.ts) where the manager answers; `show`
   * falls back to `systemctl --user show` when it does not. Unset: the command path only.
   */
  bus?: UnitStateReader;
  /**
   * Has the manager reload and restart over D-Bus (host/user-bus.ts), sparing a
   * systemd-run scope and a systemctl process each on a push's way to its restart; a
   * manager that cannot be asked is then asked through systemctl. Unset: the command path only.
   */
  jobs?: UnitJobs;
}

export interface StartOptions {
  timeoutMs?: number;
}

export class UserManager {
  private readonly timeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly generatorPath: string;
  private readonly bus: UnitStateReader | undefined;
  private readonly jobs: UnitJobs | undefined;

  constructor(
    private readonly runner: CommandRunner,
    options: UserManagerOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 300_000;
    this.generatorPath = options.generatorPath ?? QUADLET_USER_GENERATOR;
    this.bus = options.bus;
    this.jobs = options.jobs;
  }

  private systemctl(who: UserRef, args: readonly string[], timeoutMs = this.timeoutMs) {
    return runAsUser(this.runner, who, ['systemctl', '--user', ...args], { timeoutMs });
  }

  /** Re-runs the generators (Quadlet) and reloads unit files. */
  async daemonReload(who: UserRef): Promise<void> {
    // Any failure over D-Bus is answered by systemctl: a second reload changes nothing.
    if (this.jobs && (await this.jobs.reload(who.uid, this.timeoutMs).then(() => true, () => false))) return;
    mustSucceed(await this.systemctl(who, ['daemon-reload']));
  }

  async start(who: UserRef, units: readonly string[], options: StartOptions = {}): Promise<void> {
    await this.job(who, 'start', units, options);
  }

  async restart(who: UserRef, units: readonly string[], options: StartOptions = {}): Promise<void> {
    if (this.jobs && units.length > 0) {
      try {
        await this.jobs.restart(who.uid, units, options.timeoutMs ?? this.startTimeoutMs);
        return;
      } catch (err) {
        // A job that ended badly is the answer; one lost track of may still be running, and
        // asking again would restart twice. Only when no job was queued (no socket, a
        // manager that does not answer) does systemctl ask.
        if (err instanceof UnitJobFailed || err instanceof UnitJobLost) throw new HostError(`restart in the user manager of ${who.user} (uid ${who.uid}): ${err.message}`);
      }
    }
    await this.job(who, 'restart', units, options);
  }

  async stop(who: UserRef, units: readonly string[], options: StartOptions = {}): Promise<void> {
    await this.job(who, 'stop', units, { timeoutMs: this.timeoutMs, ...options });
  }

  /**
   * Enables plain units (timers) from ~/.config/systemd/user. Quadlet-generated units
   * cannot be enabled (systemd refuses generated units); their [Install] section is
   * applied by the generator itself.
   */
  async enable(who: UserRef, units: readonly string[], options: { now?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (units.length === 0) return;
    const args = ['enable', ...(options.now ? ['--now'] : []), ...units];
    mustSucceed(await this.systemctl(who, args, options.timeoutMs ?? (options.now ? this.startTimeoutMs : this.timeoutMs)));
  }

  /** Load/active/sub state, result, invocation and file state of each unit (not-found included). */
  async show(who: UserRef, units: readonly string[], props: readonly string[] = UNIT_STATUS_PROPERTIES): Promise<Map<string, UnitStatus>> {
    if (units.length === 0) return new Map();
    // Id is always asked for, so each block is checked against the unit it is paired with.
    const wanted = props.includes('Id') ? props : ['Id', ...props];
    if (this.bus) {
      // Any failure of the bus (no socket yet, a manager restarting, an answer moor cannot
      // read) is answered by systemctl, whose own failure is then the error.
      const read = await this.bus.show(who.uid, units, wanted).catch(() => undefined);
      if (read) return read;
    }
    const result = mustSucceed(await this.systemctl(who, ['show', '-p', wanted.join(','), ...units]));
    try {
      return parseUnitStatuses(units, result.stdout);
    } catch (e) {
      throw new HostError(`systemctl --user show as ${who.user}: ${(e as Error).message}`);
    }
  }

  /**
   * The unit as the manager has it loaded: its fragment and drop-ins, each after a
   * `# /path` line (for a Quadlet unit, the generator's output). What the policy judges.
   */
  async cat(who: UserRef, unit: string): Promise<string> {
    return mustSucceed(await this.systemctl(who, ['cat', '--', unit])).stdout;
  }

  /**
   * The units' own output (core/unit-log.ts): the newest `entries` journal entries of the
   * user's units, read by root with journald's trusted fields, the noise left out. For
   * error messages: never throws, a journal that cannot be read must not hide the failure
   * being reported.
   */
  async unitOutput(who: UserRef, units: readonly string[], entries = 200): Promise<{ lines: UnitLogLine[] } | { problem: string }> {
    const read = await readUnitJournal(this.runner, { uid: who.uid, units }, entries, this.timeoutMs);
    return 'problem' in read ? read : { lines: unitLogLines(read.entries, units) };
  }

  /**
   * Quadlet's own complaints, to explain a unit that did not load: a generator error only
   * leaves the unit missing after daemon-reload. Runs the user generator in dry-run mode
   * as the user. Never throws.
   */
  async generatorMessages(who: UserRef, file?: string): Promise<string[]> {
    const result = await runAsUser(this.runner, who, [this.generatorPath, '-dryrun'], { timeoutMs: this.timeoutMs });
    if (result.timedOut || (result.exitCode !== 0 && result.exitCode !== 1 && result.stderr.trim() === '')) {
      return [describeFailure('podman-user-generator -dryrun', result)];
    }
    return parseGeneratorMessages(result.stderr, file);
  }

  private async job(who: UserRef, verb: 'start' | 'restart' | 'stop', units: readonly string[], options: StartOptions) {
    if (units.length === 0) return;
    const args = [verb, ...units];
    mustSucceed(await this.systemctl(who, args, options.timeoutMs ?? this.startTimeoutMs));
  }
}

function describeFailure(what: string, result: { exitCode: number | null; stderr: string; timedOut: boolean }): string {
  const why = result.timedOut ? 'timed out' : `exited ${result.exitCode ?? 'by signal'}`;
  const detail = result.stderr.trim().split('\n').slice(-2).join(' | ');
  return `(${what} ${why}${detail ? `: ${detail}` : ''})`;
}
