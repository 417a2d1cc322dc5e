// Secrets in the repository (docs/repository.md#secrets): `<name>.age` files, encrypted
// with age to the host's X25519 recipient, that a workload's user receives as the Podman
// secret `<name>`. Nothing here sees a key or a plaintext: a file is judged by its shape
// (an age header that parses, a payload long enough to hold one chunk), the name it gives
// the Podman secret, and the spec's `Secret=` lines that name one. What moor records of a
// secret is the hash of its ciphertext, never the ciphertext or the value.
import { createHash } from 'node:crypto';
import type { Problem } from './problem';
import type { RepoFile, Workload } from './types';
import { isEntry, type UnitFile } from './unit-file';

/** The extension of an encrypted secret in the repository. */
export const SECRET_EXT = 'age';

/** The Podman secret a `.age` file becomes: its name without the extension. */
export function secretName(fileName: string): string {
  return fileName.endsWith(`.${SECRET_EXT}`) ? fileName.slice(0, -SECRET_EXT.length - 1) : fileName;
}

/** Podman's own rule for a secret's name (`podman secret create` refuses any other). */
const PODMAN_SECRET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const PODMAN_SECRET_NAME_MAX = 253;

/** A `.age` file's bytes as discovery carries them (repo-scan.ts reads them as base64). */
export function ciphertextOf(file: Pick<RepoFile, 'content'>): Buffer {
  return Buffer.from(file.content, 'base64');
}

/**
 * What moor records of a secret, in place of its content: the sha256 of the ciphertext.
 * It changes when the encrypted value changes, so the workload's hash does too.
 */
export function secretRecord(ciphertext: Uint8Array): string {
  return `sha256:${createHash('sha256').update(ciphertext).digest('hex')}\n`;
}

const HEADER_LINE = 'age-encryption.org/v1';
const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const ARMOR_END = '-----END AGE ENCRYPTED FILE-----';
const B64 = /^[A-Za-z0-9+/]*$/;
// A stanza's arguments are printable ASCII without spaces (age's "VCHAR").
const ARG = /^[\x21-\x7e]+$/;
// The payload: a 16-byte nonce, then at least one chunk holding its 16-byte tag.
const MIN_PAYLOAD = 32;

/** The age file in binary form: armored (PEM) text is decoded first; undefined when the armor is broken. */
export function dearmor(bytes: Uint8Array): Uint8Array | undefined {
  const head = Buffer.from(bytes.subarray(0, ARMOR_BEGIN.length + 64)).toString('latin1').trimStart();
  if (!head.startsWith(ARMOR_BEGIN)) return bytes;
  const text = Buffer.from(bytes).toString('latin1').trim();
  if (!text.endsWith(ARMOR_END)) return undefined;
  const body = text.slice(ARMOR_BEGIN.length, text.length - ARMOR_END.length).split(/\r?\n/).filter((l) => l !== '');
  if (body.some((l) => !/^[A-Za-z0-9+/]*={0,2}$/.test(l) || l.length > 64)) return undefined;
  return Buffer.from(body.join(''), 'base64');
}

/**
 * Why these bytes are not an age file this host can decrypt with an identity, or
 * undefined: the header (version line, stanzas, MAC line) must parse, the payload must be
 * long enough, and a file encrypted with a passphrase (scrypt) is refused, since a host
 * decrypts with an identity file.
 */
