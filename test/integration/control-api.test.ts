// The control API over a real unix socket in a temp dir: status, generations, reconcile
// streaming per-item progress (and coalescing into the follow-up pass), the bounds on
// requests, the socket file's mode and stale-socket handling, and the webhook: only a
// correctly signed delivery triggers anything.
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DaemonAbsent, getJson, reconcileViaDaemon } from '../../daemon/cli/control-client';
import { startControlServer, type ControlApi, type ControlServer } from '../../daemon/service/control-server';
import { PassLoop, type PassRequest } from '../../daemon/service/pass-loop';
import type { PassOutcome } from '../../daemon/service/protocol';
import { signBody } from '../../daemon/service/webhook';
import { summarize, type ItemOutcome } from '../../daemon/pass/pass-result';
import { SourceError, ValidationError } from '../../daemon/core/errors';
import { createLogger } from '../../daemon/host/log';

let dir: string;
let socketPath: string;
let server: ControlServer | undefined;
let logs: string[];
let webhookTriggers: number;
let secretFile: string | undefined;
let stopping: boolean;

/** Passes the test ends itself, each reporting the items the test feeds it. */
let gates: Array<{ request: PassRequest; end: (o: PassOutcome) => void }>;
let loop: PassLoop;

const log = () => createLogger('debug', { write: (l) => void logs.push(l), journal: true });

function item(workload: string, result: 'ok' | 'failed' = 'ok'): ItemOutcome {
  return { workload, user: workload, action: 'update', reason: 'changed', changed: [], removed: [], result, durationMs: 5 };
}

function passResult(items: ItemOutcome[], commit = 'abcdef1234') {
  return summarize({ kind: 'pass', dryRun: false, commit, source: '/srv/git/deploy.git', generation: 7, generationState: 'complete', items });
}

async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function start(overrides: Partial<ControlApi> = {}, limits = {}): Promise<ControlServer> {
  const l = log();
  loop = new PassLoop(
    (request) =>
      new Promise((end) => {
        gates.push({ request, end });
      }),
    { log: l },
  );
  const api: ControlApi = {
    status: async () => ({ live: { generation: 7, commit: 'abcdef1234', source: 'x', kind: 'pass' }, workloads: [], daemon: { pid: process.pid } }),
    generations: async () => [{ generation: 7, state: 'complete', current: true }],
    metrics: async () => '# TYPE moor_live_generation gauge\nmoor_live_generation 7\n',
    reconcile: (onItem) => loop.trigger('control', onItem),
    webhookSecretFile: () => secretFile,
    branch: () => 'main',
    triggerWebhook: () => void webhookTriggers++,
    stopping: () => stopping,
    ...overrides,
  };
  server = await startControlServer({ api, log: l, socketPath, mode: 0o600, limits });
  return server;
}

/** The socket file a SIGKILLed daemon leaves: bound, nobody listening. */
function staleSocket(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const code = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', code], { timeout: 10_000 });
}

interface Raw {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function raw(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('test request timed out')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-control-'));
  socketPath = join(dir, 'run', 'moor.sock');
  logs = [];
  gates = [];
  webhookTriggers = 0;
  secretFile = undefined;
  stopping = false;
});

