// The webhook endpoint's checks: a GitHub-style HMAC-SHA256 signature over the raw body
// (`X-Hub-Signature-256: sha256=<hex>`), compared in constant time, with the secret read
// from control.webhook_secret_file at each request (so it can be rotated without a reload).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { open } from 'node:fs/promises';

export type SignatureCheck = 'ok' | 'missing' | 'malformed' | 'mismatch';

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

export function checkSignature(secret: Buffer, body: Buffer, header: string | undefined): SignatureCheck {
  if (header === undefined || header === '') return 'missing';
  const match = SIGNATURE.exec(header.trim());
  if (!match) return 'malformed';
  const given = Buffer.from(match[1]!, 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  if (given.length !== expected.length) return 'mismatch';
  return timingSafeEqual(given, expected) ? 'ok' : 'mismatch';
}

export function signBody(secret: Buffer | string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A secret file holds a few bytes; anything larger is a mistake, not a secret. */
const MAX_SECRET_BYTES = 4096;

/**
 * The secret, without the trailing newline an editor or `echo` leaves. Throws when the
 * file is unreadable, empty or oversized: the endpoint then refuses every request.
 */
export async function readWebhookSecret(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_SECRET_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_SECRET_BYTES) throw new Error(`${path} is larger than ${MAX_SECRET_BYTES} bytes`);
    const secret = Buffer.from(buf.subarray(0, bytesRead).toString('utf8').replace(/[\r\n]+$/, ''), 'utf8');
    if (secret.length === 0) throw new Error(`${path} is empty`);
    return secret;
  } finally {
    await handle.close();
  }
}

export type WebhookDecision = { trigger: true; event?: string } | { trigger: false; event?: string; reason: string };

/**
 * What a verified delivery asks for. A ping only checks the hook; a push to another
 * branch changes nothing this host deploys. Anything else (another forge's payload,
 * a body that is not JSON) triggers a pass: the pass itself finds out what changed.
 */
export function webhookDecision(event: string | undefined, body: Buffer, branch: string): WebhookDecision {
  if (event === 'ping') return { trigger: false, event, reason: 'ping' };
  let ref: unknown;
  try {
    ref = (JSON.parse(body.toString('utf8')) as { ref?: unknown }).ref;
  } catch {
    ref = undefined;
  }
  if (typeof ref === 'string' && ref.startsWith('refs/') && ref !== `refs/heads/${branch}`) {
    return { trigger: false, ...(event ? { event } : {}), reason: `${ref} is not the deployed branch ${branch}` };
  }
  return { trigger: true, ...(event ? { event } : {}) };
}
