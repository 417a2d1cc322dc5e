// The webhook's checks: GitHub-style HMAC-SHA256 signatures compared in constant time,
// the secret file's reading, and what a verified delivery asks for.
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSignature, checkToken, readWebhookSecret, ReplayGuard, signBody, webhookDecision } from '../../daemon/service/webhook';

const secret = Buffer.from("It's a Secret to Everybody");
const body = Buffer.from('Hello, World!');

describe('checkSignature', () => {
  it('accepts the signature of GitHub\'s documented example', () => {
    // docs.github.com, "Validating webhook deliveries": this secret and payload give this signature.
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(checkSignature(secret, body, header)).toBe('ok');
    expect(signBody(secret, body)).toBe(header);
    expect(checkSignature(secret, body, header.toUpperCase().replace('SHA256=', 'sha256='))).toBe('ok');
  });

  it('refuses a missing, malformed or wrong signature', () => {
    expect(checkSignature(secret, body, undefined)).toBe('missing');
    expect(checkSignature(secret, body, '')).toBe('missing');
    expect(checkSignature(secret, body, 'sha1=0123')).toBe('malformed');
    expect(checkSignature(secret, body, 'sha256=abc')).toBe('malformed');
    expect(checkSignature(secret, body, `sha256=${'0'.repeat(64)}`)).toBe('mismatch');
    expect(checkSignature(Buffer.from('another secret'), body, signBody(secret, body))).toBe('mismatch');
    expect(checkSignature(secret, Buffer.from('Hello, World?'), signBody(secret, body))).toBe('mismatch');
  });
});

describe('readWebhookSecret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moor-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('drops the trailing newline echo leaves', async () => {
    writeFileSync(join(dir, 's1'), 'hunter2\n', { mode: 0o600 });
    expect((await readWebhookSecret(join(dir, 's1'))).toString()).toBe('hunter2');
  });

  it('refuses an empty, oversized or missing file', async () => {
    writeFileSync(join(dir, 's2'), '\n', { mode: 0o600 });
    await expect(readWebhookSecret(join(dir, 's2'))).rejects.toThrow(/empty/);
    writeFileSync(join(dir, 's3'), 'x'.repeat(5000), { mode: 0o600 });
    await expect(readWebhookSecret(join(dir, 's3'))).rejects.toThrow(/larger than/);
    await expect(readWebhookSecret(join(dir, 'none'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a file others may read or write, naming it and the fix', async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o622]) {
      const file = join(dir, `open-${mode.toString(8)}`);
      writeFileSync(file, 'hunter2\n');
      chmodSync(file, mode);
      await expect(readWebhookSecret(file)).rejects.toThrow(new RegExp(`${file} has mode 0${mode.toString(8)}: .*chmod 600`));
    }
  });

  it('refuses a symlink, even to a good file, and anything but a regular file', async () => {
    writeFileSync(join(dir, 'real'), 'hunter2\n', { mode: 0o600 });
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    await expect(readWebhookSecret(join(dir, 'link'))).rejects.toThrow(/is a symlink/);
    await expect(readWebhookSecret(dir)).rejects.toThrow(/not a regular file/);
  });
});

describe('checkToken (GitLab)', () => {
  it('accepts the secret itself and nothing else', () => {
    expect(checkToken(secret, "It's a Secret to Everybody")).toBe('ok');
    expect(checkToken(secret, undefined)).toBe('missing');
    expect(checkToken(secret, "It's a Secret to Everybod")).toBe('mismatch');
    expect(checkToken(secret, signBody(secret, body))).toBe('mismatch');
  });
});

describe('ReplayGuard', () => {
  it('admits a delivery once within the window, by id and by body', () => {
    let now = 0;
    const guard = new ReplayGuard(1_000, 100, () => now);
    expect(guard.admit('d-1', body)).toBe(true);
    expect(guard.admit('d-1', Buffer.from('other body'))).toBe(false);
    expect(guard.admit(undefined, body)).toBe(false);
    expect(guard.admit('d-2', body)).toBe(false);
    now = 1_001;
    expect(guard.admit('d-1', body)).toBe(true);
  });

  it('stays within its size, forgetting the oldest first', () => {
    const guard = new ReplayGuard(60_000, 4, () => 0);
    for (let i = 0; i < 10; i++) expect(guard.admit(`d-${i}`, Buffer.from(`body ${i}`))).toBe(true);
    expect(guard.admit('d-9', Buffer.from('x'))).toBe(false);
    expect(guard.admit('d-0', Buffer.from('y'))).toBe(true);
  });
});

describe('webhookDecision', () => {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  it('a ping triggers nothing', () => {
    expect(webhookDecision('ping', json({ zen: 'Keep it simple.' }), 'main')).toMatchObject({ trigger: false, reason: 'ping' });
  });
  it('a push to the deployed branch triggers a pass, to another branch nothing', () => {
    expect(webhookDecision('push', json({ ref: 'refs/heads/main' }), 'main')).toEqual({ trigger: true, event: 'push' });
    expect(webhookDecision('push', json({ ref: 'refs/heads/feature' }), 'main')).toMatchObject({ trigger: false, reason: 'refs/heads/feature is not the deployed branch main' });
    expect(webhookDecision('push', json({ ref: 'refs/tags/v1' }), 'main').trigger).toBe(false);
  });
  it('a body it cannot read still triggers: the pass finds out what changed', () => {
    expect(webhookDecision(undefined, Buffer.from('not json'), 'main')).toEqual({ trigger: true });
    expect(webhookDecision('push', json({ after: 'abc' }), 'main').trigger).toBe(true);
  });
});
