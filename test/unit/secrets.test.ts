// Secrets in the core: a `.age` file is its workload's secret by the usual name rule, is
// judged by its shape without any key, gives the Podman secret its name, and is recorded
// only as its ciphertext's hash; a spec's Secret= must name one of its workload's secrets.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { armor, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { discover } from '../../daemon/core/discovery';
import { validateTree } from '../../daemon/core/desired';
import { misspelledType } from '../../daemon/core/discovery/typos';
import { ageFileIssue, secretName } from '../../daemon/core/secrets';
import { emptyTransformSet, loadTransformSet } from '../../daemon/core/transforms';
import type { TreeEntry } from '../../daemon/core/types';
import { fileAtTarget } from '../../daemon/core/deploy-layout';

let ciphertext: Uint8Array;

beforeAll(async () => {
  const e = new Encrypter();
  e.addRecipient(await identityToRecipient(await generateX25519Identity()));
  ciphertext = await e.encrypt('s3cret');
});

const text = (path: string, content: string): TreeEntry => ({ path, type: 'file', size: content.length, content });
// As repo-scan.ts carries a `.age` file: its bytes in base64.
const age = (path: string, bytes: Uint8Array): TreeEntry => ({ path, type: 'file', size: bytes.length, content: Buffer.from(bytes).toString('base64') });
const SPEC = '[Container]\nImage=localhost/web:1\nSecret=web-db,type=env,target=DB\n';

function check(entries: TreeEntry[], transforms = emptyTransformSet()) {
  const d = discover(entries, { userPrefix: '', maxFileBytes: 1 << 20 });
  return { d, v: validateTree(d, transforms, [], { name: 'h1', labels: {} }) };
}

describe('the shape of an age file, without a key', () => {
  it('accepts a binary and an armored file', () => {
    expect(ageFileIssue(ciphertext)).toBeUndefined();
    expect(ageFileIssue(Buffer.from(armor.encode(ciphertext)))).toBeUndefined();
  });

  it('names what is wrong with anything else', () => {
    const header = Buffer.from(ciphertext).toString('latin1');
    const macAt = header.indexOf('\n--- ');
    expect(ageFileIssue(Buffer.from('hello\n'))).toMatch(/does not start with "age-encryption.org\/v1"/);
    expect(ageFileIssue(Buffer.from('age-encryption.org/v1\n--- ' + 'A'.repeat(43) + '\n' + 'x'.repeat(40), 'latin1'))).toBe('its header names no recipient');
    expect(ageFileIssue(ciphertext.subarray(0, macAt + 1))).toMatch(/does not end with a MAC line/);
    expect(ageFileIssue(ciphertext.subarray(0, ciphertext.length - 20))).toBe('its payload is cut short');
    expect(ageFileIssue(Buffer.from('age-encryption.org/v1\n-> scrypt c2FsdA 18\n' + 'A'.repeat(43) + '\n--- ' + 'A'.repeat(43) + '\n' + 'x'.repeat(40), 'latin1'))).toMatch(/passphrase/);
    expect(ageFileIssue(Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----\n!!!\n-----END AGE ENCRYPTED FILE-----\n'))).toMatch(/armor .* is broken/);
  });
});

describe('a .age file in the repository', () => {
  it('belongs to the workload its name starts with, as its secret, and becomes the Podman secret of its name', () => {
    const { d, v } = check([text('web.container', SPEC), age('web-db.age', ciphertext)]);
    expect(d.problems).toEqual([]);
    expect(d.workloads[0]!.companions.map((f) => [f.name, f.kind])).toEqual([['web-db.age', 'secret']]);
    expect(secretName('web-db.age')).toBe('web-db');
    const w = v.workloads[0]!;
    expect(w.problems).toEqual([]);
    const secret = w.files.find((f) => f.kind === 'secret')!;
    // Recorded: the hash of the ciphertext, under a target no file is written to.
    expect(secret.content).toBe(`sha256:${createHash('sha256').update(ciphertext).digest('hex')}\n`);
    expect(secret.target).toBe('podman-secrets/web-db.age');
    expect(fileAtTarget(secret.target)).toEqual({ name: 'web-db.age', ext: 'age', kind: 'secret' });
    expect(w.units.map((u) => u.unit)).toEqual(['web.service']);
  });

  it('changes its workload hash when only the ciphertext changes', async () => {
    const e = new Encrypter();
    e.addRecipient(await identityToRecipient(await generateX25519Identity()));
    const other = await e.encrypt('s3cret');
    const one = check([text('web.container', SPEC), age('web-db.age', ciphertext)]).v.workloads[0]!;
    const two = check([text('web.container', SPEC), age('web-db.age', other)]).v.workloads[0]!;
    expect(one.hash).not.toBe(two.hash);
  });

  it('is an orphan when no workload name starts it, and is no misspelled unit type', () => {
    const { d } = check([text('web.container', SPEC.replace(/Secret=.*\n/, '')), age('db.age', ciphertext)]);
    expect(d.problems.map((p) => `${p.code} ${p.path}`)).toEqual(['orphan db.age']);
    expect(misspelledType('age')).toBeUndefined();
  });

  it('fails its workload alone when malformed or not a name Podman takes', () => {
    const { v } = check([
      text('web.container', SPEC),
      text('web-db.age', 'plain text\n'),
      age('web.x~y.age', ciphertext),
      text('api.container', '[Container]\nImage=localhost/api:1\n'),
    ]);
    const web = v.workloads.find((w) => w.name === 'web')!;
    expect(web.problems.map((p) => `${p.code} ${p.path}`).sort()).toEqual(['bad-secret web-db.age', 'bad-secret-name web.x~y.age']);
    expect(web.problems.every((p) => p.workload === 'web')).toBe(true);
    expect(v.workloads.find((w) => w.name === 'api')!.problems).toEqual([]);
    expect(v.tree).toEqual([]);
  });

  it('is required by a Secret= of the spec or a pod member, with the line; not by one a transform adds', () => {
    const { v } = check([
      text('shop.pod', '[Pod]\n'),
      text('shop-web.container', '[Container]\nImage=localhost/web:1\nSecret=shop-key,target=/run/key\nSecret="shop-gone"\n'),
      age('shop-key.age', ciphertext),
    ]);
    expect(v.workloads[0]!.problems.map((p) => `${p.code} ${p.path}:${p.line}`)).toEqual(['missing-secret shop-web.container:4']);
    const byHost = loadTransformSet([{ name: '_base.container', path: '/etc/moor/transforms/_base.container', content: '[Container]\n+Secret=host-wide\n' }]);
    expect(byHost.problems).toEqual([]);
    const r = check([text('web.container', '[Container]\nImage=localhost/web:1\n')], byHost.set);
    expect(r.v.workloads[0]!.problems).toEqual([]);
  });
});
