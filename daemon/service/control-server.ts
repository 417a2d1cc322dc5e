// The control API: HTTP over a unix socket (control.socket, root-only by default), or over
// the socket systemd passed (moor.socket). Every request is bounded in size and time; only
// the reconcile stream may last as long as its pass.
//
//   GET  /v1/status        the report of `moor status --json`, plus the daemon's own state
//   GET  /v1/generations   the list of `moor generations --json`
//   POST /v1/reconcile     trigger a pass and wait: newline-delimited JSON, one line per
//                          item, then the result (a running pass is followed by one more)
//   POST /v1/webhook       when control.webhook_secret_file is set: HMAC-SHA256 signed
//                          (X-Hub-Signature-256) or GitLab token (X-Gitlab-Token)
//                          trigger, answered at once; a replayed delivery triggers nothing
//   GET  /metrics          Prometheus text format (core/metrics.ts), where Prometheus
//                          looks by default
//
// Whoever can reach the socket must not be able to starve it: a connection that sends no
// request is dropped after firstRequestMs, an idle one after idleMs, one in error is
// destroyed, and past maxConnections the oldest connection with no request in flight
// makes room for the new one. A reconcile stream holds its connection for its pass; at
// most maxStreams of them run at once.
import { connect, type Socket } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HostError } from '../core/errors';
import { EXPOSITION_CONTENT_TYPE } from '../core/metrics';
import type { Logger } from '../host/log';
import type { ItemOutcome } from '../pass/pass-result';
import type { Ticket } from './pass-loop';
import type { ReconcileLine } from './protocol';
import { checkSignature, checkToken, readWebhookSecret, ReplayGuard, webhookDecision } from './webhook';

export interface ControlApi {
  status(): Promise<unknown>;
  generations(): Promise<unknown>;
  /** The Prometheus exposition text. */
  metrics(): Promise<string>;
  reconcile(onItem: (item: ItemOutcome) => void): Ticket;
  /** The webhook's secret file; undefined: the endpoint does not exist. */
  webhookSecretFile(): string | undefined;
  branch(): string;
  triggerWebhook(): void;
  stopping(): boolean;
}

export interface ControlLimits {
  bodyBytes: number;
  webhookBodyBytes: number;
  /** A new connection must send a whole request head within this. */
  firstRequestMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** A connection with no request in flight is closed after this. */
  idleMs: number;
  maxConnections: number;
  /** Reconcile streams open at once. */
  maxStreams: number;
}

export const DEFAULT_LIMITS: ControlLimits = {
  bodyBytes: 64 * 1024,
  // GitHub caps a delivery at 25 MB, but a push payload is a few KB to a few hundred KB.
  webhookBodyBytes: 5 * 1024 * 1024,
  firstRequestMs: 5_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 15_000,
  idleMs: 10_000,
  maxConnections: 64,
  maxStreams: 16,
};

export interface ControlServerOptions {
  api: ControlApi;
  log: Logger;
  socketPath: string;
  mode: number;
  /** A listening socket passed by systemd: served instead of binding socketPath. */
  listenFd?: number;
  limits?: Partial<ControlLimits>;
}

export interface ControlServer {
  /** Where it listens, for logs. */
  readonly where: string;
  readonly activated: boolean;
  /** Connections open now (bounded by maxConnections). */
  connections(): number;
  /** Applies a new control.mode to a socket this process bound. */
  setMode(mode: number): Promise<void>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const log = opts.log;
  const conns = new Connections(limits, log);
  const replays = new ReplayGuard();
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: 5_000,
      // How often the two bounds above are enforced (Node's default is every 30 s).
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: 16 * 1024,
    },
    (req, res) => {
      conns.begin(req.socket, res);
      handle(req, res, opts.api, { limits, replays, conns }, log).catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        if (status >= 500) log.error({ err: (err as Error).message, path: req.url }, 'control request failed');
        if (status === 413) req.resume();
        if (!res.headersSent) sendJson(res, status, { error: (err as Error).message }, status === 413);
        else res.destroy();
      });
    },
  );
  server.maxHeadersCount = 64;
  server.on('connection', (socket: Socket) => conns.add(socket));
  server.on('clientError', (_err, socket) => {
    // Answer if it can be answered, and never keep the socket: it is done either way.
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n', () => socket.destroy());
    else socket.destroy();
  });

  if (opts.listenFd !== undefined) {
    await listen(server, { fd: opts.listenFd });
    log.info({ fd: opts.listenFd }, 'control API on the socket passed by systemd');
    return handleFor(server, conns, `fd ${opts.listenFd} (socket activation)`, true, undefined);
  }

  await prepareSocketPath(opts.socketPath);
  // The socket is created with the umask's mode: bind it owner-only, then widen to control.mode.
  const umask = process.umask(0o177);
  try {
    await listen(server, { path: opts.socketPath });
  } finally {
    process.umask(umask);
  }
  await chmod(opts.socketPath, opts.mode);
  log.info({ socket: opts.socketPath, mode: opts.mode.toString(8).padStart(4, '0') }, 'control API listening');
  return handleFor(server, conns, opts.socketPath, false, opts.socketPath);
}

