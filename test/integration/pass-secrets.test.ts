// Secrets through a pass over the fake host: a `.age` file of the repository is decrypted
// with the host's identity and given to the workload user's Podman on stdin, replaced when
// its ciphertext changes (restarting that workload alone), removed when the repository
// drops it; one that does not decrypt fails its workload alone. The plaintext is never in
// an argv, the state dir, the logs or a pass's result.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { armor, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { PassHarness, containerSpec, normLine } from '../helpers/pass-harness';

const DB_PASSWORD = 'correct-horse-battery-staple-7731';
const ROTATED = 'rotated-zebra-lantern-0442';

let h: PassHarness;
let identity: string;
let recipient: string;

async function encrypt(value: string, to = recipient): Promise<Uint8Array> {
  const e = new Encrypter();
  e.addRecipient(to);
  return e.encrypt(value);
}

/** Every file under dir, read as bytes. */
function everyFile(dir: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...everyFile(path));
    else if (st?.isFile()) out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

/** Where a value shows up in the state dir, the logs, the host's argv and a pass's result: nowhere, in a passing test. */
function leaks(value: string, result: unknown): string[] {
  const found = everyFile(h.stateDir).filter((f) => f.bytes.includes(value)).map((f) => f.path);
  if (h.logs.some((l) => l.includes(value))) found.push('the log');
  if (h.fake.callLines().some((l) => l.includes(value))) found.push('an argv');
  if (JSON.stringify(result).includes(value)) found.push('the pass result');
  return found;
}

const WEB = containerSpec('localhost/web:1', 'Secret=web-db,type=env,target=DB_PASSWORD');