afterEach(async () => {
  for (const g of gates) g.end({ kind: 'cancelled', summary: 'test over' });
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('the control socket', () => {
  it('is created owner-only (control.mode) and removed on close', async () => {
    await start();
    const st = lstatSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await server!.close();
    server = undefined;
    expect(() => lstatSync(socketPath)).toThrow(/ENOENT/);
  });

  it('takes another mode from the config, and a new one on reload', async () => {
    const l = log();
    server = await startControlServer({ api: {} as ControlApi, log: l, socketPath, mode: 0o660 });
    expect(statSync(socketPath).mode & 0o777).toBe(0o660);
    await server.setMode(0o600);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
  });

  it('replaces a socket file left by a dead daemon, refuses one that answers and a non-socket', async () => {
    staleSocket(socketPath);
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    await start();
    expect((await getJson<{ workloads: unknown[] }>({ socketPath }, '/v1/status')).workloads).toEqual([]);

    // A second daemon on the same path is refused: this one answers.
    await expect(startControlServer({ api: {} as ControlApi, log: log(), socketPath, mode: 0o600 })).rejects.toThrow(/another process answers/);
    await server!.close();
    server = undefined;

    writeFileSync(socketPath, 'not a socket');
    await expect(startControlServer({ api: {} as ControlApi, log: log(), socketPath, mode: 0o600 })).rejects.toThrow(/not a socket/);
  });
});

describe('GET /v1/status and /v1/generations', () => {
  it('answer JSON', async () => {
    await start();
    expect(await getJson({ socketPath }, '/v1/status')).toMatchObject({ live: { generation: 7 }, daemon: { pid: process.pid } });
    expect(await getJson({ socketPath }, '/v1/generations')).toEqual([{ generation: 7, state: 'complete', current: true }]);
  });

  it('a client finds no daemon when nothing listens (and falls back)', async () => {
    await expect(getJson({ socketPath }, '/v1/status')).rejects.toBeInstanceOf(DaemonAbsent);
    // A socket file nobody listens on (daemon died) is "absent" too.
    staleSocket(socketPath);
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    await expect(getJson({ socketPath }, '/v1/status')).rejects.toBeInstanceOf(DaemonAbsent);
  });

  it('a client that may not connect (not root) finds no daemon', async () => {
    await start();
    chmodSync(socketPath, 0o000);
    if (process.getuid?.() === 0) return; // root connects anyway
    await expect(getJson({ socketPath }, '/v1/status')).rejects.toBeInstanceOf(DaemonAbsent);
  });

  it('a failing handler answers 500 and is logged', async () => {
    await start({
      status: async () => {
        throw new Error('state dir unreadable');
      },
    });
    const r = await raw('GET', '/v1/status');
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toEqual({ error: 'state dir unreadable' });
    expect(logs.some((l) => l.startsWith('<3>control request failed'))).toBe(true);
  });

  it('GET /metrics answers the exposition text as Prometheus asks for it; other methods are 405', async () => {
    await start();
    const r = await raw('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toBe('# TYPE moor_live_generation gauge\nmoor_live_generation 7\n');
    expect((await raw('POST', '/metrics', '')).status).toBe(405);
  });

  it('unknown paths are 404, wrong methods 405', async () => {
    await start();
    expect((await raw('GET', '/v1/nothing')).status).toBe(404);
    expect((await raw('GET', '/')).status).toBe(404);
    const r = await raw('POST', '/v1/status', '');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET');
    expect((await raw('GET', '/v1/reconcile')).status).toBe(405);
  });
});

describe('POST /v1/reconcile', () => {
  it('streams one line per item, then the result', async () => {
    await start();
    const seen: string[] = [];
    let coalesced: boolean | undefined;
    const done = reconcileViaDaemon({ socketPath }, { onAccepted: (c) => (coalesced = c), onItem: (i) => seen.push(`${i.workload}:${i.result}`) });
    await waitFor(() => gates.length === 1, 'the pass to start');
    gates[0]!.request.onItem(item('api'));
    await waitFor(() => seen.length === 1, 'the first item to arrive before the pass ends');
    gates[0]!.request.onItem(item('web', 'failed'));
    gates[0]!.end({ kind: 'result', result: passResult([item('api'), item('web', 'failed')]) });
    const result = await done;
    expect(coalesced).toBe(false);
    expect(seen).toEqual(['api:ok', 'web:failed']);
    expect(result).toMatchObject({ generation: 7, exitCode: 1, summary: 'gen 7 @abcdef1: 1 applied, 0 unchanged, 1 failed (web), 0 removed' });
  });

  it('sends newline-delimited JSON on the wire', async () => {
    await start();
    const r = raw('POST', '/v1/reconcile', '');
    await waitFor(() => gates.length === 1, 'the pass to start');
    gates[0]!.request.onItem(item('api'));
    gates[0]!.end({ kind: 'result', result: passResult([item('api')]) });
    const res = await r;
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(['accepted', 'item', 'result']);
  });

  it('while a pass runs: coalesces and streams the follow-up pass, not the running one', async () => {
    await start();
    loop.trigger('schedule');
    await waitFor(() => gates.length === 1, 'the scheduled pass to start');
    const seenA: string[] = [];
    const seenB: string[] = [];
    const flags: boolean[] = [];
    const a = reconcileViaDaemon({ socketPath }, { onAccepted: (c) => flags.push(c), onItem: (i) => seenA.push(i.workload) });
    const b = reconcileViaDaemon({ socketPath }, { onAccepted: (c) => flags.push(c), onItem: (i) => seenB.push(i.workload) });
    await waitFor(() => flags.length === 2, 'both requests to be accepted');
    expect(flags).toEqual([true, true]);
    gates[0]!.request.onItem(item('old'));
    gates[0]!.end({ kind: 'result', result: passResult([item('old')], 'aaaaaaa') });
    await waitFor(() => gates.length === 2, 'ONE follow-up pass');
    expect(gates[1]!.request.reasons).toEqual(['control']);
    gates[1]!.request.onItem(item('new'));
    gates[1]!.end({ kind: 'result', result: passResult([item('new')], 'bbbbbbb') });
    expect((await a).commit).toBe('bbbbbbb');
    expect((await b).commit).toBe('bbbbbbb');
    expect(seenA).toEqual(['new']);
    expect(seenB).toEqual(['new']);
    await new Promise((r) => setTimeout(r, 20));
    expect(gates).toHaveLength(2);
  });

  it("ends with the pass's error, revived with its category (and so its exit code)", async () => {
    await start();
    const done = reconcileViaDaemon({ socketPath });
    await waitFor(() => gates.length === 1, 'the pass to start');
    gates[0]!.end({ kind: 'error', error: { name: 'SourceError', category: 'source', message: 'fetch failed: no route' }, exitCode: 4, summary: 'pass failed' });
    await expect(done).rejects.toMatchObject({ name: 'SourceError', category: 'source', message: 'fetch failed: no route' });

    const again = reconcileViaDaemon({ socketPath });
    await waitFor(() => gates.length === 2, 'the second pass to start');
    gates[1]!.end({ kind: 'error', error: { name: 'ValidationError', category: 'validation', message: '1 problem', problems: [{ path: 'a.container', code: 'x', message: 'bad' }] }, exitCode: 2, summary: 'pass failed' });
    const err = await again.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).not.toBeInstanceOf(SourceError);
  });

  it('a client that goes away does not stop the pass', async () => {
    await start();
    const req = request({ socketPath, method: 'POST', path: '/v1/reconcile', headers: { 'Content-Length': '0' } });
    req.on('error', () => undefined);
    req.end();
    await waitFor(() => gates.length === 1, 'the pass to start');
    req.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(() => gates[0]!.request.onItem(item('web'))).not.toThrow();
    const outcome = loop.trigger('schedule').outcome;
    gates[0]!.end({ kind: 'result', result: passResult([item('web')]) });
    await waitFor(() => gates.length === 2, 'the next pass');
    gates[1]!.end({ kind: 'result', result: passResult([]) });
    expect((await outcome).kind).toBe('result');
  });

  it('is refused with 503 while the daemon stops; the client then runs the pass itself', async () => {
    await start();
    stopping = true;
    expect((await raw('POST', '/v1/reconcile', '')).status).toBe(503);
    await expect(reconcileViaDaemon({ socketPath })).rejects.toBeInstanceOf(DaemonAbsent);
    expect(gates).toHaveLength(0);
  });

  it('refuses an oversized body', async () => {
    await start({}, { bodyBytes: 1024 });
    const r = await raw('POST', '/v1/reconcile', 'x'.repeat(4096));
    expect(r.status).toBe(413);
    expect(gates).toHaveLength(0);
  });
});

describe('request bounds', () => {
  it('a request whose body never comes is cut off', async () => {
    await start({}, { requestTimeoutMs: 300, headersTimeoutMs: 300 });
    const { connect } = await import('node:net');
    const sock = connect(socketPath);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('POST /v1/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    const closedAt = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      sock.on('data', () => undefined);
      sock.on('close', () => resolve(Date.now() - t0));
      sock.on('error', () => undefined);
    });
    expect(closedAt).toBeLessThan(5_000);
    expect(webhookTriggers).toBe(0);
  });

  async function openIdle(count: number): Promise<import('node:net').Socket[]> {
    const { connect } = await import('node:net');
    const sockets = [];
    for (let i = 0; i < count; i++) {
      const sock = connect(socketPath);
      sock.on('error', () => undefined);
      sockets.push(sock);
    }
    await Promise.all(sockets.map((s) => new Promise<void>((r) => (s.readyState === 'open' ? r() : s.once('connect', () => r()).once('close', () => r())))));
    return sockets;
  }

  it('a flood of 200 idle connections holds no slot: status still answers within a second, and the open connections stay bounded', async () => {
    const srv = await start();
    const idle = await openIdle(200);
    try {
      expect(srv.connections()).toBeLessThanOrEqual(64);
      const t0 = Date.now();
      const status = await getJson<{ live: { generation: number } }>({ socketPath, timeoutMs: 5_000 }, '/v1/status');
      expect(Date.now() - t0).toBeLessThan(1_000);
      expect(status.live.generation).toBe(7);
      // Again, with the flood still there: each new client gets a slot.
      for (let i = 0; i < 5; i++) expect((await raw('GET', '/v1/generations')).status).toBe(200);
      expect(srv.connections()).toBeLessThanOrEqual(64);
    } finally {
      for (const s of idle) s.destroy();
    }
  });

  it('a connection that sends no request is dropped after firstRequestMs', async () => {
    await start({}, { firstRequestMs: 200 });
    const [sock] = await openIdle(1);
    const t0 = Date.now();
    await new Promise<void>((r) => (sock!.destroyed ? r() : sock!.once('close', () => r())));
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('bounds the reconcile streams open at once', async () => {
    await start({}, { maxStreams: 1 });
    const first = reconcileViaDaemon({ socketPath }, {});
    await waitFor(() => gates.length === 1, 'the first pass');
    const second = await raw('POST', '/v1/reconcile');
    expect(second.status).toBe(503);
    expect(second.body).toContain('reconcile streams');
    gates[0]!.end({ kind: 'result', result: passResult([]) });
    await expect(first).resolves.toMatchObject({ generation: 7 });
  });
});

describe('POST /v1/webhook', () => {
  const payload = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'abc' }));

  beforeEach(() => {
    secretFile = join(dir, 'webhook.secret');
    writeFileSync(secretFile, 'correct horse\n', { mode: 0o600 });
  });

  it('does not exist without control.webhook_secret_file', async () => {
    secretFile = undefined;
    await start();
    const r = await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signBody('correct horse', payload) });
    expect(r.status).toBe(404);
    expect(webhookTriggers).toBe(0);
  });

  it('a correctly signed push to the branch triggers a pass and is answered at once', async () => {
    await start();
    const r = await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signBody('correct horse', payload), 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-1' });
    expect(r.status).toBe(202);
    expect(JSON.parse(r.body)).toEqual({ triggered: true });
    expect(webhookTriggers).toBe(1);
    expect(logs.some((l) => l.startsWith('<6>webhook verified: pass triggered') && l.includes('delivery=d-1'))).toBe(true);
  });

  it('an unsigned request changes nothing, gets 401 and a warning', async () => {
    await start();
    const r = await raw('POST', '/v1/webhook', payload, { 'X-GitHub-Event': 'push' });
    expect(r.status).toBe(401);
    expect(webhookTriggers).toBe(0);
    expect(logs.filter((l) => l.startsWith('<4>webhook refused: no X-Hub-Signature-256'))).toHaveLength(1);
  });

  it('a badly signed request changes nothing, gets 401 and an error', async () => {
    await start();
    const cases = [
      signBody('wrong secret', payload),
      signBody('correct horse', Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'evil' }))),
      `sha256=${'0'.repeat(64)}`,
      'sha1=deadbeef',
      'sha256=',
    ];
    for (const signature of cases) {
      const r = await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signature });
      expect(r.status, signature).toBe(401);
    }
    expect(webhookTriggers).toBe(0);
    expect(logs.filter((l) => l.startsWith('<3>webhook refused: bad signature'))).toHaveLength(cases.length);
  });

  it('a ping or a push to another branch is verified and triggers nothing', async () => {
    await start();
    const ping = Buffer.from('{"zen":"Design for failure."}');
    const r1 = await raw('POST', '/v1/webhook', ping, { 'X-Hub-Signature-256': signBody('correct horse', ping), 'X-GitHub-Event': 'ping' });
    expect(r1.status).toBe(200);
    const other = Buffer.from('{"ref":"refs/heads/feature"}');
    const r2 = await raw('POST', '/v1/webhook', other, { 'X-Hub-Signature-256': signBody('correct horse', other), 'X-GitHub-Event': 'push' });
    expect(r2.status).toBe(200);
    expect(JSON.parse(r2.body)).toMatchObject({ triggered: false });
    expect(webhookTriggers).toBe(0);
  });

  it('refuses everything while the secret file is missing, and logs it as an error', async () => {
    await start();
    rmSync(secretFile!);
    const r = await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signBody('correct horse', payload) });
    expect(r.status).toBe(503);
    expect(webhookTriggers).toBe(0);
    expect(logs.some((l) => l.startsWith('<3>webhook refused: the secret file cannot be used'))).toBe(true);
  });

  it('reads the secret at each request, so a rotated secret works without a reload', async () => {
    await start();
    writeFileSync(secretFile!, 'battery staple');
    expect((await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signBody('correct horse', payload) })).status).toBe(401);
    expect((await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signBody('battery staple', payload) })).status).toBe(202);
    expect(webhookTriggers).toBe(1);
  });

  it('the same signed delivery three times triggers one pass', async () => {
    await start();
    const headers = { 'X-Hub-Signature-256': signBody('correct horse', payload), 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-7' };
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await raw('POST', '/v1/webhook', payload, headers));
    expect(answers.map((r) => r.status)).toEqual([202, 200, 200]);
    expect(JSON.parse(answers[2]!.body)).toMatchObject({ triggered: false, reason: expect.stringContaining('replay') });
    expect(webhookTriggers).toBe(1);
    // The same body under another delivery id is the same delivery replayed.
    expect((await raw('POST', '/v1/webhook', payload, { ...headers, 'X-GitHub-Delivery': 'd-8' })).status).toBe(200);
    expect(webhookTriggers).toBe(1);
    expect(logs.filter((l) => l.startsWith('<4>webhook refused: a replay'))).toHaveLength(3);
  });

  it("accepts GitLab's X-Gitlab-Token, and refuses a wrong one", async () => {
    await start();
    const wrong = await raw('POST', '/v1/webhook', payload, { 'X-Gitlab-Token': 'wrong horse', 'X-Gitlab-Event': 'Push Hook' });
    expect(wrong.status).toBe(401);
    const right = await raw('POST', '/v1/webhook', payload, { 'X-Gitlab-Token': 'correct horse', 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Event-UUID': 'u-1' });
    expect(right.status).toBe(202);
    expect(webhookTriggers).toBe(1);
    expect(logs.some((l) => l.startsWith('<6>webhook verified: pass triggered') && l.includes('u-1') && l.includes('Push Hook'))).toBe(true);
  });

  it('refuses every delivery while the secret file is readable by others or a symlink, naming the file', async () => {
    await start();
    chmodSync(secretFile!, 0o644);
    const open = await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signBody('correct horse', payload) });
    expect(open.status).toBe(503);
    expect(logs.some((l) => l.startsWith('<3>webhook refused: the secret file cannot be used') && l.includes(`${secretFile} has mode 0644`))).toBe(true);
    chmodSync(secretFile!, 0o600);
    const link = join(dir, 'link.secret');
    symlinkSync(secretFile!, link);
    secretFile = link;
    expect((await raw('POST', '/v1/webhook', payload, { 'X-Hub-Signature-256': signBody('correct horse', payload) })).status).toBe(503);
    expect(webhookTriggers).toBe(0);
  });

  it('refuses a body over the limit before checking anything', async () => {
    await start({}, { webhookBodyBytes: 1024 });
    const big = Buffer.alloc(64 * 1024, 'a');
    const r = await raw('POST', '/v1/webhook', big, { 'X-Hub-Signature-256': signBody('correct horse', big) });
    expect(r.status).toBe(413);
    expect(webhookTriggers).toBe(0);
  });
});
