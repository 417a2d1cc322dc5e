// The end-to-end harness: a real systemd host for moor, booted with systemd-nspawn from the
// cached Debian tree (guest-tree.ts). Each guest is a volatile copy-on-write instance
// (`--volatile=overlay`: the tree is the read-only lower layer, every change lands in a
// tmpfs that dies with the guest), so nothing a test does survives it and nothing is left
// on the host to clean up. Commands run inside through nsenter.
//
// Every guest is shut down however the test process ends: shutdown() on the normal path,
// signal and exit handlers on SIGINT/SIGTERM/SIGHUP/exit, and, for a death that runs no
// handler (SIGKILL), nspawn's parent-death signal plus a detached watcher process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmdirSync, rmSync, type Dirent } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { GUEST_MOOR, GUEST_MOOR_CONFIG, GUEST_NODE, TEST_BASE_TRANSFORM, TEST_KUBE_TRANSFORM, withGuestOnlyLines } from './guest-config';
import { ensureGuestTree, assertHostCanRunGuests, GuestUnavailableError, REPO_ROOT, type GuestTree } from './guest-tree';
import { killGroup, runProc } from './host-proc';

export * from './guest-config';
export { ensureGuestTree, hostProblems, debianMirror, treeKey, cacheDir, GuestUnavailableError, REPO_ROOT, type GuestTree } from './guest-tree';

