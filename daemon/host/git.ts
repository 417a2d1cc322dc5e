// The desired-state checkout (docs/design.md §6 step 2): made identical to the branch tip of the
// remote on every sync, whatever happened to it before (force-pushes, stray files, a clone
// killed half-way).
import { access, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { simpleGit, CheckRepoActions, type SimpleGit } from 'simple-git';
import type { RepoBudget } from '../core/config/schema';
import { SourceError, ValidationError } from '../core/errors';
import { BudgetTally, PATH_MAX } from '../core/repo-budget';
import type { Problem } from '../core/problem';
import { ExecaRunner, runStreaming } from './exec';
import { displayBytes } from './hostile-files';

export interface SyncRepoOptions {
  url: string;
  branch: string;
  /** The checkout; created when missing. Never a directory holding anything else. */
  dir: string;
  /** Private key for ssh URLs. */
  sshKey?: string;
  /** Hard bound on each git command. */
  timeoutMs: number;
  /** The fetched tree is measured against this before anything is checked out. */
  budget?: RepoBudget;
  /**
   * Judges the fetched tip before anything is checked out, and throws to refuse it: the
   * checkout then stays at the commit it held (the trust check, host/commit-trust.ts).
   */
  vetTip?: (commit: string) => Promise<void>;
  /** Also fetch the fleet's status branches (`moor-status/*`) into `STATUS_REFS` (fleet.after). */
  statusBranches?: boolean;
  /**
   * The commit to check out, chosen from the fetched tip (the ring rule); the tip itself
   * without it. The budget and vetTip judge this commit, not the tip.
   */
  pickTarget?: (tip: string) => Promise<string>;
  /**
   * The commit this process last checked out and read in full, with the same config: when
   * the target is that commit, the checkout is not touched (no checkout, reset, clean or
   * budget measure; the caller does not read the tree). The fetch, the ring rule and
   * vetTip still run. Set only while the checkout directory is this process's own.
   */
  reuse?: string;
}

/** Where the fleet's status branches are fetched to, in the checkout and in moor's own git dirs. */
export const STATUS_REFS = 'refs/moor-status/';
/** The fleet's status branches in the source repository. */
export const STATUS_BRANCHES = 'refs/heads/moor-status/';

export interface SyncResult {
  commit: string;
  /** The checked-out commit differs from the one before the sync (always true for a fresh clone). */
  changed: boolean;
  /** False when the target was `reuse`: the working tree was left as it was, unread. */
  checkedOut: boolean;
}

// GIT_SSH_COMMAND is run by a shell, so the key path is quoted for one.
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

// A fixed environment rather than ours: no stray GIT_DIR, editor, askpass or pager can
// reach git, and messages are in the C locale. Proxy settings pass for https sources.
const PASSED_ENV = /^(PATH|HOME|TMPDIR|SSH_AUTH_SOCK|(https?|all|no)_proxy|(HTTPS?|ALL|NO)_PROXY)$/;

export function gitEnv(sshKey: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && PASSED_ENV.test(k)) env[k] = v;
  env.LC_ALL = 'C';
  // Never wait for a password or host-key prompt nobody can answer.
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_SSH_COMMAND =
    sshKey === undefined ? 'ssh -o BatchMode=yes' : `ssh -i ${shellQuote(sshKey)} -o IdentitiesOnly=yes -o BatchMode=yes`;
  return env;
}

function openGit(dir: string, options: Pick<SyncRepoOptions, 'timeoutMs' | 'sshKey'>, globalConfig?: string): SimpleGit {
  // Not resetting the timer on output turns simple-git's inactivity timeout into a hard bound.
  return simpleGit({
    baseDir: dir,
    timeout: { block: options.timeoutMs, stdOut: false, stdErr: false },
    // simple-git refuses GIT_SSH_COMMAND and GIT_CONFIG_GLOBAL unless told; both are built
    // here, not taken from input.
    unsafe: { allowUnsafeSshCommand: true, allowUnsafeConfigPaths: true },
  }).env({ ...gitEnv(options.sshKey), ...(globalConfig ? { GIT_CONFIG_GLOBAL: globalConfig } : {}) });
}

/**
 * A bare repo on this host is usually owned by a git user, and root fetching from it
 * trips git's "dubious ownership" check. git (2.39) honours `safe.directory` only in
 * system or global config, not from `-c`, so moor points GIT_CONFIG_GLOBAL at a file of
 * its own that includes root's usual ~/.gitconfig and trusts exactly the configured path.
 */