/**
 * The open connections, each with whether a request is in flight on it. Node's own
 * maxConnections refuses newcomers once idle sockets fill the slots; here an idle socket
 * gives way instead, so a well-behaved client always gets in.
 */
class Connections {
  private readonly open = new Map<Socket, { busy: number; since: number }>();
  private streams = 0;

  constructor(
    private readonly limits: ControlLimits,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.open.size;
  }

  add(socket: Socket): void {
    if (this.open.size >= this.limits.maxConnections) {
      const idle = [...this.open].filter(([, c]) => c.busy === 0).sort(([, a], [, b]) => a.since - b.since)[0];
      if (!idle) {
        this.log.warn({ open: this.open.size }, 'control socket: every connection is busy; refusing a new one');
        socket.destroy();
        return;
      }
      idle[0].destroy();
      this.open.delete(idle[0]);
    }
    this.open.set(socket, { busy: 0, since: Date.now() });
    socket.once('close', () => this.open.delete(socket));
    socket.on('error', () => socket.destroy());
    // The HTTP parser reads the socket's handle directly (no 'data' events), so the bound
    // is on a whole request arriving, not on a first byte.
    socket.setTimeout(this.limits.firstRequestMs, () => socket.destroy());
  }

  /**
   * A request on this socket: busy (never evicted, and bounded by the server's request
   * timeout instead of ours) until its response is done; then idle again.
   */
  begin(socket: Socket, res: ServerResponse): void {
    const c = this.open.get(socket);
    if (!c) return;
    c.busy++;
    socket.setTimeout(0);
    res.once('close', () => {
      c.busy--;
      c.since = Date.now();
      if (c.busy === 0 && !socket.destroyed) socket.setTimeout(this.limits.idleMs);
    });
  }

  /** A reconcile stream may be silent for as long as its pass works: no idle timeout, a bound on how many. */
  stream(socket: Socket, res: ServerResponse): boolean {
    if (this.streams >= this.limits.maxStreams) return false;
    this.streams++;
    res.once('close', () => this.streams--);
    return true;
  }
}

function handleFor(server: Server, conns: Connections, where: string, activated: boolean, boundPath: string | undefined): ControlServer {
  return {
    where,
    activated,
    connections: () => conns.size,
    async setMode(mode) {
      if (boundPath) await chmod(boundPath, mode);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Streams still open have had their last line by now; do not wait on slow readers.
      const force = setTimeout(() => server.closeAllConnections(), 1_000);
      force.unref();
      await closed;
      clearTimeout(force);
      if (boundPath) await unlink(boundPath).catch(() => undefined);
    },
  };
}

