// The commands' side of the control API: `moor status` and `moor reconcile --once` ask the
// running daemon when its socket answers, and run in their own process when it does not.
import { stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { HostError } from '../core/errors';
import type { ItemOutcome, PassResult } from '../pass/pass-result';
import { reviveError, type ReconcileLine } from '../service/protocol';

/** The socket is not there, or not for us: run in-process without a word. */
export class DaemonAbsent extends Error {
  override readonly name = 'DaemonAbsent';
}

/** Connect errors that mean "no daemon here" rather than "a daemon in trouble". */
const ABSENT = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK', 'ENOTDIR', 'ECONNRESET']);

export interface ClientOptions {
  socketPath: string;
  /** Bound on the whole answer of a plain request (a socket-activated daemon must start first). */
  timeoutMs?: number;
}

async function open(opts: ClientOptions, method: string, path: string, idleTimeoutMs: number | undefined): Promise<IncomingMessage> {
  // No socket file, no daemon: said without loading node's HTTP client, which is most of
  // what asking costs a `moor status` on a host whose daemon is not running.
  const missing = await stat(opts.socketPath).then(
    () => undefined,
    (err: NodeJS.ErrnoException) => (err.code && ABSENT.has(err.code) ? err.code : undefined),
  );
  if (missing) throw new DaemonAbsent(`${opts.socketPath}: ${missing}`);
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    let connected = false;
    // A connection of its own (no keep-alive agent): "connected" must mean this request's.
    const req = request({ socketPath: opts.socketPath, method, path, agent: false, headers: { 'Content-Length': '0' } }, resolve);
    req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(!connected && err.code && ABSENT.has(err.code) ? new DaemonAbsent(`${opts.socketPath}: ${err.code}`) : err);
    });
    if (idleTimeoutMs !== undefined) {
      req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`the daemon did not answer within ${idleTimeoutMs} ms`)));
    }
    req.end();
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

/** GET a JSON document. Throws DaemonAbsent when nothing listens, another Error when the daemon failed. */
export async function getJson<T>(opts: ClientOptions, path: string): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const res = await open(opts, 'GET', path, timeoutMs);
  const text = await readAll(res);
  if (res.statusCode !== 200) throw new Error(`the daemon answered ${res.statusCode}: ${text.trim()}`);
  return JSON.parse(text) as T;
}

export interface ReconcileCallbacks {
  /** coalesced: a pass was running; the one reported is the follow-up. */
  onAccepted?: (coalesced: boolean) => void;
  onItem?: (item: ItemOutcome) => void;
}

/**
 * Asks the daemon for a pass and follows it to its end. Resolves with the pass's result;
 * rejects with the pass's error (same category, so the same exit code), with
 * DaemonAbsent when no daemon answers, or with a HostError when the daemon went away
 * after taking the request (the pass may still have run: see moor status).
 */
export async function reconcileViaDaemon(opts: ClientOptions, callbacks: ReconcileCallbacks = {}): Promise<PassResult> {
  // Only the wait for the answer's head is bounded; a pass may take many minutes between lines.
  const res = await open(opts, 'POST', '/v1/reconcile', opts.timeoutMs ?? 60_000);
  res.socket.setTimeout(0);
  if (res.statusCode === 503) {
    await readAll(res);
    throw new DaemonAbsent('the daemon is stopping');
  }
  if (res.statusCode !== 200) throw new Error(`the daemon answered ${res.statusCode}: ${(await readAll(res)).trim()}`);
  res.setEncoding('utf8');
  let buffered = '';
  let accepted = false;
  for await (const chunk of res) {
    buffered += chunk as string;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!text.trim()) continue;
      const line = JSON.parse(text) as ReconcileLine;
      if (line.type === 'accepted') {
        accepted = true;
        callbacks.onAccepted?.(line.coalesced);
      } else if (line.type === 'item') callbacks.onItem?.(line.item);
      else if (line.type === 'result') return line.result;
      else if (line.type === 'error') throw reviveError(line.error);
    }
  }
  throw new HostError(
    accepted
      ? 'the daemon closed the connection before the pass ended (moor status shows how it went)'
      : 'the daemon closed the connection without taking the request',
  );
}
