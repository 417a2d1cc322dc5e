// The webhook endpoint's checks: a GitHub-style HMAC-SHA256 signature over the raw body
// (`X-Hub-Signature-256: sha256=<hex>`) or GitLab's shared token (`X-Gitlab-Token`), both
// compared in constant time, with the secret read from control.webhook_secret_file at each
// request (so it can be rotated without a reload); the file must be root's alone. A
// verified delivery is accepted once: a replay of it (same delivery id, or same body)
// within the window triggers nothing.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
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
  // O_NOFOLLOW: a symlink planted in place of the file is refused, never followed.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ELOOP' ? `${path} is a symlink: name the file itself` : `${path}: ${err.code ?? err.message}`);
  });
  try {
    const stat = await handle.stat();
    const owner = process.getuid?.() ?? 0;
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    if (stat.uid !== owner) throw new Error(`${path} is owned by uid ${stat.uid}, not ${owner}: chown root ${path}`);
    if ((stat.mode & 0o077) !== 0) {
      throw new Error(`${path} has mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}: others may read the secret; chmod 600 ${path} and rotate it`);
    }
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