function listen(server: Server, target: { fd: number } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(target, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A socket file left by a daemon that died is removed; one that answers means another daemon runs. */
async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const stat = await lstat(path).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) throw new HostError(`${path} exists and is not a socket; refusing to replace it (control.socket)`);
  if (await answers(path)) throw new HostError(`another process answers on ${path}: is a moor daemon already running (systemctl status moor)?`);
  await unlink(path);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

interface Serving {
  limits: ControlLimits;
  replays: ReplayGuard;
  conns: Connections;
}

async function handle(req: IncomingMessage, res: ServerResponse, api: ControlApi, serving: Serving, log: Logger): Promise<void> {
  const { limits } = serving;
  const path = (req.url ?? '/').split('?')[0];
  const route = ROUTES[path ?? ''];
  if (!route || (path === '/v1/webhook' && api.webhookSecretFile() === undefined)) {
    req.resume();
    return sendJson(res, 404, { error: `no such endpoint: ${path}` });
  }
  if (req.method !== route.method) {
    req.resume();
    res.setHeader('Allow', route.method);
    return sendJson(res, 405, { error: `${path} takes ${route.method}` });
  }
  switch (path) {
    case '/v1/status':
      return sendJson(res, 200, await api.status());
    case '/v1/generations':
      return sendJson(res, 200, await api.generations());
    case '/metrics':
      return sendMetrics(res, await api.metrics());
    case '/v1/reconcile':
      await readBody(req, limits.bodyBytes);
      if (!serving.conns.stream(req.socket, res)) return sendJson(res, 503, { error: `${limits.maxStreams} reconcile streams are open: try again when a pass ends` });
      return reconcile(res, api);
    default:
      return webhook(req, res, api, serving, log);
  }
}

const ROUTES: Record<string, { method: string }> = {
  '/v1/status': { method: 'GET' },
  '/v1/generations': { method: 'GET' },
  '/v1/reconcile': { method: 'POST' },
  '/v1/webhook': { method: 'POST' },
  '/metrics': { method: 'GET' },
};

async function reconcile(res: ServerResponse, api: ControlApi): Promise<void> {
  if (api.stopping()) return sendJson(res, 503, { error: 'the daemon is stopping' });
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
  const write = (line: ReconcileLine) => {
    if (!res.destroyed && !res.writableEnded) res.write(`${JSON.stringify(line)}\n`);
  };
  const ticket = api.reconcile((item) => write({ type: 'item', item }));
  res.on('close', () => ticket.detach());
  write({ type: 'accepted', coalesced: ticket.coalesced });
  const outcome = await ticket.outcome;
  if (outcome.kind === 'result') write({ type: 'result', result: outcome.result });
  else if (outcome.kind === 'error') write({ type: 'error', error: outcome.error, exitCode: outcome.exitCode });
  else write({ type: 'error', error: { name: 'HostError', category: 'host', message: outcome.summary }, exitCode: 1 });
  res.end();
}

async function webhook(req: IncomingMessage, res: ServerResponse, api: ControlApi, serving: Serving, log: Logger): Promise<void> {
  const body = await readBody(req, serving.limits.webhookBodyBytes);
  const signature = headerValue(req, 'x-hub-signature-256', 1024);
  const token = headerValue(req, 'x-gitlab-token', 1024);
  const delivery = headerValue(req, 'x-github-delivery') ?? headerValue(req, 'x-gitlab-event-uuid');
  const event = headerValue(req, 'x-github-event') ?? headerValue(req, 'x-gitlab-event');
  const forwardedFor = headerValue(req, 'x-forwarded-for');
  const who = { ...(delivery ? { delivery } : {}), ...(event ? { event } : {}), ...(forwardedFor ? { forwarded_for: forwardedFor } : {}) };
  if (api.stopping()) return sendJson(res, 503, { error: 'the daemon is stopping' });
  const file = api.webhookSecretFile()!;
  let secret: Buffer;
  try {
    secret = await readWebhookSecret(file);
  } catch (err) {
    log.error({ ...who, err: (err as Error).message }, 'webhook refused: the secret file cannot be used');
    return sendJson(res, 503, { error: 'the webhook secret is not available on this host' });
  }
  // A signature when there is one (GitHub, Gitea, Forgejo), else GitLab's token.
  const check = signature !== undefined || token === undefined ? checkSignature(secret, body, signature) : checkToken(secret, token);
  if (check !== 'ok') {
    if (check === 'missing') log.warn(who, 'webhook refused: no X-Hub-Signature-256 or X-Gitlab-Token header; nothing triggered');
    else log.error({ ...who, check }, 'webhook refused: bad signature; nothing triggered');
    return sendJson(res, 401, { error: check === 'missing' ? 'signature required (X-Hub-Signature-256 or X-Gitlab-Token)' : 'bad signature' });
  }
  if (!serving.replays.admit(delivery, body)) {
    log.warn(who, 'webhook refused: a replay of a delivery already accepted; nothing triggered');
    return sendJson(res, 200, { triggered: false, reason: 'replay of a delivery already accepted' });
  }
  const decision = webhookDecision(event, body, api.branch());
  if (!decision.trigger) {
    log.info({ ...who, reason: decision.reason }, 'webhook verified: no pass needed');
    return sendJson(res, 200, { triggered: false, reason: decision.reason });
  }
  log.info(who, 'webhook verified: pass triggered');
  api.triggerWebhook();
  return sendJson(res, 202, { triggered: true });
}

function headerValue(req: IncomingMessage, name: string, max = 200): string | undefined {
  const v = req.headers[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one ? one.slice(0, max) : undefined;
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return Promise.reject(new HttpError(413, `request body over ${max} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        reject(new HttpError(413, `request body over ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendMetrics(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'Content-Type': EXPOSITION_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(text);
}