export interface ExecOptions {
  /** Run as this guest user (runuser, with its XDG_RUNTIME_DIR), not as root. */
  user?: string;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Extra environment; the guest command otherwise gets a clean, fixed one. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface ExecResult {
  argv: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** What the tests read of `moor reconcile --once --json`: its items. */
export interface PassItem {
  workload: string;
  action: string;
  result: string;
  error?: string;
}
export interface PassItems {
  exitCode?: number;
  items?: PassItem[];
}

export interface BootOptions {
  /** Unique per boot by default; a fixed name must not be in use. */
  name?: string;
  /** Host path of the bundle bound at /opt/moor/moor.mjs; false to bind none. Default $MOOR_E2E_BUNDLE, else dist/moor.mjs when present. */
  moorBundle?: string | false;
  /** More read-only binds, host path → guest path. */
  bindReadOnly?: Record<string, string>;
  /** Read-write binds, host path → guest path: a directory several guests share (a fleet's repository). */
  bind?: Record<string, string>;
  bootTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface GuestTimings {
  /** Finding (or building) the cached tree. */
  treeMs: number;
  treeBuilt: boolean;
  /** nspawn start until `systemctl is-system-running` says running/degraded. */
  bootMs: number;
  shutdownMs?: number;
}

const GUEST_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
};

const DEFAULT_EXEC_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 30_000;
const PROPAGATE_DIR = '/run/systemd/nspawn/propagate';

let bootCounter = 0;
const liveGuests = new Set<Guest>();
const bootedGuests: Guest[] = [];
/** Every machine name booted by this process, for the no-leftover assertion. */
export const bootedMachineNames: string[] = [];

export class GuestCommandError extends Error {
  override name = 'GuestCommandError';
  constructor(
    readonly guest: string,
    readonly result: ExecResult,
  ) {
    super(`in guest ${guest}: ${describeExec(result)}`);
  }
}

export function describeExec(r: ExecResult): string {
  const how = r.timedOut ? `timed out after ${r.durationMs} ms` : `exit ${r.code}`;
  const tail = (s: string) => s.trimEnd().split('\n').slice(-25).join('\n    ');
  return [`\`${r.argv.join(' ')}\`: ${how}`, r.stdout.trim() && `  stdout:\n    ${tail(r.stdout)}`, r.stderr.trim() && `  stderr:\n    ${tail(r.stderr)}`]
    .filter(Boolean)
    .join('\n');
}

export class Guest {
  /** The guest's own cgroup directories on the host (see guestCgroupDirs); empty when none. */
  cgroupDirs: string[] = [];
  /** The host cgroup directories every command entering the guest joins (see enterCgroupDirs). */
  enterCgroupDirs: string[] = [];
  private shutdownPromise: Promise<void> | undefined;
  private readonly uids = new Map<string, number>();
  private exited = false;
  readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    readonly tree: GuestTree,
    private readonly nspawn: ChildProcess,
    private readonly watcher: ChildProcess,
    private readonly output: () => string,
    readonly timings: GuestTimings,
    /** Host PID of the guest's systemd (PID 1 inside). */
    public pid1 = 0,
    private pidNamespace = '',
  ) {
    this.exitPromise = new Promise<void>((resolve) => {
      if (nspawn.exitCode !== null || nspawn.signalCode !== null) resolve();
      nspawn.once('exit', () => resolve());
    }).then(() => {
      this.exited = true;
    });
  }

  /** Host PID of the systemd-nspawn process. */
  get nspawnPid(): number {
    return this.nspawn.pid ?? 0;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** nspawn's own output (the guest console is passive): for diagnostics. */
  log(): string {
    return this.output();
  }

  /** Records PID 1 once nspawn has started it. */
  attach(pid1: number): void {
    this.pid1 = pid1;
    this.pidNamespace = readlinkSync(`/proc/${pid1}/ns/pid`);
    // The watcher learns which process to SIGKILL should this process die abruptly.
    this.watcher.stdin?.write(`${pid1}\n`);
  }

  /** Runs argv inside the guest; a non-zero exit is returned, not thrown. */
  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (!this.pid1 || this.exited) throw new Error(`guest ${this.name} is not running`);
    let inner = [...argv];
    if (options.user !== undefined) {
      const uid = await this.uid(options.user);
      inner = ['runuser', '-u', options.user, '--', 'env', `XDG_RUNTIME_DIR=/run/user/${uid}`, ...inner];
    }
    const env = Object.entries({ ...GUEST_ENV, ...(options.env ?? {}) }).map(([k, v]) => `${k}=${v}`);
    const full = this.enterArgv([...(options.cwd ? ['-C', options.cwd] : []), ...env, ...inner]);
    const r = await runProc(full, { timeoutMs: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, ...(options.input === undefined ? {} : { input: options.input }) });
    return { argv: [...argv], code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut, durationMs: r.durationMs };
  }

  /**
   * The host argv that runs `/usr/bin/env -i ENV_ARGS...` inside the guest: nsenter into all
   * of its namespaces, from a cgroup inside the guest's own tree (see enterCgroupDirs), where
   * the guest's logind can place the caller. For commands started some other way than exec
   * (an interactive shell).
   */
  enterArgv(envArgs: readonly string[]): string[] {
    const nsenter = ['nsenter', '-t', String(this.pid1), '-a', '--', '/usr/bin/env', '-i', ...envArgs];
    return this.enterCgroupDirs.length === 0 ? nsenter : ['sh', '-c', JOIN_CGROUPS_SCRIPT, 'moor-e2e-join', ...this.enterCgroupDirs, '--', ...nsenter];
  }

  /** exec, throwing a GuestCommandError (argv, exit code, output) unless it exited 0. */
  async run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(argv, options);
    if (r.code !== 0 || r.timedOut) throw new GuestCommandError(this.name, r);
    return r;
  }

  /** exec as a guest user (runuser -u USER -- env XDG_RUNTIME_DIR=/run/user/UID ...). */
  asUser(user: string, argv: readonly string[], options: Omit<ExecOptions, 'user'> = {}): Promise<ExecResult> {
    return this.exec(argv, { ...options, user });
  }

  /** `systemctl --user ARGS` as the user, through its manager's private socket. */
  systemctlUser(user: string, args: readonly string[], options: Omit<ExecOptions, 'user'> = {}): Promise<ExecResult> {
    return this.exec(['systemctl', '--user', ...args], { cwd: '/', ...options, user });
  }

