// Shared setup for the reconcile-pass tests: a real git source (a bare repo and a work
// clone that commits and pushes between passes), a FakeSystem host, a clock whose sleep
// advances time at once, a logger that keeps its lines, and a state dir in a temp dir.
// A Timeline threads through the runner and the state store so a test can see every
// host command and state write in order, and can abandon a pass at any one of them.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createHostOps, type HostOps } from '../../daemon/pass/host-ops';
import { runPass, type PassContext, type PassOptions } from '../../daemon/pass/run-pass';
import type { ReadTree } from '../../daemon/pass/desired-source';
import { DesiredCache } from '../../daemon/pass/desired-cache';
import type { PassResult } from '../../daemon/pass/pass-result';
import { PassProfile, profiledRunner, type PassProfileReport } from '../../daemon/pass/profile';
import { mergeConfigFiles, resolveConfig } from '../../daemon/core/config/resolve';
import { fileAtTarget } from '../../daemon/core/deploy-layout';
import type { ConfigFile, MoorConfig } from '../../daemon/core/config/schema';
import type { Clock, CommandResult, CommandRunner, RunOptions } from '../../daemon/core/ports';
import { hasManagedMarker, MANAGED_GROUP } from '../../daemon/host/users';
import { createLogger, type Logger } from '../../daemon/host/log';
import { openStateStore, type StateStore } from '../../daemon/state/store';
import { FakeSystem } from '../fakes/fake-system';

// --- specs ------------------------------------------------------------------------------

/** A long-running container workload. */
export function containerSpec(image = 'localhost/app:1', extra = ''): string {
  return `[Container]\nImage=${image}\n${extra}\n[Install]\nWantedBy=default.target\n`;
}

// --- time ---------------------------------------------------------------------------------

/** Time that moves only when code sleeps: bounded waits run out at once, in order. */
export class FakeClock implements Clock {
  constructor(public ms = Date.now()) {}
  now(): Date {
    return new Date(this.ms);
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

// --- the timeline ---------------------------------------------------------------------

/** A promise that never settles: what a SIGKILL leaves of the code that awaited it. */
export function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

export interface KillPoint {
  /** 1-based index among every step (host command or state write) of the pass. */
  step: number;
  /** Before: the step never happens. After: it happened, its caller never learns so. */
  when: 'before' | 'after';
}

/**
 * Every host command ("run <argv>") and every state-store write ("state <op> <arg>") of
 * a pass, in the order they start. With a kill point, the pass is abandoned there.
 */
export class Timeline {
  readonly events: string[] = [];
  /** How deep each event is nested in another (a store write made by another store write). */
  readonly depths: number[] = [];
  count = 0;
  killed?: string;
  private depth = 0;

  constructor(readonly kill?: KillPoint) {}

  async step<T>(label: string, action: () => Promise<T>): Promise<T> {
    const n = ++this.count;
    this.events.push(label);
    this.depths.push(this.depth);
    if (this.kill?.step === n && this.kill.when === 'before') {
      this.killed = `before ${label}`;
      return never();
    }
    this.depth++;
    let result: T;
    try {
      result = await action();
    } finally {
      this.depth--;
    }
    if (this.kill?.step === n && this.kill.when === 'after') {
      this.killed = `after ${label}`;
      return never();
    }
    return result;
  }

  runs(): string[] {
    return this.events.filter((e) => e.startsWith('run ')).map((e) => e.slice(4));
  }
}

export class TimelineRunner implements CommandRunner {
  constructor(
    private readonly inner: CommandRunner,
    private readonly timeline: Timeline,
  ) {}
  run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    return this.timeline.step(`run ${argv.join(' ')}`, () => this.inner.run(argv, options));
  }
}

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/** Routes the store's writes through the timeline (methods are replaced on the instances). */
export function tapStore(store: StateStore, timeline: Timeline): StateStore {
  const wrap = (owner: object, method: string, label: string, arg: (args: unknown[]) => string = () => '') => {
    const target = owner as Record<string, AnyMethod>;
    const original = target[method]!.bind(owner);
    target[method] = (...args: unknown[]) => timeline.step(`state ${label}${arg(args) ? ` ${arg(args)}` : ''}`, () => original(...args));
  };
  const first = (args: unknown[]) => String(args[0]);
  const workloadOf = (args: unknown[]) => String((args[0] as { workload?: string }).workload);
  wrap(store.generations, 'recoverAborted', 'generations.recoverAborted');
  wrap(store.generations, 'begin', 'generations.begin');
  wrap(store.generations, 'recordApplied', 'generations.recordApplied', (a) => `${String(a[0])} ${String(a[1])}`);
  wrap(store.generations, 'recordStatus', 'generations.recordStatus', first);
  wrap(store.generations, 'finish', 'generations.finish', first);
  wrap(store.generations, 'markComplete', 'generations.markComplete', first);
  wrap(store.applied, 'write', 'applied.write', workloadOf);
  wrap(store.applied, 'delete', 'applied.delete', first);
  wrap(store.ownedUsers, 'recordPending', 'ownedUsers.recordPending', first);
  wrap(store.ownedUsers, 'confirm', 'ownedUsers.confirm', first);
  wrap(store.ownedUsers, 'forget', 'ownedUsers.forget', first);
  wrap(store.ownedUsers, 'withdraw', 'ownedUsers.withdraw', first);
  wrap(store.redeploy, 'clear', 'redeploy.clear', first);
  wrap(store, 'gc', 'gc');
  return store;
}

// --- the harness ---------------------------------------------------------------------------

const GIT_IDENTITY = ['-c', 'user.name=t', '-c', 'user.email=t@e', '-c', 'init.defaultBranch=main', '-c', 'commit.gpgsign=false'];

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...GIT_IDENTITY, ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
  }).trim();
}

