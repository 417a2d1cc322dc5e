// `moor check` on a repository with secrets: without a key, each secret a spec names must
// exist and be a well-formed age file; with --identity FILE, it must also decrypt. No
// value is ever printed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { runMoor } from '../helpers/cli';

const root = mkdtempSync(join(tmpdir(), 'moor-check-secrets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
writeFileSync(join(root, 'config.toml'), '');
const noConfig = ['--config', join(root, 'config.toml')];
const noTransforms = ['--transforms', join(root, 'no-transforms')];
const VALUE = 'plain-value-that-must-not-show-9183';

let keyFile: string;
let otherKeyFile: string;
let repo: string;

async function encrypted(recipient: string): Promise<Uint8Array> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return e.encrypt(VALUE);
}

beforeAll(async () => {
  const identity = await generateX25519Identity();
  const other = await generateX25519Identity();
  keyFile = join(root, 'age.key');
  otherKeyFile = join(root, 'other.key');
  writeFileSync(keyFile, `# public key: ${await identityToRecipient(identity)}\n${identity}\n`, { mode: 0o600 });
  writeFileSync(otherKeyFile, `${other}\n`, { mode: 0o600 });
  repo = join(root, 'repo');
  mkdirSync(repo);
  writeFileSync(join(repo, 'web.container'), '[Container]\nImage=localhost/web:1\nSecret=web-db,type=env,target=DB_PASSWORD\n');
  writeFileSync(join(repo, 'web-db.age'), await encrypted(await identityToRecipient(identity)));
});

describe('moor check and secrets', () => {
  it('passes a secret that exists and is well-formed, without a key, and shows it as the Podman secret it becomes', () => {
    const r = runMoor([...noConfig, 'check', repo, ...noTransforms, '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { workloads: { name: string; files: string[] }[] };
    expect(json.workloads[0]!.files).toContain('web-db.age');
    const shown = runMoor([...noConfig, 'render', join(repo, 'web-db.age'), '--repo', repo, ...noTransforms, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ target: 'podman secret web-db of web', content: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/) });
  });

  it('with --identity, passes a secret that decrypts and never prints its value', () => {
    const r = runMoor([...noConfig, 'check', repo, ...noTransforms, '--identity', keyFile]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(VALUE);
  });

  it('with --identity of another key, exits 2 naming the file that does not decrypt', () => {
    const r = runMoor([...noConfig, 'check', repo, ...noTransforms, '--identity', otherKeyFile]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^web-db\.age: web-db\.age does not decrypt with the identity in \S+other\.key: no identity matched any of the file's recipients.*\(fix: encrypt web-db\.age again/m);
    expect(r.stdout + r.stderr).not.toContain(VALUE);
  });

  it('refuses a Secret= naming no file, and a .age file that is not age, each with its path', () => {
    const bad = join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'web.container'), '[Container]\nImage=localhost/web:1\nSecret=web-token\nSecret=db_password,type=env,target=X\n');
    writeFileSync(join(bad, 'web-cert.age'), '-----BEGIN AGE ENCRYPTED FILE-----\nnot base64 at all!\n-----END AGE ENCRYPTED FILE-----\n');
    const r = runMoor([...noConfig, 'check', bad, ...noTransforms]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^web\.container:3: Secret=web-token names a secret workload "web" does not have.*\(fix: add web-token\.age to the repository/m);
    expect(r.stdout).toMatch(/^web\.container:4: Secret=db_password .*\(fix: a secret of this workload is named after it: add web-db_password\.age .* write Secret=web-db_password\)/m);
    expect(r.stdout).toMatch(/^web-cert\.age: web-cert\.age is not a well-formed age file: its ASCII armor .* is broken/m);
  });

  it('says so once when the identity file itself cannot be used', () => {
    const r = runMoor([...noConfig, 'check', repo, ...noTransforms, '--identity', join(root, 'missing.key')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--identity: the age identity file cannot be used: \S+missing\.key: ENOENT/);
  });
});