  async uid(user: string): Promise<number> {
    const known = this.uids.get(user);
    if (known !== undefined) return known;
    const r = await this.run(['id', '-u', user]);
    const uid = Number(r.stdout.trim());
    this.uids.set(user, uid);
    return uid;
  }

  /** Forgets cached UIDs (after a user is removed and recreated). */
  forgetUsers(): void {
    this.uids.clear();
  }

  /** Writes a file in the guest (parents created), as root unless `user` is given. */
  async writeFile(path: string, content: string | Buffer, options: { mode?: number; user?: string } = {}): Promise<void> {
    const script = 'umask 022; mkdir -p -- "$(dirname -- "$1")" && cat > "$1"' + (options.mode === undefined ? '' : ' && chmod "$2" "$1"');
    const mode = options.mode === undefined ? [] : [options.mode.toString(8)];
    await this.run(['sh', '-c', script, 'sh', path, ...mode], { input: content, ...(options.user ? { user: options.user, cwd: '/' } : {}) });
  }

  async readFile(path: string, options: { user?: string } = {}): Promise<string> {
    return (await this.run(['cat', '--', path], options.user ? { user: options.user, cwd: '/' } : {})).stdout;
  }

  /** `node /opt/moor/moor.mjs ARGS` as root in the guest. */
  moor(args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.exec([GUEST_NODE, GUEST_MOOR, ...args], { timeoutMs: 600_000, ...options });
  }

  /**
   * `moor reconcile --once --json`: the run, its pass (empty when stdout is no JSON) and
   * the item of one workload.
   */
  async reconcileJson(): Promise<{ run: ExecResult; pass: PassItems; item: (workload: string) => PassItem | undefined }> {
    const run = await this.moor(['reconcile', '--once', '--json']);
    let pass: PassItems = {};
    try {
      pass = JSON.parse(run.stdout) as PassItems;
    } catch {
      // Not a pass (a usage error, a crash): the test asserts on run.
    }
    return { run, pass, item: (w) => pass.items?.find((i) => i.workload === w) };
  }

  /** Creates a bare repository in the guest, HEAD on `branch`. */
  async initBareRepo(path = '/srv/git/desired.git', branch = 'main'): Promise<string> {
    await this.run(['mkdir', '-p', path]);
    await this.run(['git', 'init', '--quiet', '--bare', `--initial-branch=${branch}`, path]);
    return path;
  }

