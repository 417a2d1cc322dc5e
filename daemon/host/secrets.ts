// A workload's secrets on the host (docs/repository.md#secrets): the repository's `.age`
// files decrypted by root with the identity file of `[secrets] identity_file`, and each
// value given to the workload user's Podman as `podman secret create --replace NAME -`,
// run as the user (as-user.ts) with the value on stdin only (through `cat`, see create). A value is never in an argv,
// a file of moor's, a log line or an error message; its buffer is zeroed once handed over.
// age-encryption is imported when a secret is decrypted, so a pass or command that has
// none does not load it.
import { HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { runAsUser, type UserRef } from './as-user';
import { commandError } from './exec';
import { readRootOnlyFile } from './root-only-file';

/** A secret of the repository as the pass hands it over: its file, its Podman name, its ciphertext (base64). */
export interface SecretFile {
  source: string;
  name: string;
  ciphertext: string;
}

/** An identity file holds a few keys; a larger one is not one. */
const MAX_IDENTITY_BYTES = 64 * 1024;

export interface PodmanSecretsOptions {
  timeoutMs: number;
  /** `[secrets] identity_file`; unset, a workload with secrets fails with the key to set. */
  identityFile?: string;
}

export class PodmanSecrets {
  constructor(
    private readonly runner: CommandRunner,
    private readonly opts: PodmanSecretsOptions,
  ) {}

  /** The values of `files`, decrypted with the host's identity (decryptSecrets). */
  decrypt(files: readonly SecretFile[]): Promise<Map<string, Uint8Array>> {
    return decryptSecrets(this.opts.identityFile, files);
  }

  /**
   * `podman secret create --replace NAME -` as the user, the value on stdin; the value is
   * zeroed afterwards. Podman reads `-` only from a pipe (a FIFO), and the stdin a child
   * of Node gets is a socket: `cat` hands the value over through a pipe the shell makes.
   */
  async create(who: UserRef, name: string, value: Uint8Array): Promise<void> {
    try {
      const result = await runAsUser(this.runner, who, createSecretArgv(name), { timeoutMs: this.opts.timeoutMs, input: value });
      if (result.exitCode !== 0 || result.timedOut) throw new HostError(`creating the Podman secret ${name} of ${who.user} failed: ${commandError(result).message}`);
    } finally {
      value.fill(0);
    }
  }

  /** `podman secret rm NAME` as the user; a secret already gone is fine. */
  async remove(who: UserRef, name: string): Promise<void> {
    const result = await runAsUser(this.runner, who, ['podman', 'secret', 'rm', name], { timeoutMs: this.opts.timeoutMs });
    if (result.exitCode === 0 && !result.timedOut) return;
    if (!result.timedOut && /no such secret/i.test(result.stderr)) return;
    throw new HostError(`removing the Podman secret ${name} of ${who.user} failed: ${commandError(result).message}`);
  }
}

/** The argv that creates (or replaces) the user's secret NAME from stdin; the value is never in it. */
export function createSecretArgv(name: string): string[] {
  return ['sh', '-c', 'cat | podman secret create --replace "$1" -', 'sh', name];
}

/**
 * Every file's value, or a HostError naming the first file that does not decrypt and
 * why (the identity matches none of its recipients, the file is damaged): never a byte
 * of any value. All or nothing, so a workload with one bad secret changes nothing.
 */
export async function decryptSecrets(identityFile: string | undefined, files: readonly SecretFile[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (files.length === 0) return out;
  if (identityFile === undefined) {
    throw new HostError(`${files[0]!.source} is a secret, and this host has no identity to decrypt it: set identity_file in the [secrets] table of the configuration (docs/configuration.md)`);
  }
  const identities = await readIdentities(identityFile);
  const age = await import('age-encryption');
  const decrypter = new age.Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    for (const f of files) {
      const bytes = Buffer.from(f.ciphertext, 'base64');
      try {
        const armored = bytes.subarray(0, 64).toString('latin1').trimStart().startsWith('-----BEGIN AGE');
        out.set(f.name, await decrypter.decrypt(armored ? age.armor.decode(bytes.toString('latin1')) : bytes));
      } catch (err) {
        throw new HostError(
          `${f.source} does not decrypt with the identity in ${identityFile}: ${(err as Error).message}; encrypt it again to this host's recipient (age-keygen -y ${identityFile} prints it)`,
        );
      }
    }
  } catch (err) {
    for (const v of out.values()) v.fill(0);
    throw err;
  }
  return out;
}

/**
 * Whether the identity file can be used (root's alone, one or more age identities), for
 * a daemon's start and reload; throws a HostError naming the file and the fix.
 */
export async function checkIdentityFile(path: string): Promise<void> {
  await readIdentities(path);
}

/** The identities of an age-keygen file: every line that is not blank or a `#` comment. */
async function readIdentities(path: string): Promise<string[]> {
  let text: string;
  try {
    text = (await readRootOnlyFile(path, MAX_IDENTITY_BYTES, 'the key')).toString('utf8');
  } catch (err) {
    throw new HostError(`the age identity file cannot be used: ${(err as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const keys = lines.filter((l) => l !== '' && !l.startsWith('#'));
  // A line's text is key material: only its number is ever named.
  const bad = lines.findIndex((l) => l !== '' && !l.startsWith('#') && !/^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(l));
  if (bad >= 0) throw new HostError(`${path}:${bad + 1} is not an age identity (AGE-SECRET-KEY-1...); make the file with age-keygen -o ${path}`);
  if (keys.length === 0) throw new HostError(`${path} holds no age identity; make it with age-keygen -o ${path}`);
  return keys;
}
