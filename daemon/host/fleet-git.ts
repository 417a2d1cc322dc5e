// The fleet's status branches in git (docs/fleet.md): fetched from the source into a git
// dir (moor's own `state_dir/fleet.git`, a scratch one of `moor fleet status`, or the
// checkout for the ring rule), read as documents, and this host's own written as a commit
// and pushed. Fetch and push run as host/git.ts runs its fetch (bounded by
// timeouts.fetch, git and its helpers killed together); every local command reads no
// system or global git config, so nothing of root's git setup (a signing program, hooks,
// an identity) takes part in a status commit.
import { mkdir, stat } from 'node:fs/promises';
import { HOST_NAME_PATTERN } from '../core/config/schema';
import { SourceError } from '../core/errors';
import { MAX_STATUS_BYTES, parseStatusDocument, type PublishedStatus } from '../core/fleet-status';
import { ancestryKey, type AncestryAnswers } from '../core/rollout';
import { ExecaRunner, runStreaming } from './exec';
import { gitStep, networkGit, refuseControlCharacters, STATUS_BRANCHES, STATUS_REFS, trustLocalSource } from './git';

export interface FleetRemote {
  /** The source: a URL, or a path on this host. */
  url: string;
  sshKey?: string;
  /** Bound on each network command (timeouts.fetch). */
  timeoutMs: number;
}

const runner = new ExecaRunner();

function localEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  };
}

/** A local git command in `dir`; a failure is a SourceError naming it. */
async function git(dir: string, args: string[], timeoutMs: number, input?: string, env?: Record<string, string>): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const result = await runner.run(['git', ...args], { cwd: dir, timeoutMs, env: localEnv(env), ...(input !== undefined ? { input } : {}) });
  if (result.timedOut) throw new SourceError(`git ${args[0]} in ${dir} did not finish within ${timeoutMs} ms`);
  return result;
}

async function mustGit(dir: string, args: string[], timeoutMs: number, input?: string, env?: Record<string, string>): Promise<string> {
  const result = await git(dir, args, timeoutMs, input, env);
  if (result.exitCode !== 0) throw new SourceError(`git ${args[0]} in ${dir} failed: ${result.stderr.trim().split('\n').join('; ')}`);
  return result.stdout;
}

/** A bare git dir for status branches, created when missing. */
export async function ensureFleetDir(dir: string, timeoutMs: number): Promise<void> {
  const exists = await stat(`${dir}/HEAD`).then(
    () => true,
    () => false,
  );
  if (exists) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await mustGit(dir, ['init', '--quiet', '--bare'], timeoutMs);
}

/** Fetches every host's status branch into `refs/moor-status/`; branches deleted at the source are pruned. */
export async function fetchStatusBranches(dir: string, remote: FleetRemote): Promise<void> {
  refuseControlCharacters(remote);
  const globalConfig = await trustLocalSource({ url: remote.url, dir });
  await gitStep('fetch moor-status/*', () =>
    networkGit(dir, ['fetch', '--quiet', '--force', '--no-tags', '--prune', remote.url, `+${STATUS_BRANCHES}*:${STATUS_REFS}*`], remote, globalConfig),
  );
}

/** The commit a branch of the source points at, or undefined when it has none. */
export async function remoteBranchTip(dir: string, remote: FleetRemote, branch: string): Promise<string | undefined> {
  refuseControlCharacters({ ...remote, branch });
  const globalConfig = await trustLocalSource({ url: remote.url, dir });
  const out = await gitStep(`ls-remote ${branch}`, () => networkGit(dir, ['ls-remote', remote.url, `refs/heads/${branch}`], remote, globalConfig));
  const line = out.split('\n').find((l) => l.endsWith(`\trefs/heads/${branch}`));
  return line?.split('\t')[0];
}

/**
 * Every status branch fetched into `dir`, sorted by host: its document, or why it cannot
 * be used (a branch name that is no host name, no status.json, too large, malformed). A
 * status.json is measured before it is read.
 */
export async function readStatusBranches(dir: string, timeoutMs: number): Promise<PublishedStatus[]> {
  const refs = (await mustGit(dir, ['for-each-ref', '--format=%(objectname) %(refname)', STATUS_REFS], timeoutMs))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ');
      return { object: line.slice(0, space), host: line.slice(space + 1 + STATUS_REFS.length) };
    })
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  if (refs.length === 0) return [];
  const named = refs.filter((r) => HOST_NAME_PATTERN.test(r.host));
  // One process sizes every status.json: "<type> <size>", or "<name> missing".
  const checks = (await mustGit(dir, ['cat-file', '--batch-check=%(objecttype) %(objectsize)'], timeoutMs, named.map((r) => `${r.object}:status.json\n`).join(''))).split('\n');
  const out: PublishedStatus[] = [];
  const readable: { host: string; object: string }[] = [];
  for (const ref of refs) {
    const i = named.indexOf(ref);
    const [type, size] = i < 0 ? [] : (checks[i] ?? '').split(' ');
    if (i < 0) out.push({ host: ref.host, problem: 'the branch name is not a host name' });
    else if (type !== 'blob') out.push({ host: ref.host, problem: 'the branch holds no status.json file' });
    else if (Number(size) > MAX_STATUS_BYTES) out.push({ host: ref.host, problem: `status.json is ${size} bytes, more than ${MAX_STATUS_BYTES}` });
    else readable.push(ref);
  }
  const contents = await catBlobs(dir, readable.map((r) => `${r.object}:status.json`), timeoutMs);
  readable.forEach((ref, i) => out.push(contents[i] === undefined ? { host: ref.host, problem: 'status.json could not be read' } : parseStatusDocument(ref.host, contents[i]!)));
  return out.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

