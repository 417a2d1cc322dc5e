// Announces passes to the [notify] receivers (docs/operations.md "Notifications"): each
// command gets the pass's JSON on stdin, each URL gets it as a signed POST. Sends run in
// the background, one announcement after the other, after the pass has released its
// lock: a slow or dead receiver delays no pass. Announcements waiting behind a slow one
// are bounded; past the bound the newest is dropped, logged, and not recorded as sent.
import { randomUUID } from 'node:crypto';
import type { NotifyConfig } from '../core/config/schema';
import { notifyResultOf, retryDelayMs, shouldNotify } from '../core/notify-policy';
import type { Logger } from '../host/log';
import { notifyAccount, runNotifyCommand } from '../host/notify-command';
import type { PassResult } from '../pass/pass-result';
import { readNotified, writeNotified } from '../state/notified';
import type { PassOutcome, SerializedError } from './protocol';
import { readWebhookSecret, signBody } from './webhook';
import { JSON_SCHEMA } from '../core/json-schema';
import { BackgroundChain } from './background-chain';

/** What a receiver gets: the result `moor reconcile --once --json` prints, or the error a pass ended with. */
export type NotifyPayload = PassResult | { kind: 'error'; exitCode: number; summary: string; error: SerializedError };

/** The payload of a daemon pass's outcome; a cancelled pass (the daemon stopping) is not announced. */
export function notifyPayloadOf(outcome: PassOutcome): NotifyPayload | undefined {
  if (outcome.kind === 'result') return outcome.result;
  if (outcome.kind === 'error') return { kind: 'error', exitCode: outcome.exitCode, summary: outcome.summary, error: outcome.error };
  return undefined;
}

/** The header carrying the body's HMAC-SHA256, `sha256=<hex>`, as the incoming webhook's. */
export const SIGNATURE_HEADER = 'X-Moor-Signature-256';

export interface NotifySenderOptions {
  /** The [notify] config in force (a reload changes it); undefined: nobody to tell. */
  config: () => NotifyConfig | undefined;
  stateDir: () => string;
  log: Logger;
  /** The first retry's wait; each next one doubles. */
  retryBaseMs?: number;
  /** Announcements waiting at most (beyond the one being sent). */
  maxQueued?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class NotifySender {
  private readonly chain = new BackgroundChain();
  private queued = 0;

  constructor(private readonly opts: NotifySenderOptions) {}

  /** Queues the pass for announcement and returns at once; never throws. */
  announce(payload: NotifyPayload): void {
    if (!this.opts.config()) return;
    if (this.queued >= (this.opts.maxQueued ?? 8)) {
      this.opts.log.warn({ exit: payload.exitCode }, 'notify: too many announcements wait behind a slow receiver; this pass is not announced');
      return;
    }
    this.queued++;
    this.chain.queue(async () => {
      this.queued--;
      try {
        await this.deliver(payload);
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, 'notify: the announcement failed');
      }
    });
  }

  /** Resolves once every queued announcement has been sent or has failed. */
  idle(): Promise<void> {
    return this.chain.idle();
  }

  private async deliver(payload: NotifyPayload): Promise<void> {
    const config = this.opts.config();
    if (!config) return;
    const stateDir = this.opts.stateDir();
    const result = notifyResultOf(payload.exitCode);
    const last = await readNotified(stateDir);
    if (!shouldNotify(config.on, last, result)) {
      this.opts.log.debug({ result }, 'notify: the result has not changed: nothing sent');
      return;
    }
    // Recorded before sending: a receiver that is down must not make every next pass resend.
    await writeNotified(stateDir, { result, exitCode: payload.exitCode, at: new Date().toISOString() });
    // The same JSON `moor reconcile --once --json` prints, its schema version first.
    const body = JSON.stringify({ schema: JSON_SCHEMA, ...payload }, null, 2);
    this.opts.log.info({ result, exit: payload.exitCode, previous: last ?? 'none' }, `notify: announcing a pass that ${result === 'ok' ? 'succeeded' : `ended with exit ${payload.exitCode}`}`);
    await Promise.all([this.runCommands(config, body), ...config.urls.map((url) => this.post(config, url, body))]);
  }

  private async runCommands(config: NotifyConfig, body: string): Promise<void> {
    if (config.commands.length === 0) return;
    const account = await notifyAccount(config.user!).catch((err: Error) => {
      this.opts.log.error({ user: config.user }, `notify: ${err.message}`);
      return undefined;
    });
    if (!account) return;
    for (const argv of config.commands) {
      const run = await runNotifyCommand(account, argv, `${body}\n`, config.timeoutMs);
      const fields = { command: argv[0], user: account.name, exit: run.exitCode ?? undefined, signal: run.signal ?? undefined };
      if (run.timedOut) this.opts.log.warn(fields, `notify: ${argv[0]} was killed at its timeout (notify.timeout = ${config.timeoutMs} ms)`);
      else if (run.exitCode !== 0) this.opts.log.warn({ ...fields, stderr: run.stderrTail }, `notify: ${argv[0]} failed`);
      else this.opts.log.info(fields, `notify: ${argv[0]} ran`);
    }
  }

  private async post(config: NotifyConfig, url: string, body: string): Promise<void> {
    let secret: Buffer;
    try {
      secret = await readWebhookSecret(config.secretFile!);
    } catch (err) {
      this.opts.log.error({ url }, `notify: key "notify.secret_file": ${(err as Error).message}; nothing POSTed`);
      return;
    }
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'moor-notify',
      'X-Moor-Event': 'pass',
      // The same id on every retry, so a receiver can drop a delivery it already has.
      'X-Moor-Delivery': randomUUID(),
      [SIGNATURE_HEADER]: signBody(secret, body),
    };
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let attempt = 0; ; attempt++) {
      let why: string;
      try {
        const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(config.timeoutMs) });
        await res.body?.cancel();
        if (res.ok) {
          this.opts.log.info({ url, status: res.status, attempt: attempt + 1 }, 'notify: POST delivered');
          return;
        }
        why = `HTTP ${res.status}`;
        // A receiver that refuses the request (bad signature, wrong path) refuses it again.
        if (res.status < 500 && res.status !== 429 && res.status !== 408) {
          this.opts.log.warn({ url, status: res.status }, `notify: POST refused (${why}): not retried`);
          return;
        }
      } catch (err) {
        why = (err as Error).name === 'TimeoutError' ? `no answer within ${config.timeoutMs} ms` : (err as Error).message;
      }
      if (attempt >= config.retries) {
        this.opts.log.warn({ url, attempts: attempt + 1 }, `notify: POST failed (${why}); given up after ${attempt + 1} attempts (notify.retries = ${config.retries})`);
        return;
      }
      const wait = retryDelayMs(attempt + 1, this.opts.retryBaseMs ?? 2_000);
      this.opts.log.info({ url, attempt: attempt + 1, retryInMs: wait }, `notify: POST failed (${why}): retrying`);
      await sleep(wait);
    }
  }
}
