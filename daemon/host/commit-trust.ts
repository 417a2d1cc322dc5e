// The facts behind the trust decision (core/trust.ts), asked of git alone: a commit's
// signature checked by git's own verification against the configured signers only, and
// whether it descends from the live commit. Nothing of root's own git or GnuPG setup
// takes part: git reads no system or global config, HOME and GNUPGHOME are a directory
// moor fills, and the signers reach git as `-c` options.
import { constants } from 'node:fs';
import { access, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError, UsageError } from '../core/errors';
import { parseSignatureFacts, primaryFingerprints, SIGNATURE_FORMAT, type Ancestry, type SignatureFacts, type TipFacts } from '../core/trust';
import { ExecaRunner } from './exec';

export interface VerifyOptions {
  /** The git repository holding the commit. */
  dir: string;
  /** An SSH allowed-signers file. */
  allowedSigners?: string;
  /** A directory of exported OpenPGP public keys. */
  gpgKeyring?: string;
  /** moor's own directory for this: HOME and GNUPGHOME of git and gpg, emptied on every use. */
  workDir: string;
  /** Bound on each command. */
  timeoutMs: number;
}

const runner = new ExecaRunner();

/**
 * The environment of every command here: only PATH of ours. GIT_CONFIG_NOSYSTEM and
 * GIT_CONFIG_GLOBAL=/dev/null keep /etc/gitconfig and ~/.gitconfig out (a gpg.program or
 * an allowed-signers file of root's would otherwise decide); HOME and GNUPGHOME point at
 * moor's own directory, so neither ssh-keygen nor gpg reads root's ~/.ssh or ~/.gnupg.
 */
function isolatedEnv(workDir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LC_ALL: 'C',
    HOME: workDir,
    GNUPGHOME: gnupgHome(workDir),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
  };
}

function gnupgHome(workDir: string): string {
  return join(workDir, 'gnupg');
}

async function run(argv: string[], opts: VerifyOptions, input?: string): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const result = await runner.run(argv, { timeoutMs: opts.timeoutMs, cwd: opts.dir, env: isolatedEnv(opts.workDir), ...(input !== undefined ? { input } : {}) });
  if (result.timedOut) throw new SourceError(`${argv.slice(0, 3).join(' ')} did not finish within ${opts.timeoutMs} ms while checking a commit's signature`);
  return result;
}

function oneLine(text: string): string {
  return text.trim().split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
}

/**
 * A GnuPG home holding exactly the keys of the keyring directory, each trusted
 * ultimately: the directory is the list of allowed signers, so a key in it must verify
 * as `G`, and a key not in it cannot verify at all. Rebuilt from scratch on every check,
 * so a key removed from the directory is no longer trusted.
 */
async function fillGnupgHome(opts: VerifyOptions): Promise<void> {
  const home = gnupgHome(opts.workDir);
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { recursive: true, mode: 0o700 });
  // Checking signatures needs no secret key, so no gpg-agent: without this, gpg --import
  // starts one per check, left running by the daemon, and a check made while the agent of
  // the home just deleted still runs fails with "can't connect to the agent". The file
  // binds every gpg git starts with this home too.
  await writeFile(join(home, 'gpg.conf'), 'no-autostart\n', { mode: 0o600 });
  if (!opts.gpgKeyring) return;
  let names: string[];
  try {
    names = (await readdir(opts.gpgKeyring)).sort();
  } catch (err) {
    throw new SourceError(`trust.gpg_keyring ${opts.gpgKeyring} cannot be read: ${(err as Error).message}`);
  }
  const files: string[] = [];
  for (const name of names) {
    const path = join(opts.gpgKeyring, name);
    if (!name.startsWith('.') && (await stat(path)).isFile()) files.push(path);
  }
  if (files.length === 0) return;
  const gpg = ['gpg', '--batch', '--no-tty', '--quiet', '--homedir', home];
  const imported = await run([...gpg, '--import', ...files], opts);
  if (imported.exitCode !== 0) {
    throw new SourceError(`importing the keys of trust.gpg_keyring ${opts.gpgKeyring} failed: ${oneLine(imported.stderr)} (each file must be an exported OpenPGP public key)`);
  }
  const listed = await run([...gpg, '--with-colons', '--list-keys'], opts);
  const trust = primaryFingerprints(listed.stdout).map((fpr) => `${fpr}:6:\n`).join('');
  if (trust === '') return;
  const trusted = await run([...gpg, '--import-ownertrust'], opts, trust);
  if (trusted.exitCode !== 0) throw new SourceError(`marking the keys of trust.gpg_keyring as trusted failed: ${oneLine(trusted.stderr)}`);
}