/**
 * The contents of blobs already measured, in one `git cat-file --batch` (one process for
 * the whole fleet, not one per host), as bytes: each "<oid> blob <size>" header is
 * followed by exactly that many bytes. A name git does not find is undefined.
 */
async function catBlobs(dir: string, names: string[], timeoutMs: number): Promise<(Buffer | undefined)[]> {
  if (names.length === 0) return [];
  const chunks: Buffer[] = [];
  const result = await runStreaming(['git', 'cat-file', '--batch'], { cwd: dir, env: localEnv(), timeoutMs, input: names.map((n) => `${n}\n`).join(''), onStdout: (chunk) => (chunks.push(chunk), false) });
  if (result.timedOut) throw new SourceError(`git cat-file in ${dir} did not finish within ${timeoutMs} ms`);
  if (result.exitCode !== 0) throw new SourceError(`git cat-file in ${dir} failed: ${result.stderr.trim().split('\n').join('; ')}`);
  const out = Buffer.concat(chunks);
  const blobs: (Buffer | undefined)[] = [];
  let at = 0;
  for (let i = 0; i < names.length && at < out.length; i++) {
    const eol = out.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = out.subarray(at, eol).toString('latin1').split(' ');
    at = eol + 1;
    if (header[1] !== 'blob') {
      blobs.push(undefined);
      continue;
    }
    const size = Number(header[2]);
    blobs.push(out.subarray(at, at + size));
    at += size + 1;
  }
  return blobs;
}

/** git's answer to each pair [a, b]: is a the commit b or an ancestor of it (a commit git lacks: no). */
export async function ancestryAnswers(dir: string, pairs: readonly [string, string][], timeoutMs: number): Promise<AncestryAnswers> {
  const answers = new Map<string, boolean>();
  for (const [a, b] of pairs) {
    const key = ancestryKey(a, b);
    if (answers.has(key)) continue;
    const result = await git(dir, ['merge-base', '--is-ancestor', a, b], timeoutMs);
    answers.set(key, result.exitCode === 0);
  }
  return answers;
}

/** The local head of a host's status branch (after a fetch), if there is one. */
export async function statusHead(dir: string, host: string, timeoutMs: number): Promise<string | undefined> {
  const result = await git(dir, ['rev-parse', '--verify', '--quiet', `${STATUS_REFS}${host}^{commit}`], timeoutMs);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/**
 * Fetches this host's own status branch alone (a fleet's other branches are none of its
 * business when publishing); absent at the source: the local ref is deleted too.
 */
export async function fetchOwnStatus(dir: string, remote: FleetRemote, host: string): Promise<string | undefined> {
  refuseControlCharacters(remote);
  const globalConfig = await trustLocalSource({ url: remote.url, dir });
  const ref = `${STATUS_BRANCHES}${host}`;
  const fetched = await networkGit(dir, ['fetch', '--quiet', '--force', '--no-tags', remote.url, `+${ref}:${STATUS_REFS}${host}`], remote, globalConfig).then(
    () => true,
    (err: Error) => {
      if (/couldn't find remote ref/.test(err.message)) return false;
      throw new SourceError(`git fetch moor-status/${host} failed: ${err.message.split('\n').join('; ')}`);
    },
  );
  if (!fetched) {
    await git(dir, ['update-ref', '-d', `${STATUS_REFS}${host}`], remote.timeoutMs);
    return undefined;
  }
  return statusHead(dir, host, remote.timeoutMs);
}

/**
 * Writes a commit whose tree holds `status.json` alone, on top of `parent` (the branch's
 * previous head, so the branch is the host's log), by `moor <moor@HOST>`. Not yet on any ref.
 */
export async function writeStatusCommit(dir: string, opts: { host: string; json: string; parent?: string; message: string; at: Date; timeoutMs: number }): Promise<string> {
  const blob = (await mustGit(dir, ['hash-object', '-w', '--stdin'], opts.timeoutMs, opts.json)).trim();
  const tree = (await mustGit(dir, ['mktree'], opts.timeoutMs, `100644 blob ${blob}\tstatus.json\n`)).trim();
  const date = `${Math.floor(opts.at.getTime() / 1000)} +0000`;
  const who = { NAME: 'moor', EMAIL: `moor@${opts.host}`, DATE: date };
  const env = Object.fromEntries(['AUTHOR', 'COMMITTER'].flatMap((role) => Object.entries(who).map(([k, v]) => [`GIT_${role}_${k}`, v])));
  const args = ['commit-tree', tree, ...(opts.parent ? ['-p', opts.parent] : []), '-m', opts.message];
  return (await mustGit(dir, args, opts.timeoutMs, undefined, env)).trim();
}

/**
 * Pushes `commit` to the source's `moor-status/<host>` (never any other ref), as a fast
 * forward of the head fetched before; on success the local ref follows. A failure throws
 * with the remote's own words.
 */
export async function pushStatus(dir: string, remote: FleetRemote, host: string, commit: string): Promise<void> {
  if (!HOST_NAME_PATTERN.test(host)) throw new SourceError(`"${host}" is not a host name; no status branch is pushed`);
  refuseControlCharacters(remote);
  const globalConfig = await trustLocalSource({ url: remote.url, dir });
  await gitStep(`push moor-status/${host}`, () => networkGit(dir, ['push', '--quiet', '--no-verify', remote.url, `${commit}:${STATUS_BRANCHES}${host}`], remote, globalConfig));
  await mustGit(dir, ['update-ref', `${STATUS_REFS}${host}`, commit], remote.timeoutMs);
}