export async function trustLocalSource(options: Pick<SyncRepoOptions, 'url' | 'dir'>): Promise<string | undefined> {
  if (!options.url.startsWith('/')) return undefined;
  const file = join(dirname(options.dir), '.git-global.config');
  // Without HOME (a system service) there is no ~/.gitconfig to include, and git would
  // refuse to expand the ~.
  const include = process.env.HOME ? '[include]\n\tpath = ~/.gitconfig\n' : '';
  await writeFile(file, `${include}[safe]\n\tdirectory = ${options.url}\n`, { mode: 0o600 });
  return file;
}

/** Time a fetch killed at its bound gets to end before SIGKILL. */
const FETCH_KILL_GRACE_MS = 2_000;

/**
 * The fetch (and ls-remote after a missing ref) are the git commands that talk to the
 * network. simple-git's bound sends
 * SIGINT to git alone, and a remote helper (git-remote-http, ssh) that keeps the output
 * open keeps the fetch pending: a server that accepts and never answers held a pass far
 * past timeouts.fetch. Run through ExecaRunner instead, git and every helper it started
 * are one process group, killed together at the bound.
 */
export async function networkGit(dir: string, args: string[], options: Pick<SyncRepoOptions, 'sshKey' | 'timeoutMs'>, globalConfig: string | undefined): Promise<string> {
  const env = { ...gitEnv(options.sshKey), ...(globalConfig ? { GIT_CONFIG_GLOBAL: globalConfig } : {}) };
  const result = await new ExecaRunner({ killGraceMs: FETCH_KILL_GRACE_MS }).run(['git', ...args], { timeoutMs: options.timeoutMs, cwd: dir, env });
  if (result.timedOut) throw new Error(`no answer within timeouts.fetch (${options.timeoutMs} ms): stopped`);
  if (result.exitCode !== 0) throw new Error(result.stderr.trim() || `exit ${result.exitCode ?? 'by signal'}`);
  return result.stdout;
}

/**
 * A git command on the checkout alone (no network), for those that print nothing: simple-git
 * waits 50 ms after any command without output before it reports it done, which was a
 * quarter of a pass that changes one of 500 workloads (`git clean` prints nothing).
 */
export async function localGit(dir: string, args: string[], options: Pick<SyncRepoOptions, 'sshKey' | 'timeoutMs'>): Promise<string> {
  const result = await new ExecaRunner().run(['git', ...args], { timeoutMs: options.timeoutMs, cwd: dir, env: gitEnv(options.sshKey) });
  if (result.timedOut) throw new Error(`no answer within ${options.timeoutMs} ms: stopped`);
  if (result.exitCode !== 0) throw new Error(result.stderr.trim() || `exit ${result.exitCode ?? 'by signal'}`);
  return result.stdout;
}

export async function gitStep<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    // git's messages span lines; the pass reports one line per failure.
    const message = (e instanceof Error ? e.message : String(e))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .join('; ');
    throw new SourceError(`git ${what} failed: ${message}`);
  }
}

async function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    if (!(await stat(dir)).isDirectory()) return false;
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

async function isRepoRoot(dir: string, options: SyncRepoOptions): Promise<boolean> {
  try {
    await stat(join(dir, '.git'));
  } catch {
    return false;
  }
  return gitStep('rev-parse', () => openGit(dir, options).checkIsRepo(CheckRepoActions.IS_REPO_ROOT));
}

/**
 * Clones or fetches, then force-checks-out origin/<branch> and removes every untracked and
 * ignored file. A new repository is initialised and fetched rather than cloned, so a sync
 * killed half-way leaves a repository the next sync simply fetches into.
 */