/** git's verdict on one commit's signature, against the configured signers only. */
export async function signatureFacts(commit: string, opts: VerifyOptions): Promise<SignatureFacts> {
  // ssh-keygen takes a missing file for one naming nobody, and git then calls every key "not
  // an allowed signer": the file is named instead.
  if (opts.allowedSigners) {
    await access(opts.allowedSigners, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
      throw new SourceError(`trust.allowed_signers ${opts.allowedSigners} cannot be read (${err.code ?? err.message}): no commit can be checked against it; fix the path in [trust]`);
    });
  }
  await mkdir(opts.workDir, { recursive: true, mode: 0o700 });
  await fillGnupgHome(opts);
  const argv = [
    'git',
    // No signers file: /dev/null, so an SSH signature is checked and found by no one (U).
    '-c', `gpg.ssh.allowedSignersFile=${opts.allowedSigners ?? '/dev/null'}`,
    '-c', 'gpg.program=gpg',
    '-c', 'gpg.ssh.program=ssh-keygen',
    '-c', 'log.showSignature=false',
    'log', '-1', '--no-walk', `--format=${SIGNATURE_FORMAT}`, commit, '--',
  ];
  const result = await run(argv, opts);
  if (result.exitCode !== 0) throw new SourceError(`git log of commit ${commit} failed while checking its signature: ${oneLine(result.stderr)}`);
  // Without the tool git reports an SSH signature as bad (B) and an OpenPGP one as absent
  // (N): both refused, but for a reason that would send the operator after the wrong fault.
  const missing = /cannot run (\S+?):/.exec(result.stderr)?.[1];
  if (missing) {
    throw new SourceError(`checking the signature of commit ${commit} needs ${missing}, which git cannot run (${oneLine(result.stderr)}): install it (ssh-keygen: openssh-client; gpg: gnupg); nothing was changed`);
  }
  return parseSignatureFacts(result.stdout);
}

/**
 * Whether `commit` descends from `live`. A live commit git no longer has (the history was
 * replaced and its objects pruned) cannot be an ancestor: it counts as not one.
 */
export async function ancestry(live: string, commit: string, opts: VerifyOptions): Promise<Ancestry> {
  const known = await run(['git', 'cat-file', '-e', `${live}^{commit}`], opts);
  if (known.exitCode !== 0) return 'live-missing';
  const result = await run(['git', 'merge-base', '--is-ancestor', live, commit], opts);
  if (result.exitCode === 0) return 'descendant';
  if (result.exitCode === 1) return 'not-descendant';
  throw new SourceError(`git merge-base --is-ancestor ${live} ${commit} failed: ${oneLine(result.stderr)}`);
}

/** Every fact the trust decision needs about a tip, given the live generation (if any). */
export async function tipFacts(commit: string, live: { commit: string; generation: number } | undefined, opts: VerifyOptions): Promise<TipFacts> {
  const signature = await signatureFacts(commit, opts);
  if (!live) return { commit, signature };
  return { commit, signature, live: { ...live, ancestry: await ancestry(live.commit, commit, opts) } };
}

/** The full commit a revision names in the repository (`moor check --verify-commit REV`). */
export async function resolveCommit(rev: string, opts: VerifyOptions): Promise<string> {
  // eslint-disable-next-line no-control-regex
  if (rev.startsWith('-') || /[\u0000-\u001f\u007f]/.test(rev)) throw new UsageError(`"${rev}" is not a revision`);
  const result = await run(['git', 'rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`], opts);
  if (result.exitCode !== 0) throw new UsageError(`${rev} does not name a commit in ${opts.dir}: ${oneLine(result.stderr)}`);
  return result.stdout.trim();
}