/**
 * `DIR/deploy.git`, a bare source repository whose branch main has one commit and no
 * workloads (a pass fetches, finds nothing to do, and records that); its commit.
 */
export function emptySourceRepo(dir: string): { bare: string; commit: string } {
  const bare = join(dir, 'deploy.git');
  const work = join(dir, 'work');
  git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
  git(dir, 'clone', '-q', bare, work);
  git(work, 'checkout', '-q', '-B', 'main');
  writeFileSync(join(work, 'README.md'), 'nothing to deploy\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'empty');
  git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  return { bare, commit: git(work, 'rev-parse', 'HEAD') };
}

export interface HarnessOptions {
  /** Extra config keys (merged over the harness's own). */
  config?: ConfigFile;
  fake?: FakeSystem;
  /**
   * Keep the temp dirs in memory (tmpfs) where the system has one: the state store fsyncs
   * every write, which suites running hundreds of passes would otherwise wait for.
   */
  memoryTmp?: boolean;
  /** Unit states asked over the fake user bus (FakeSystem.userBus), as the real host asks D-Bus. */
  userBus?: boolean;
  /** Passes keep what step 2 read between them, as the daemon's do (pass/desired-cache.ts). */
  desiredCache?: boolean;
}

function isWritableDir(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export interface PassRun {
  result: PassResult;
  timeline: Timeline;
  /** The host commands of this pass alone. */
  calls: string[];
}

export class PassHarness {
  readonly root: string;
  readonly bare: string;
  readonly work: string;
  readonly stateDir: string;
  readonly transformsDir: string;
  readonly lockPath: string;
  config: MoorConfig;
  fake: FakeSystem;
  readonly clock = new FakeClock();
  readonly logs: string[] = [];
  /** The native journal entries of the records in `logs`. */
  readonly entries: Buffer[] = [];
  readonly log: Logger;
  /** Set with the `desiredCache` option: shared by every pass of this harness. */
  readonly desiredCache: DesiredCache<ReadTree> | undefined;
  private readonly userBus: boolean;

  constructor(options: HarnessOptions = {}) {
    this.root = mkdtempSync(join(options.memoryTmp && isWritableDir('/dev/shm') ? '/dev/shm' : tmpdir(), 'moor-pass-'));
    this.bare = join(this.root, 'origin.git');
    this.work = join(this.root, 'work');
    this.stateDir = join(this.root, 'state');
    this.transformsDir = join(this.root, 'transforms');
    this.lockPath = join(this.root, 'run', 'lock');
    mkdirSync(this.transformsDir);
    git(this.root, 'init', '-q', '--bare', '--initial-branch=main', this.bare);
    git(this.root, 'clone', '-q', this.bare, this.work);
    git(this.work, 'checkout', '-q', '-B', 'main');
    this.config = this.makeConfig(options.config ?? {});
    this.fake = options.fake ?? new FakeSystem();
    this.desiredCache = options.desiredCache ? new DesiredCache<ReadTree>() : undefined;
    this.userBus = Boolean(options.userBus);
    // Every record is also encoded as the native journal entry it would be under systemd and
    // kept in `entries`; the send reports failure, so the lines are kept as well.
    this.log = createLogger('debug', { write: (line) => void this.logs.push(line), journal: true, native: (entry) => (this.entries.push(entry), false) });
  }

  makeConfig(extra: ConfigFile): MoorConfig {
    const base: ConfigFile = {
      state_dir: this.stateDir,
      transforms_dir: this.transformsDir,
      lock_path: this.lockPath,
      log_level: 'debug',
      source: { url: this.bare, branch: 'main' },
    };
    return resolveConfig(mergeConfigFiles([base, extra]), []);
  }

  // --- the repository -------------------------------------------------------------------

  /** Writes (or, with null, deletes) files in the work clone; bytes for a binary file (an age ciphertext). */
  files(files: Record<string, string | Uint8Array | null>): this {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      if (content === null) {
        rmSync(full, { force: true });
      } else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    return this;
  }

  /** Removes every tracked file but .git from the work clone. */
  clear(): this {
    for (const path of git(this.work, 'ls-files').split('\n').filter(Boolean)) unlinkSync(join(this.work, path));
    return this;
  }

  /** Commits whatever the work clone holds and pushes it; returns the commit. */
  push(message = 'update', branch = 'main'): string {
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '-q', '--allow-empty', '-m', message);
    git(this.work, 'push', '-q', '--force', 'origin', `HEAD:refs/heads/${branch}`);
    return git(this.work, 'rev-parse', 'HEAD');
  }

  /**
   * Pushes `content` as status.json to the branch moor-status/<host> of the bare repo, as
   * anyone with push access could: a status document no host of the fleet wrote.
   */
  pushStatusBranch(host: string, content: string): void {
    const scratch = join(this.root, 'status-scratch');
    if (!existsSync(scratch)) git(this.root, 'init', '-q', scratch);
    writeFileSync(join(scratch, 'status.json'), content);
    git(scratch, 'add', '-A');
    git(scratch, '-c', 'user.name=someone', '-c', 'user.email=someone@example.invalid', 'commit', '-q', '--allow-empty', '-m', `status of ${host}`);
    git(scratch, 'push', '-q', '--force', this.bare, `HEAD:refs/heads/moor-status/${host}`);
  }

  /** Sets the repo to exactly these files, commits and pushes. */
  commit(files: Record<string, string | Uint8Array>, message = 'update', branch = 'main'): string {
    return this.clear().files(files).push(message, branch);
  }

  // --- passes ---------------------------------------------------------------------------

  /** The state store as a fresh process opens it. */
  openStore(): Promise<StateStore> {
    return openStateStore(this.stateDir, { clock: this.clock });
  }

  host(runner: CommandRunner, config = this.config): HostOps {
    return createHostOps(runner, config, {
      clock: this.clock,
      selfCommand: ['moor'],
      readFile: this.fake.readFile,
      pathKind: this.fake.pathKind,
      ...(this.userBus ? { userBus: this.fake.userBus() } : {}),
    });
  }

  private daemonParts(): Pick<PassContext, 'desiredCache'> {
    return this.desiredCache ? { desiredCache: this.desiredCache } : {};
  }

  /** One pass over a freshly opened store, every step on `timeline`. */
  async pass(opts: PassOptions = {}, timeline = new Timeline(), config = this.config): Promise<PassRun> {
    const before = this.fake.calls.length;
    const store = tapStore(await this.openStore(), timeline);
    const result = await runPass({ config, host: this.host(new TimelineRunner(this.fake, timeline), config), store, log: this.log, ...this.daemonParts() }, opts);
    return { result, timeline, calls: this.fake.callLines().slice(before) };
  }

  /** One pass as `moor reconcile --once --profile` runs it: every span and host command timed. */
  async profiledPass(opts: PassOptions = {}): Promise<PassRun & { profile: PassProfileReport }> {
    const before = this.fake.calls.length;
    const timeline = new Timeline();
    const profile = new PassProfile(this.log);
    const runner = profiledRunner(new TimelineRunner(this.fake, timeline), profile);
    const result = await runPass({ config: this.config, host: this.host(runner), store: await this.openStore(), log: this.log, profile, ...this.daemonParts() }, opts);
    return { result, timeline, calls: this.fake.callLines().slice(before), profile: profile.report() };
  }

  /**
   * Starts a pass that is abandoned at `kill` (as a SIGKILL leaves it). Resolves once the
   * pass has hung there, or with its result if it ended before reaching that step.
   */
  async abandonedPass(kill: KillPoint, opts: PassOptions = {}, config = this.config): Promise<{ timeline: Timeline; finished?: PassResult; error?: unknown }> {
    const timeline = new Timeline(kill);
    const store = tapStore(await this.openStore(), timeline);
    const running = runPass({ config, host: this.host(new TimelineRunner(this.fake, timeline), config), store, log: this.log, ...this.daemonParts() }, opts);
    let settled: { finished?: PassResult; error?: unknown } | undefined;
    running.then(
      (finished) => (settled = { finished }),
      (error: unknown) => (settled = { error }),
    );
    // The pass runs on real I/O (git, state files): wait until it hangs or ends.
    for (let idle = 0; !settled && !timeline.killed; idle++) {
      await new Promise((resolve) => setTimeout(resolve, idle < 100 ? 1 : 10));
      if (idle > 20_000) throw new Error('the abandoned pass neither hung nor ended');
    }
    return { timeline, ...(settled ?? {}) };
  }

  /** A fresh host and an empty state dir over the same repository, for one more run of a scenario. */
  resetHost(fake = new FakeSystem()): void {
    this.fake = fake;
    this.logs.length = 0;
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  // --- inspection -------------------------------------------------------------------------

  /** Log lines whose message starts with "<workload>: " (the per-item lines). */
  itemLines(workload?: string): string[] {
    return this.logs.filter((l) => /^<\d>[a-z_][a-z0-9_-]*: \S+ (ok|failed)/.test(l) && (!workload || l.includes(`workload=${workload} `)));
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

// --- convergence ------------------------------------------------------------------------------

export interface DesiredHost {
  /** workload → its user's units that must be active. */
  workloads: Record<string, string[]>;
}

/**
 * What "converged" means after a pass: every desired workload's user exists with the marker,
 * in the managed group, lingering, its manager running and its gated units active; no other
 * moor-marked user is left; the applied records match the desired hashes (when given) and
 * name exactly the desired workloads. Returns the differences, empty when converged.
 */
export async function convergenceProblems(h: PassHarness, desired: DesiredHost, hashes?: Record<string, string>): Promise<string[]> {
  const problems: string[] = [];
  const fake = h.fake;
  const wanted = Object.keys(desired.workloads);
  for (const [workload, units] of Object.entries(desired.workloads)) {
    const user = fake.passwd.get(workload);
    if (!user) {
      problems.push(`user ${workload} missing`);
      continue;
    }
    if (!hasManagedMarker(user)) problems.push(`user ${workload} lacks the marker`);
    if (!fake.groups.get(MANAGED_GROUP)?.members.includes(workload)) problems.push(`user ${workload} not in ${MANAGED_GROUP}`);
    if (!fake.linger.has(workload)) problems.push(`user ${workload} not lingering`);
    if (!fake.managers.has(user.uid)) problems.push(`user@${user.uid}.service of ${workload} not running`);
    for (const unit of units) {
      const state = fake.unit(workload, unit);
      if (state?.loadState !== 'loaded' || state.activeState !== 'active') {
        problems.push(`${workload}/${unit} is ${state ? `${state.loadState}/${state.activeState}` : 'absent'}`);
      }
    }
  }
  for (const user of fake.passwd.values()) {
    if (hasManagedMarker(user) && !wanted.includes(user.name)) problems.push(`moor user ${user.name} left behind`);
  }
  // What removed users ran or left outside their homes is gone too.
  const kept = new Set([0, ...wanted.map((w) => fake.passwd.get(w)?.uid)]);
  for (const [pid, p] of fake.processes) if (!kept.has(p.ruid)) problems.push(`process ${pid} of uid ${p.ruid} left behind`);
  for (const [path, f] of fake.hostFiles) if (!kept.has(f.uid)) problems.push(`${path} of uid ${f.uid} left behind`);
  const store = await h.openStore();
  const applied = await store.applied.list();
  const names = applied.map((a) => a.workload).sort();
  if (names.join(',') !== [...wanted].sort().join(',')) problems.push(`applied records ${names.join(',')} ≠ desired ${wanted.join(',')}`);
  for (const record of applied) {
    if (hashes?.[record.workload] !== undefined && hashes[record.workload] !== record.hash) problems.push(`applied hash of ${record.workload} is stale`);
    const files = fake.userFiles(record.user);
    for (const target of Object.keys(record.hashes)) {
      // A secret is recorded under a target but is no file: it is in the user's Podman store.
      if (fileAtTarget(target)?.kind === 'secret') continue;
      if (!files.has(`.config/${target}`)) problems.push(`${record.user}: ~/.config/${target} missing`);
    }
  }
  const owned = (await store.ownedUsers.list()).filter((e) => e.state === 'created').map((e) => e.name);
  for (const name of wanted) if (!owned.includes(name)) problems.push(`registry does not record ${name} as created`);
  for (const name of owned) if (!wanted.includes(name)) problems.push(`registry still owns ${name}`);
  return problems;
}

// --- a pass killed at one step ----------------------------------------------------------------

export interface KillCase {
  /** Host and state as the killed pass finds them (a fresh host and state dir are set up first). */
  setup(h: PassHarness): Promise<void>;
  /** The config of the killed pass and of the one after it. */
  config?: MoorConfig;
  /** What the host must run once the pass after the kill is done. */
  desired: DesiredHost;
  /** Desired content hashes, by workload. */
  hashes: Record<string, string>;
}

/**
 * Every distinct point at which the case's pass can be killed: before each of its steps
 * (host commands and state writes, from a reference run nothing kills), and after those
 * steps where that differs.
 */
export async function killPoints(h: PassHarness, c: KillCase): Promise<{ events: string[]; points: (KillPoint & { event: string })[] }> {
  h.resetHost();
  await c.setup(h);
  const { timeline, result } = await h.pass({}, new Timeline(), c.config);
  if (result.exitCode !== 0) throw new Error(`the reference pass failed: ${result.summary}`);
  const { events, depths } = timeline;
  const points: (KillPoint & { event: string })[] = events.map((event, i) => ({ step: i + 1, when: 'before' as const, event }));
  // "After step N" leaves the same host and state as "before step N+1" when nothing runs
  // between them; something does when N+1 is nested in N (a store write made inside
  // another) or N was the last write nested in one (its parent goes on after it), and
  // after the very last step.
  events.forEach((event, i) => {
    if (i === events.length - 1 || depths[i + 1] !== depths[i]) points.push({ step: i + 1, when: 'after', event });
  });
  return { events, points };
}

/**
 * Runs the case's pass until it is abandoned at `kill`, then a normal pass over the same
 * host and state dir (a new process: the store is opened again), and says how the result
 * differs from convergence. Empty means converged.
 */
export async function killAndRecover(h: PassHarness, c: KillCase, kill: KillPoint): Promise<string[]> {
  h.resetHost();
  await c.setup(h);
  const before = await generationIds(h);
  const abandoned = await h.abandonedPass(kill, {}, c.config);
  if (!abandoned.timeline.killed) return [`the pass ended before step ${kill.step}: ${String(abandoned.error ?? abandoned.finished?.summary)}`];
  const begun = (await generationIds(h)).filter((id) => !before.includes(id));

  const recovery = await h.pass({}, new Timeline(), c.config);
  const problems = await convergenceProblems(h, c.desired, c.hashes);
  const where = abandoned.timeline.killed;
  if (recovery.result.exitCode !== 0) problems.push(`the pass after the kill exited ${recovery.result.exitCode}: ${recovery.result.summary} ${recovery.result.items.map((i) => i.error ?? '').join(' ')}`);

  const store = await h.openStore();
  const current = await store.generations.current();
  const newestComplete = (await store.generations.list()).filter((g) => g.state === 'complete').at(-1)?.id;
  if (recovery.result.generation !== undefined) {
    const info = await store.generations.info(recovery.result.generation);
    if (info?.state !== 'complete') problems.push(`the last pass's generation ${recovery.result.generation} is ${info?.state}`);
  } else if (recovery.result.items.some((i) => i.action !== 'unchanged')) {
    problems.push('the last pass changed something without a generation');
  }
  if (current !== newestComplete) problems.push(`current is ${current}, the newest complete generation is ${newestComplete}`);
  for (const id of begun) {
    const info = await store.generations.info(id);
    if (!info) continue; // deleted by GC, as aborted generations are
    // Only a pass that got as far as recording its finished, all-ok status may be completed
    // by the recovery; anything else is aborted.
    const finishedOk = info.status?.finishedAt !== undefined && info.status.items.every((i) => i.result === 'ok');
    if (info.state !== 'aborted' && !(info.state === 'complete' && finishedOk)) problems.push(`abandoned generation ${id} is ${info.state}`);
  }

  // What the killed pass had fully done is not done again.
  const done = abandoned.timeline.events.slice(0, kill.when === 'before' ? kill.step - 1 : kill.step);
  for (const event of done) {
    const applied = /^state applied\.write (\S+)$/.exec(event)?.[1];
    if (applied && recovery.calls.some((call) => call.includes(` --uid=${applied} `) && / (re)?start |__write-files/.test(call))) {
      problems.push(`${applied} was applied by the killed pass and applied again`);
    }
    const removed = /^state applied\.delete (\S+)$/.exec(event)?.[1];
    if (removed && recovery.calls.some((call) => call.includes(removed))) problems.push(`${removed} was removed by the killed pass and touched again`);
  }
  return problems.map((p) => `killed ${where} (step ${kill.step}): ${p}`);
}

async function generationIds(h: PassHarness): Promise<number[]> {
  return (await (await h.openStore()).generations.list()).map((g) => g.id);
}

/**
 * The argv line of a command moor runs as a workload user: systemd-run, a scope of the
 * user's slice, the runtime dir and user bus, then the command.
 */
export function asUserLine(user: string, uid: number, command: string): string {
  return `systemd-run --scope --quiet --collect --slice=user-${uid}.slice --uid=${user} --setenv=XDG_RUNTIME_DIR=/run/user/${uid} --setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${uid}/bus -- ${command}`;
}

/** "systemd-run --scope ... --uid=web ... -- systemctl --user show -p ... x" → "as web(1000): systemctl --user show x" */
export function normLine(line: string): string {
  return line
    .replace(/^systemd-run --scope --quiet --collect --slice=user-(\d+)\.slice --uid=(\S+) --setenv=XDG_RUNTIME_DIR=\/run\/user\/\1 --setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=\/run\/user\/\1\/bus -- /, 'as $2($1): ')
    .replace(/ show -p \S+/, ' show');
}