  /**
   * Commits exactly `files` (path in the repo → content; every other file is deleted) in a
   * work tree inside the guest and pushes it to the bare repo. Returns the commit id.
   */
  async pushRepo(files: Record<string, string | Buffer>, options: { bare?: string; branch?: string; message?: string; workTree?: string; signingKey?: string } = {}): Promise<string> {
    const bare = options.bare ?? '/srv/git/desired.git';
    const branch = options.branch ?? 'main';
    const work = options.workTree ?? `${bare.replace(/\.git$/, '')}-work`;
    const git = ['git', '-C', work, '-c', 'user.name=moor e2e', '-c', 'user.email=e2e@moor.invalid'];
    if ((await this.exec(['test', '-d', `${work}/.git`])).code !== 0) {
      await this.run(['git', 'init', '--quiet', `--initial-branch=${branch}`, work]);
      await this.run([...git, 'remote', 'add', 'origin', bare]);
    }
    await this.run(['find', work, '-mindepth', '1', '-maxdepth', '1', '!', '-name', '.git', '-exec', 'rm', '-rf', '{}', '+']);
    for (const [path, content] of Object.entries(files)) {
      if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`pushRepo: bad path ${path}`);
      await this.writeFile(`${work}/${path}`, content);
    }
    await this.run([...git, 'add', '--all']);
    // signingKey: an SSH private key in the guest; the commit is signed with it.
    const sign = options.signingKey ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${options.signingKey}`] : [];
    await this.run([...git, ...sign, 'commit', '--quiet', '--allow-empty', ...(options.signingKey ? ['-S'] : []), '-m', options.message ?? 'desired state']);
    await this.run([...git, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
    return (await this.run([...git, 'rev-parse', 'HEAD'])).stdout.trim();
  }

  /** Writes the test transforms (no container or pod network) into the guest's transforms dir. */
  async installTestTransforms(dir = '/etc/moor/transforms'): Promise<void> {
    await this.writeFile(`${dir}/_base.container`, TEST_BASE_TRANSFORM);
    await this.writeFile(`${dir}/_base.kube`, TEST_KUBE_TRANSFORM);
  }

  /**
   * Copies a host directory of transforms (the shipped `transforms/`, say) into the guest's
   * transforms dir, the guest-only lines appended to its `_base.container` and `_base.kube`
   * (written alone when the directory has none). The host files are never changed.
   */
  async installTransforms(hostDir: string, dir = '/etc/moor/transforms'): Promise<void> {
    const files = readHostTree(hostDir);
    files['_base.container'] = withGuestOnlyLines(files['_base.container'] ?? '');
    files['_base.kube'] = withGuestOnlyLines(files['_base.kube'] ?? '', TEST_KUBE_TRANSFORM);
    for (const [path, content] of Object.entries(files)) await this.writeFile(`${dir}/${path}`, content);
  }

  /** `systemctl --user show UNIT -p NAME...` as the user: the properties asked for, by name. */
  async userUnit(user: string, unit: string, properties: readonly string[]): Promise<Record<string, string>> {
    const r = await this.systemctlUser(user, ['show', unit, ...properties.flatMap((p) => ['-p', p])]);
    if (r.code !== 0) throw new GuestCommandError(this.name, r);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return out;
  }

  /** The journal's current position, to show later only what came after it. */
  async journalCursor(): Promise<string | undefined> {
    const r = await this.exec(['journalctl', '--no-pager', '-n', '1', '--show-cursor', '-o', 'cat']).catch(() => undefined);
    return /^-- cursor: (.+)$/m.exec(r?.stdout ?? '')?.[1];
  }

  /** Journal lines (the whole guest's, or a user's unit), for failure messages; never throws. */
  async journal(options: { unit?: string; user?: string; lines?: number; afterCursor?: string } = {}): Promise<string> {
    const args = [
      'journalctl',
      '--no-pager',
      '-o',
      'short-precise',
      '-n',
      String(options.lines ?? 80),
      ...(options.afterCursor ? [`--after-cursor=${options.afterCursor}`] : []),
      ...(options.user ? ['--user'] : []),
      ...(options.unit ? ['-u', options.unit] : []),
    ];
    const r = await this.exec(args, options.user ? { user: options.user, cwd: '/' } : {}).catch((e: Error) => ({ stdout: '', stderr: e.message }));
    return `${r.stdout}${r.stderr}`;
  }

  /**
   * Halts the guest: SIGTERM to nspawn (the guest shuts down in order), bounded; then
   * SIGKILL to the guest's PID 1 (which kills everything in its PID namespace) and nspawn.
   * Idempotent.
   */
  shutdown(graceMs = STOP_GRACE_MS): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(graceMs);
    return this.shutdownPromise;
  }

  private async doShutdown(graceMs: number): Promise<void> {
    const started = Date.now();
    // This process handles it now: the watcher must not act on PIDs after they are gone.
    if (this.watcher.pid) killGroup(this.watcher.pid, 'SIGKILL');
    if (!this.exited) {
      signal(this.nspawn.pid, 'SIGTERM');
      if (!(await within(this.exitPromise, graceMs))) {
        this.killNow();
        if (!(await within(this.exitPromise, 10_000))) {
          throw new Error(`guest ${this.name}: systemd-nspawn (pid ${this.nspawn.pid}) survived SIGKILL`);
        }
      }
    }
    // A killed nspawn leaves its guest running, reparented to the host's init.
    this.killPid1IfAlive();
    // SIGKILL of a PID namespace's init takes every process in it down, not at once.
    for (const deadline = Date.now() + 10_000; this.initAlive() && Date.now() < deadline; ) await sleep(50);
    rmSync(join(PROPAGATE_DIR, this.name), { recursive: true, force: true });
    removeGuestCgroups(this.name);
    liveGuests.delete(this);
    this.timings.shutdownMs = Date.now() - started;
  }

  /** Synchronous last resort (process exit): SIGKILL the guest and nspawn. */
  killNow(): void {
    this.killPid1IfAlive();
    signal(this.nspawn.pid, 'SIGKILL');
    try {
      rmSync(join(PROPAGATE_DIR, this.name), { recursive: true, force: true });
      removeGuestCgroups(this.name);
    } catch {
      // best effort on the way out
    }
  }

  /** Whether the guest's PID 1 still exists (checked against its PID namespace, not a recycled PID). */
  initAlive(): boolean {
    if (!this.pid1) return false;
    try {
      return readlinkSync(`/proc/${this.pid1}/ns/pid`) === this.pidNamespace && readFileSync(`/proc/${this.pid1}/comm`, 'utf8').trim() === 'systemd';
    } catch {
      return false;
    }
  }

  private killPid1IfAlive(): void {
    if (this.initAlive()) signal(this.pid1, 'SIGKILL');
  }
}

function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `systemd` child of the nspawn process: the guest's PID 1. */
function findGuestInit(nspawnPid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (Number(afterComm[1]) === nspawnPid && comm === 'systemd') return Number(entry);
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}

let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const guest of liveGuests) guest.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      void shutdownAllGuests(20_000).finally(() => {
        process.off(sig, handler);
        process.kill(process.pid, sig);
      });
    };
    process.on(sig, handler);
  }
}

/** Shuts every guest of this process down, in parallel. */
export async function shutdownAllGuests(graceMs = STOP_GRACE_MS): Promise<void> {
  await Promise.allSettled([...liveGuests].map((g) => g.shutdown(graceMs)));
}

/**
 * A script that outlives this process: it reads the guest's PID 1 from its stdin, then
 * waits for EOF — which comes when this process closes the pipe or dies in any way — and
 * stops the guest. The normal shutdown kills the watcher first.
 */
const WATCHER_SCRIPT = `
nspawn=$1 name=$2
read -r init || init=
[ -n "$init" ] && { while read -r _; do :; done; }
kill -TERM "$nspawn" 2>/dev/null
i=0
while kill -0 "$nspawn" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
[ -n "$init" ] && kill -KILL "$init" 2>/dev/null
kill -KILL "$nspawn" 2>/dev/null
rm -rf "${PROPAGATE_DIR}/$name"
i=0
while [ -n "$init" ] && kill -0 "$init" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
shift 2
for dir; do [ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null; done
`;

/**
 * Where a guest's cgroups go on the host: one directory per guest in every hierarchy that
 * nspawn uses without a systemd on the host (the named systemd hierarchy and the unified
 * one of a cgroup v1 host, or the single cgroup v2 tree).
 *
 * Without it, nspawn puts every guest in the same place (`/payload`, beside `/supervisor`),
 * and two guests booted at once (two test runs on one machine) share cgroups: the same
 * `user.slice/user-1000.slice/user@1000.service`, so a guest's systemd waits for processes
 * of the other guest it cannot see (user@.service's 2-minute stop timeout).
 */
function guestCgroupDirs(name: string): string[] {
  const hierarchies = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((h) => existsSync(join(h, 'cgroup.procs')));
  if (hierarchies.length === 0 && existsSync('/sys/fs/cgroup/cgroup.procs')) hierarchies.push('/sys/fs/cgroup');
  return hierarchies.map((h) => join(h, 'moor-e2e', name));
}

/**
 * The cgroups a command entering the guest joins first. The guest runs on the unified
 * hierarchy in a cgroup namespace rooted at nspawn's `payload` directory; a process that
 * nsenter brings in from anywhere else sees its cgroup as `0::/../..`, and the guest's
 * logind refuses it (SetUserLinger: "Protocol driver not attached"). So commands run from
 * a directory of their own below the payload (seen inside as `/moor-e2e-exec`, beside the
 * guest's slices; nothing there is a unit of the guest's systemd). In the named systemd
 * hierarchy of a cgroup v1 host, which the guest does not use, the guest's base directory.
 */
function enterCgroupDirs(cgroupDirs: readonly string[]): string[] {
  return cgroupDirs.map((dir) => (dir.startsWith('/sys/fs/cgroup/systemd/') ? dir : join(dir, 'payload', ENTER_CGROUP)));
}

const ENTER_CGROUP = 'moor-e2e-exec';

/** Removes a halted guest's cgroup directories, deepest first; a busy one stays (best effort). */
function removeGuestCgroups(name: string): void {
  const rmTree = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rmTree(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      // processes left in it, or already gone
    }
  };
  for (const dir of guestCgroupDirs(name)) rmTree(dir);
}

/**
 * Runs before systemd-nspawn, in the process that becomes it (same PID): moves itself into
 * the guest's own cgroup directories, then execs the rest of its arguments.
 */
const ENTER_CGROUPS_SCRIPT = `
while [ "$1" != -- ]; do
  mkdir -p "$1" && echo $$ > "$1/cgroup.procs" || { echo "moor e2e: cannot move into cgroup $1" >&2; exit 97; }
  shift
done
shift
exec "$@"
`;

/**
 * Runs before each command the harness starts in a guest: joins the cgroups of
 * enterCgroupDirs (created on first use), then execs the rest. A cgroup it cannot join
 * fails the command: from anywhere else the guest's logind would refuse it later, with a
 * less helpful message.
 */
const JOIN_CGROUPS_SCRIPT = `
while [ "$1" != -- ]; do
  { mkdir -p "$1" && echo $$ > "$1/cgroup.procs"; } || { echo "moor e2e: cannot join cgroup $1" >&2; exit 97; }
  shift
done
shift
exec "$@"
`;

/**
 * A guest ready for moor: the bundle built by the global setup, moor's config, the test
 * transforms and the bare repo. (Test files only: it reads what the global setup provided.)
 */
export async function bootMoorGuest(config: string | undefined = GUEST_MOOR_CONFIG): Promise<Guest> {
  const setup = inject('e2e');
  if (setup.bundleError) throw new Error(`no moor bundle to test: ${setup.bundleError}`);
  return prepareMoorHost(await bootGuest(), config);
}

/**
 * A test file's one moor guest: booted (bootMoorGuest, with `config` when given, undefined
 * for none) before its tests and handed to `use`, shut down after them (`graceMs`), and
 * then no guest of the run may be left.
 */
export function moorGuestForFile(use: (guest: Guest) => void, options: { config?: string | undefined; graceMs?: number } = {}): void {
  let guest: Guest | undefined;
  beforeAll(async () => {
    guest = 'config' in options ? await bootMoorGuest(options.config) : await bootMoorGuest();
    use(guest);
  });
  afterAll(async () => {
    await guest?.shutdown(options.graceMs);
    expect(await leftoverGuests()).toEqual([]);
  });
}

/**
 * A booted guest made ready for moor as the suite and the guest benchmarks use it: its
 * config (unless undefined), the test transforms, the bare repository it deploys from.
 */
export async function prepareMoorHost(guest: Guest, config: string | undefined = GUEST_MOOR_CONFIG): Promise<Guest> {
  if (config !== undefined) await guest.writeFile('/etc/moor/config.toml', config);
  await guest.installTestTransforms();
  await guest.initBareRepo();
  return guest;
}

export async function bootGuest(options: BootOptions = {}): Promise<Guest> {
  const log = options.log ?? ((m: string) => console.log(m));
  assertHostCanRunGuests();
  const treeStarted = Date.now();
  const tree = await ensureGuestTree(log);
  const treeMs = Date.now() - treeStarted;
  installExitHandlers();

  const name = options.name ?? `moor-e2e-${process.pid}-${++bootCounter}-${Math.random().toString(36).slice(2, 6)}`;
  rmSync(join(PROPAGATE_DIR, name), { recursive: true, force: true });
  const nodeBinary = realpathSync(process.execPath);
  const bundle = options.moorBundle ?? process.env.MOOR_E2E_BUNDLE ?? join(REPO_ROOT, 'dist', 'moor.mjs');
  const binds: string[] = [`--bind-ro=${nodeBinary}:${GUEST_NODE}`];
  if (bundle !== false) {
    if (existsSync(bundle)) binds.push(`--bind-ro=${realpathSync(bundle)}:${GUEST_MOOR}`);
    else if (options.moorBundle !== undefined) throw new GuestUnavailableError(`moor bundle ${bundle} does not exist: run \`npm run build\``);
    // The code each command loads when it runs (build.ts): moor.mjs imports it from chunks/ beside itself.
    const chunks = join(dirname(bundle), 'chunks');
    if (existsSync(chunks)) binds.push(`--bind-ro=${realpathSync(chunks)}:${dirname(GUEST_MOOR)}/chunks`);
    // The writer workload users run, bundled beside moor.mjs (build.ts).
    const writer = join(dirname(bundle), 'write-files.mjs');
    if (existsSync(writer)) binds.push(`--bind-ro=${realpathSync(writer)}:${dirname(GUEST_MOOR)}/write-files.mjs`);
    // The journal's native protocol (host/journal-socket.ts): moor loads the addon from beside moor.mjs.
    const dgram = join(dirname(bundle), 'unix-dgram.node');
    if (existsSync(dgram)) binds.push(`--bind-ro=${realpathSync(dgram)}:${dirname(GUEST_MOOR)}/unix-dgram.node`);
  }
  for (const [host, guest] of Object.entries(options.bindReadOnly ?? {})) binds.push(`--bind-ro=${host}:${guest}`);
  for (const [host, guest] of Object.entries(options.bind ?? {})) binds.push(`--bind=${host}:${guest}`);
  // Rootless Podman's pasta and fuse-overlayfs want these; bound only when the host has them.
  for (const dev of ['/dev/net/tun', '/dev/fuse']) if (existsSync(dev)) binds.push(`--bind=${dev}`);

  const argv = [
    `--directory=${tree.rootfs}`,
    '--volatile=overlay',
    '--boot',
    '--register=no',
    '--keep-unit',
    '--console=passive',
    '--link-journal=no',
    `--machine=${name}`,
    ...binds,
  ];
  const started = Date.now();
  // setpriv execs nspawn (same PID) with a parent-death signal: should this process die
  // abruptly, nspawn gets SIGTERM and halts the guest (the watcher below is the backstop).
  const cgroups = guestCgroupDirs(name);
  const nspawn = spawn('sh', ['-c', ENTER_CGROUPS_SCRIPT, 'moor-e2e-cgroups', ...cgroups, '--', 'setpriv', '--pdeathsig', 'TERM', '--', 'systemd-nspawn', ...argv], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The guest's systemd runs on the unified cgroup v2 hierarchy, as on a current
    // distribution, even where the host keeps its controllers on cgroup v1.
    env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' },
  });
  bootedMachineNames.push(name);
  let output = '';
  const collect = (b: Buffer) => {
    output = (output + b.toString()).slice(-64 * 1024);
  };
  nspawn.stdout?.on('data', collect);
  nspawn.stderr?.on('data', collect);
  nspawn.on('error', (e) => collect(Buffer.from(`spawn systemd-nspawn: ${e.message}\n`)));
  const watcher = spawn('sh', ['-c', WATCHER_SCRIPT, 'moor-e2e-watcher', String(nspawn.pid ?? 0), name, ...cgroups], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watcher.unref();
  // Neither child may keep a finished test process alive.
  nspawn.unref();
  for (const s of [nspawn.stdout, nspawn.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  const timings: GuestTimings = { treeMs, treeBuilt: tree.built, bootMs: 0 };
  const guest = new Guest(name, tree, nspawn, watcher, () => output, timings);
  guest.cgroupDirs = cgroups;
  guest.enterCgroupDirs = enterCgroupDirs(cgroups);
  liveGuests.add(guest);
  bootedGuests.push(guest);
  try {
    await waitForBoot(guest, nspawn.pid ?? 0, options.bootTimeoutMs ?? 90_000);
  } catch (e) {
    const tail = guest.log().trim().split('\n').slice(-30).join('\n    ');
    await guest.shutdown(10_000).catch(() => undefined);
    throw new GuestUnavailableError(`booting the guest failed: ${(e as Error).message}\n  systemd-nspawn ${argv.join(' ')}\n  nspawn output:\n    ${tail}`);
  }
  timings.bootMs = Date.now() - started;
  return guest;
}

async function waitForBoot(guest: Guest, nspawnPid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!guest.pid1) {
    if (!guest.running) throw new Error(`systemd-nspawn exited before the guest's systemd started`);
    if (Date.now() > deadline) throw new Error(`no guest systemd under systemd-nspawn (pid ${nspawnPid}) after ${timeoutMs} ms`);
    const pid1 = findGuestInit(nspawnPid);
    if (pid1) guest.attach(pid1);
    else await sleep(50);
  }
  let state = '';
  while (Date.now() < deadline) {
    if (!guest.running) throw new Error('systemd-nspawn exited during boot');
    const r = await guest.exec(['systemctl', 'is-system-running'], { timeoutMs: 10_000 }).catch(() => undefined);
    state = r?.stdout.trim() ?? '';
    if (state === 'running') return;
    if (state === 'degraded') {
      const failed = await guest.exec(['systemctl', '--failed', '--no-legend', '--plain']);
      console.warn(`e2e: guest ${guest.name} booted degraded; failed units:\n${failed.stdout}`);
      return;
    }
    if (state === 'maintenance' || state === 'stopping') break;
    await sleep(100);
  }
  throw new Error(`systemctl is-system-running says "${state || 'nothing'}" after ${timeoutMs} ms`);
}

/**
 * systemd-nspawn processes (and orphaned guest inits) left from the given machine names:
 * empty after a clean suite.
 */
export async function leftoverGuests(names: readonly string[] = bootedMachineNames): Promise<string[]> {
  if (names.length === 0) return [];
  const r = await runProc(['pgrep', '-a', '-f', 'systemd-nspawn'], { timeoutMs: 10_000 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`pgrep failed: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((line) => names.some((n) => line.includes(`--machine=${n}`) || line.includes(`-M ${n}`)));
  for (const guest of bootedGuests) {
    if (names.includes(guest.name) && guest.initAlive()) lines.push(`${guest.pid1} systemd (PID 1 of guest ${guest.name})`);
  }
  return lines;
}

export { assertHostCanRunGuests };

/**
 * Every regular file below a host directory, path relative to it → content, in the shape
 * pushRepo takes (a `.git` directory is skipped). Symlinks and other special files are an
 * error: what is pushed must be exactly what is on disk.
 */
export function readHostTree(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry === '.git') continue;
      const path = join(dir, entry);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) files[relative(root, path)] = readFileSync(path, 'utf8');
      else throw new Error(`readHostTree: ${path} is neither a file nor a directory`);
    }
  };
  walk(root);
  return files;
}

/** Polls `probe` until it returns a value other than undefined, bounded. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, pollMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}
