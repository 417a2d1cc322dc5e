// The webhook endpoint's checks: a GitHub-style HMAC-SHA256 signature over the raw body
// (`X-Hub-Signature-256: sha256=<hex>`) or GitLab's shared token (`X-Gitlab-Token`), both
// compared in constant time, with the secret read from control.webhook_secret_file at each
// request (so it can be rotated without a reload); the file must be root's alone. A
// verified delivery is accepted once: a replay of it (same delivery id, or same body)
// within the window triggers nothing.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readRootOnlyFile } from '../host/root-only-file';

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

/** GitLab sends the secret itself: compared through digests, so in constant time whatever the lengths. */
export function checkToken(secret: Buffer, header: string | undefined): SignatureCheck {
  if (header === undefined || header === '') return 'missing';
  const given = createHash('sha256').update(header, 'utf8').digest();
  const expected = createHash('sha256').update(secret).digest();
  return timingSafeEqual(given, expected) ? 'ok' : 'mismatch';
}

/** A secret file holds a few bytes; anything larger is a mistake, not a secret. */
const MAX_SECRET_BYTES = 4096;

/**
 * The secret, without the trailing newline an editor or `echo` leaves. Throws when the
 * file is unreadable, empty or oversized, a symlink, not a regular file, not owned by the
 * user moor runs as (root), or readable or writable by anyone else: the endpoint then
 * refuses every request, and a start or reload with such a file fails.
 */
export async function readWebhookSecret(path: string): Promise<Buffer> {
  const bytes = await readRootOnlyFile(path, MAX_SECRET_BYTES, 'the secret');
  const secret = Buffer.from(bytes.toString('utf8').replace(/[\r\n]+$/, ''), 'utf8');
  if (secret.length === 0) throw new Error(`${path} is empty`);
  return secret;
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

/**
 * Verified deliveries seen recently, by delivery id and by body digest. A forge retries or
 * redelivers with the same id; a captured delivery replayed by someone else carries the
 * same body (and signature). Bounded in time and in size, oldest first out.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs = 24 * 60 * 60 * 1000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True the first time; false for a replay within the window. Records the delivery. */
  admit(deliveryId: string | undefined, body: Buffer): boolean {
    const at = this.now();
    for (const [key, when] of this.seen) {
      if (at - when <= this.windowMs) break;
      this.seen.delete(key);
    }
    const keys = [`body:${createHash('sha256').update(body).digest('hex')}`, ...(deliveryId ? [`id:${deliveryId}`] : [])];
    if (keys.some((k) => this.seen.has(k))) return false;
    for (const k of keys) this.seen.set(k, at);
    while (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }
}