export async function syncRepo(options: SyncRepoOptions): Promise<SyncResult> {
  refuseControlCharacters(options);
  const { url, branch, dir } = options;
  const remoteRef = `refs/remotes/origin/${branch}`;
  let before: string | null = null;

  if (options.reuse !== undefined && (await pathExists(join(dir, '.git')))) {
    // This process set the checkout up with this config: its remote is the configured one.
    before = options.reuse;
  } else if (await isRepoRoot(dir, options)) {
    const git = openGit(dir, options);
    before = await git.revparse(['--verify', '--quiet', 'HEAD^{commit}']).then(
      (c) => c.trim() || null,
      () => null,
    );
    const remotes = await gitStep('remote', () => git.getRemotes(true));
    const origin = remotes.find((r) => r.name === 'origin');
    if (!origin) await gitStep('remote add', () => git.addRemote('origin', url));
    // The configured URL wins over whatever the checkout was cloned from.
    else if (origin.refs.fetch !== url) await gitStep('remote set-url', () => git.remote(['set-url', 'origin', url]));
  } else {
    // `git clean -ffdx` below would wipe whatever else lives in a misconfigured directory.
    if (!(await isEmptyOrMissing(dir))) {
      throw new SourceError(`${dir} exists, is not empty and is not a git checkout; refusing to use it`);
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const git = openGit(dir, options);
    await gitStep('init', () => git.init());
    await gitStep('remote add', () => git.addRemote('origin', url));
  }

  const globalConfig = await trustLocalSource(options);
  const git = openGit(dir, options, globalConfig);
  // '+' accepts a rewritten history (force-push): the remote is the truth. Status branches
  // a host deleted are pruned, so a host gone from the fleet stops counting.
  const refspecs = [`+refs/heads/${branch}:${remoteRef}`, ...(options.statusBranches ? [`+${STATUS_BRANCHES}*:${STATUS_REFS}*`] : [])];
  const prune = options.statusBranches ? ['--prune'] : [];
  await gitStep(`fetch ${branch}`, () => networkGit(dir, ['fetch', '--force', '--no-tags', ...prune, 'origin', ...refspecs], options, globalConfig)).catch(
    async (err: unknown) => {
      throw (await missingBranch(() => networkGit(dir, ['ls-remote', 'origin'], options, globalConfig), branch, err)) ?? err;
    },
  );
  const tip = (await gitStep('rev-parse', () => git.revparse(['--verify', `${remoteRef}^{commit}`]))).trim();
  const target = options.pickTarget ? await options.pickTarget(tip) : tip;
  if (options.reuse !== undefined && target === options.reuse) {
    if (options.vetTip) await options.vetTip(target);
    return { commit: target, changed: false, checkedOut: false };
  }
  if (options.budget) {
    const over = await measureTree(dir, target, options.budget, options);
    if (over) throw new ValidationError([over]);
  }
  if (options.vetTip) await options.vetTip(target);
  const commit = await checkoutCommit(options, branch, target);
  return { commit, changed: commit !== before, checkedOut: true };
}

/**
 * Makes the working tree exactly `target`: branch reset to it, every untracked and ignored
 * file removed. For a checkout `syncRepo` left untouched (`reuse`) that must be read after all.
 */
export async function checkoutAt(options: Pick<SyncRepoOptions, 'dir' | 'branch' | 'timeoutMs' | 'sshKey'>, target: string): Promise<string> {
  return checkoutCommit(options, options.branch, target);
}

async function checkoutCommit(options: Pick<SyncRepoOptions, 'dir' | 'sshKey' | 'timeoutMs'>, branch: string, target: string): Promise<string> {
  // --force makes the index and every tracked file the target's, as `reset --hard` would;
  // clean then removes whatever else is there.
  await gitStep('checkout', () => localGit(options.dir, ['checkout', '--quiet', '--force', '-B', branch, target], options));
  await gitStep('clean', () => localGit(options.dir, ['clean', '--quiet', '-ffdx'], options));
  // `target` is a full commit id (rev-parse --verify gave it): a checkout of it that
  // succeeded leaves HEAD there.
  return target;
}

/**
 * git's "couldn't find remote ref" names neither cause nor fix. A repository without a
 * single ref is a bare repo nobody pushed to yet (the usual first run); otherwise the
 * branch is missing and the branches that exist are named. Any other failure: undefined.
 */
async function missingBranch(lsRemote: () => Promise<string>, branch: string, err: unknown): Promise<SourceError | undefined> {
  if (!(err instanceof SourceError) || !/couldn't find remote ref/.test(err.message)) return undefined;
  const refs = await lsRemote().then(
    (out) => out.split('\n').map((l) => l.split('\t')[1] ?? '').filter(Boolean),
    () => undefined,
  );
  if (refs === undefined) return undefined;
  if (refs.length === 0) return new SourceError(`branch ${branch} has no commits yet: push one first (the source repository is empty)`);
  const branches = refs.filter((r) => r.startsWith('refs/heads/')).map((r) => r.slice('refs/heads/'.length));
  const shown = branches.slice(0, 5).join(', ') + (branches.length > 5 ? ', ...' : '');
  return new SourceError(
    `branch ${branch} does not exist in the source repository${branches.length ? ` (it has ${shown})` : ''}: push it, or set source.branch`,
  );
}

/**
 * The source's values reach git's argv, the config file written above and the shell that
 * runs GIT_SSH_COMMAND: a newline in one could add git configuration of its own (a command
 * run as root). The config loader refuses them; this refuses them again at the door.
 */
export function refuseControlCharacters(options: Pick<SyncRepoOptions, 'url' | 'sshKey'> & { branch?: string }): void {
  const values: [string, string | undefined][] = [
    ['source.url', options.url],
    ['source.branch', options.branch],
    ['source.ssh_key', options.sshKey],
  ];
  for (const [key, value] of values) {
    // eslint-disable-next-line no-control-regex
    if (value !== undefined && /[\u0000-\u001f\u007f]/.test(value)) {
      throw new SourceError(`${key} contains a newline or another control character; refusing to pass it to git`);
    }
  }
}

/**
 * Lists the fetched tree (`git ls-tree -r -l -z`, streamed) and returns the first budget
 * it crosses, or undefined. The listing stops there: a tree that names one blob a billion
 * times costs no more to refuse than one at the limit.
 */
export async function measureTree(dir: string, ref: string, budget: RepoBudget, options: Pick<SyncRepoOptions, 'sshKey' | 'timeoutMs'>): Promise<Problem | undefined> {
  const tally = new BudgetTally(budget);
  let pending: Buffer = Buffer.alloc(0);
  const onRecord = (record: Buffer): boolean => {
    // <mode> SP <type> SP <object> SP+ <size> TAB <path>
    const tab = record.indexOf(0x09);
    if (tab < 0) return false;
    const meta = record.subarray(0, tab).toString('latin1').trim().split(/ +/);
    const size = Number(meta[3]);
    const path = record.subarray(tab + 1);
    let depth = 1;
    for (const byte of path) if (byte === 0x2f) depth++;
    if (path.length > PATH_MAX) return tally.tooLong(displayBytes(path.subarray(0, 200)), path.length) !== undefined;
    return tally.add(displayBytes(path), depth, Number.isFinite(size) ? size : 0) !== undefined;
  };
  const result = await runStreaming(['git', 'ls-tree', '-r', '-l', '-z', '--full-tree', ref], {
    cwd: dir,
    env: gitEnv(options.sshKey),
    timeoutMs: options.timeoutMs,
    onStdout: (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let start = 0;
      for (let end = pending.indexOf(0, start); end >= 0; end = pending.indexOf(0, start)) {
        if (onRecord(pending.subarray(start, end))) return true;
        start = end + 1;
      }
      pending = pending.subarray(start);
      // One record can only be this long if its path is longer than any file system takes.
      if (pending.length > PATH_MAX + 256) {
        const tab = pending.indexOf(0x09);
        tally.tooLong(displayBytes(pending.subarray(tab + 1, tab + 201)), pending.length);
        return true;
      }
      return false;
    },
  });
  if (tally.exceeded) return tally.exceeded;
  if (result.timedOut) throw new SourceError(`git ls-tree of ${ref} timed out after ${options.timeoutMs} ms`);
  if (result.exitCode !== 0) {
    throw new SourceError(`git ls-tree of ${ref} failed (exit ${result.exitCode ?? 'by signal'}): ${result.stderr.trim().split('\n').join('; ')}`);
  }
  return undefined;
}

/** A commit's committer time (unix seconds) in the checkout; undefined when git does not know it (or there is no checkout). */
export async function commitTime(dir: string, commit: string, timeoutMs: number): Promise<number | undefined> {
  if (!/^[0-9a-f]{7,64}$/.test(commit)) return undefined;
  try {
    // simple-git throws at once for a directory that does not exist.
    const out = await simpleGit({ baseDir: dir, timeout: { block: timeoutMs } }).raw(['show', '-s', '--format=%ct', commit, '--']);
    const seconds = Number(out.trim());
    return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
  } catch {
    return undefined;
  }
}
