// Real signing keys for the trust tests: SSH keys made with ssh-keygen, an OpenPGP key made
// with gpg in a GnuPG home of its own, and commits signed by git with either. Nothing here
// reads or writes the keys of the user running the tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git } from './pass-harness';

export interface SshKey {
  /** The private key file, as git's user.signingkey. */
  path: string;
  publicKey: string;
  fingerprint: string;
}

export function sshKey(dir: string, name: string): SshKey {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
  const publicKey = readFileSync(`${path}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { path, publicKey, fingerprint };
}

/** An allowed-signers file: one line per principal and key. */
export function allowedSigners(file: string, entries: [principal: string, key: SshKey][]): string {
  writeFileSync(file, entries.map(([p, k]) => `${p} ${k.publicKey}\n`).join(''));
  return file;
}

export interface GpgKey {
  home: string;
  uid: string;
  fingerprint: string;
}

/** A signing key with no passphrase in a GnuPG home of its own. */
export function gpgKey(dir: string, uid: string): GpgKey {
  const home = join(dir, `gnupg-${uid.replace(/[^a-z]/gi, '')}`);
  mkdirSync(home, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  execFileSync('gpg', ['--batch', '--quiet', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env, stdio: 'ignore' });
  const colons = execFileSync('gpg', ['--batch', '--with-colons', '--list-keys', uid], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const fingerprint = colons.split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9]!;
  return { home, uid, fingerprint };
}

/** The public key, exported armored into `dir` (a keyring directory for trust.gpg_keyring). */
export function exportGpgKey(key: GpgKey, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const armored = execFileSync('gpg', ['--batch', '--armor', '--export', key.fingerprint], { env: { ...process.env, GNUPGHOME: key.home }, encoding: 'utf8' });
  writeFileSync(join(dir, `${key.fingerprint}.asc`), armored);
}

/** Ends the gpg-agent a signing key's home started. */
export function stopGpgAgent(key: GpgKey): void {
  try {
    execFileSync('gpgconf', ['--homedir', key.home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
  } catch {
    // No agent ran.
  }
}

/** Commits everything in `work`, signed with the key, and returns the commit. */
export function signedCommit(work: string, key: SshKey | GpgKey, message = 'signed update'): string {
  git(work, 'add', '-A');
  if ('path' in key) {
    git(work, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${key.path}`, 'commit', '-q', '--allow-empty', '-S', '-m', message);
  } else {
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@e', '-c', 'gpg.format=openpgp', '-c', `user.signingkey=${key.fingerprint}`, 'commit', '-q', '--allow-empty', '-S', '-m', message], {
      cwd: work,
      env: { ...process.env, GNUPGHOME: key.home, GIT_CONFIG_NOSYSTEM: '1' },
      stdio: 'ignore',
    });
  }
  return git(work, 'rev-parse', 'HEAD');
}

/**
 * A copy of `commit` whose message is changed and whose signature is kept: what an
 * attacker who altered a signed commit would push.
 */
export function tamperedCopy(work: string, commit: string): string {
  const raw = git(work, 'cat-file', 'commit', commit);
  const altered = raw.replace(/\n\n([^\n]*)$/, '\n\n$1 (altered)\n');
  return execFileSync('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], { cwd: work, input: altered, encoding: 'utf8' }).trim();
}