export function ageFileIssue(bytes: Uint8Array): string | undefined {
  const bin = dearmor(bytes);
  if (bin === undefined) return 'its ASCII armor (-----BEGIN AGE ENCRYPTED FILE-----) is broken';
  let at = 0;
  const line = (): string | undefined => {
    const nl = bin.indexOf(0x0a, at);
    if (nl < 0) return undefined;
    const text = Buffer.from(bin.subarray(at, nl)).toString('latin1');
    at = nl + 1;
    return text;
  };
  if (line() !== HEADER_LINE) return `it does not start with "${HEADER_LINE}" (not an age file, or one of another version)`;
  const types: string[] = [];
  let next = line();
  while (next !== undefined && next.startsWith('-> ')) {
    const args = next.slice(3).split(' ');
    if (args.length === 0 || !args.every((a) => ARG.test(a))) return `stanza ${types.length + 1} of its header is malformed`;
    types.push(args[0]!);
    // The body: base64 lines of 64 characters, ended by a shorter one.
    for (;;) {
      const body = line();
      if (body === undefined || body.length > 64 || !B64.test(body)) return `the body of stanza ${types.length} of its header is malformed`;
      if (body.length < 64) break;
    }
    next = line();
  }
  if (types.length === 0) return 'its header names no recipient';
  if (next === undefined || !/^--- [A-Za-z0-9+/]{43}$/.test(next)) return 'its header does not end with a MAC line ("--- ...")';
  if (bin.length - at < MIN_PAYLOAD) return 'its payload is cut short';
  if (types.every((t) => t === 'scrypt')) return 'it is encrypted with a passphrase; a host decrypts with an identity file (encrypt with age -r RECIPIENT)';
  return undefined;
}

/** The problems of one `.age` file of a workload: its Podman name, then its shape. */
export function secretFileProblems(file: RepoFile, workload: Pick<Workload, 'name'>): Problem[] {
  const name = secretName(file.name);
  const problems: Problem[] = [];
  if (!PODMAN_SECRET_NAME.test(name) || name.length > PODMAN_SECRET_NAME_MAX) {
    problems.push({
      path: file.path,
      code: 'bad-secret-name',
      message: `${file.name} would be the Podman secret ${JSON.stringify(name)}, which Podman refuses: a secret's name starts with a letter or digit and holds only letters, digits, "_", "." and "-" (at most ${PODMAN_SECRET_NAME_MAX})`,
      hint: `rename ${file.name} so that its name without .${SECRET_EXT} is a valid Podman secret name`,
      workload: workload.name,
    });
  }
  const issue = ageFileIssue(ciphertextOf(file));
  if (issue !== undefined) {
    problems.push({
      path: file.path,
      code: 'bad-secret',
      message: `${file.name} is not a well-formed age file: ${issue}`,
      hint: `encrypt the value again to the host's recipient: age -r age1... -o ${file.name} (or age -a for text)`,
      workload: workload.name,
    });
  }
  return problems;
}

/** The Podman secrets a workload's repository files give its user. */
export function secretNamesOf(workload: Pick<Workload, 'companions'>): Set<string> {
  return new Set(workload.companions.filter((f) => f.kind === 'secret').map((f) => secretName(f.name)));
}

/**
 * Every `Secret=` the spec itself writes in `[Container]` naming a secret its workload's
 * repository files do not hold. moor owns the user's secret store: a secret made by hand
 * would be one no commit shows, so it is refused like a missing file. One a transform adds
 * is not judged (the host's own business, as with other references).
 */
export function secretReferenceProblems(unit: UnitFile, file: RepoFile, workload: Workload): Problem[] {
  const have = secretNamesOf(workload);
  const problems: Problem[] = [];
  for (const section of unit.sections) {
    if (section.name !== 'Container') continue;
    for (const item of section.items) {
      if (!isEntry(item) || item.key !== 'Secret' || (item.source !== undefined && item.source !== file.path)) continue;
      const name = item.value.replace(/^"(.*)"$/, '$1').split(',')[0]?.trim() ?? '';
      if (name === '' || have.has(name)) continue;
      const attaches = name.startsWith(`${workload.name}-`) || name.startsWith(`${workload.name}.`);
      problems.push({
        path: file.path,
        line: item.line,
        code: 'missing-secret',
        message: `Secret=${name} names a secret workload "${workload.name}" does not have: moor gives user ${workload.user} exactly the secrets of its ${SECRET_EXT} files`,
        hint: attaches
          ? `add ${name}.${SECRET_EXT} to the repository (the value encrypted with age to the host's recipient), or correct the name`
          : `a secret of this workload is named after it: add ${workload.name}-${name}.${SECRET_EXT} (the value encrypted with age to the host's recipient) and write Secret=${workload.name}-${name}`,
      });
    }
  }
  return problems;
}