beforeEach(async () => {
  identity = await generateX25519Identity();
  recipient = await identityToRecipient(identity);
  h = new PassHarness();
  const keyFile = join(h.root, 'age.key');
  writeFileSync(keyFile, `# created: 2026-01-01T00:00:00Z\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
  h.config = h.makeConfig({ secrets: { identity_file: keyFile } });
});
afterEach(() => h.cleanup());

describe('a secret of the repository', () => {
  it('is created in the user Podman store with the value on stdin, never written as a file or kept by moor', async () => {
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(DB_PASSWORD), 'api.container': containerSpec('localhost/api:1') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(h.fake.podmanSecrets.get('web')?.get('web-db')?.toString()).toBe(DB_PASSWORD);
    expect(calls.map(normLine).filter((l) => l.includes('secret'))).toEqual([expect.stringMatching(/^as web\(\d+\): sh -c cat \| podman secret create --replace "\$1" - sh web-db$/)]);
    expect(h.fake.podmanSecrets.get('api')?.size ?? 0).toBe(0);
    expect([...h.fake.userFiles('web').keys()]).toEqual(['.config/containers/systemd/web.container']);
    expect(leaks(DB_PASSWORD, result)).toEqual([]);
  });

  it('records only the hash of the ciphertext: the generation holds neither the value nor the ciphertext', async () => {
    const ciphertext = await encrypt(DB_PASSWORD);
    h.commit({ 'web.container': WEB, 'web-db.age': ciphertext });
    await h.pass();
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update(ciphertext).digest('hex');
    const files = everyFile(h.stateDir).filter((f) => !f.path.includes('/checkout/'));
    expect(files.filter((f) => f.bytes.includes(`sha256:${hash}`)).length).toBeGreaterThan(0);
    // The ciphertext's payload (past its text header) is in no file moor keeps.
    const payload = Buffer.from(ciphertext).subarray(ciphertext.length - 32);
    expect(files.filter((f) => f.bytes.includes(payload)).map((f) => f.path)).toEqual([]);
  });

  it('takes an armored (age -a) file as well', async () => {
    h.commit({ 'web.container': WEB, 'web-db.age': armor.encode(await encrypt(DB_PASSWORD)) });
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(h.fake.podmanSecrets.get('web')?.get('web-db')?.toString()).toBe(DB_PASSWORD);
  });

  it('rotated, is replaced and restarts that workload and no other', async () => {
    const api = containerSpec('localhost/api:1');
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(DB_PASSWORD), 'api.container': api });
    await h.pass();
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(ROTATED), 'api.container': api });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'unchanged', 'ok'],
      ['web', 'update', 'ok'],
    ]);
    expect(result.items.find((i) => i.workload === 'web')!.changed).toEqual(['podman-secrets/web-db.age']);
    expect(calls.map(normLine).filter((l) => / restart |secret/.test(l)).map((l) => l.replace(/\(\d+\)/, ''))).toEqual([
      'as web: sh -c cat | podman secret create --replace "$1" - sh web-db',
      'as web: systemctl --user restart web.service',
    ]);
    expect(h.fake.podmanSecrets.get('web')?.get('web-db')?.toString()).toBe(ROTATED);
    expect(leaks(DB_PASSWORD, result)).toEqual([]);
    expect(leaks(ROTATED, result)).toEqual([]);
  });

  it('dropped from the repository, is removed from the user store once the new version is up', async () => {
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(DB_PASSWORD) });
    await h.pass();
    h.commit({ 'web.container': containerSpec('localhost/web:1') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    const lines = calls.map(normLine).map((l) => l.replace(/\(\d+\)/, ''));
    expect(lines).toContain('as web: podman secret rm web-db');
    expect(lines.indexOf('as web: podman secret rm web-db')).toBeGreaterThan(lines.indexOf('as web: systemctl --user restart web.service'));
    expect(h.fake.podmanSecrets.get('web')?.has('web-db')).toBe(false);
  });

  it('leaves alone a secret of the user that moor did not give', async () => {
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(DB_PASSWORD) });
    await h.pass();
    h.fake.podmanSecrets.get('web')!.set('by-hand', Buffer.from('x'));
    h.commit({ 'web.container': containerSpec('localhost/web:2') });
    await h.pass();
    expect([...h.fake.podmanSecrets.get('web')!.keys()]).toEqual(['by-hand']);
  });

  it('that does not decrypt fails its workload alone (exit 1), naming the file, and leaves it as it runs', async () => {
    const api = containerSpec('localhost/api:1');
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(DB_PASSWORD), 'api.container': api });
    await h.pass();
    const running = h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content;
    const stranger = await identityToRecipient(await generateX25519Identity());
    h.commit({ 'web.container': WEB.replace('web:1', 'web:2'), 'web-db.age': await encrypt(ROTATED, stranger), 'api.container': api.replace('api:1', 'api:2') });
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(1);
    const web = result.items.find((i) => i.workload === 'web')!;
    expect(web.result).toBe('failed');
    expect(web.error).toMatch(/web-db\.age does not decrypt with the identity in \S+age\.key/);
    expect(result.items.find((i) => i.workload === 'api')).toMatchObject({ action: 'update', result: 'ok' });
    // Nothing of web changed: no file written, no secret given, nothing restarted.
    expect(calls.map(normLine).filter((l) => l.startsWith('as web(')).filter((l) => /secret|__write-files|restart/.test(l))).toEqual([]);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(running);
    expect(h.fake.podmanSecrets.get('web')?.get('web-db')?.toString()).toBe(DB_PASSWORD);
    expect(leaks(ROTATED, result)).toEqual([]);
  });

  it('with no identity configured fails its workload, naming the key to set', async () => {
    h.config = h.makeConfig({});
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(DB_PASSWORD), 'api.container': containerSpec('localhost/api:1') });
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items.find((i) => i.workload === 'web')!.error).toMatch(/web-db\.age is a secret.*identity_file in the \[secrets\] table/);
    expect(result.items.find((i) => i.workload === 'api')!.result).toBe('ok');
  });

  it('refuses an identity file others can read, naming it and the fix', async () => {
    const keyFile = join(h.root, 'age.key');
    const { chmodSync } = await import('node:fs');
    chmodSync(keyFile, 0o644);
    h.commit({ 'web.container': WEB, 'web-db.age': await encrypt(DB_PASSWORD) });
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items[0]!.error).toContain(`${keyFile} has mode 0644: others may read the key; chmod 600 ${keyFile}`);
    expect(JSON.stringify(result)).not.toContain(identity);
    expect(h.logs.join('\n')).not.toContain(identity);
  });

  it('that is not an age file, or named by no file, fails its workload before anything is done', async () => {
    h.commit({
      'web.container': WEB,
      'web-db.age': 'not age at all\n',
      'api.container': containerSpec('localhost/api:1', 'Secret=api-token'),
    });
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items.find((i) => i.workload === 'web')!.error).toContain('web-db.age is not a well-formed age file');
    expect(result.items.find((i) => i.workload === 'api')!.error).toMatch(/api\.container:\d+ ?.*Secret=api-token names a secret workload "api" does not have|Secret=api-token names a secret/);
    expect(h.fake.passwd.has('web')).toBe(false);
  });
});
