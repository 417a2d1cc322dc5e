// Announcing passes to the [notify] receivers, over a real HTTP server on 127.0.0.1, real
// commands run as an unprivileged user, and real state files: a failing pass is announced
// once, the next failing one not, the fixing one again (also across a restart); POSTs are
// HMAC-signed and retried with doubling waits; a command gets the JSON on stdin as the
// configured user and is killed at its timeout; the daemon and `reconcile --once` announce
// after the pass, without waiting for a slow receiver.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NotifyConfig } from '../../daemon/core/config/schema';
import { LockHeldError } from '../../daemon/core/errors';
import { createLogger } from '../../daemon/host/log';
import { summarize, type PassResult } from '../../daemon/pass/pass-result';
import { announcedPass } from '../../daemon/cli/pass-notify';
import { NotifySender, SIGNATURE_HEADER } from '../../daemon/service/notify-send';
import { checkSignature } from '../../daemon/service/webhook';
import { readNotified } from '../../daemon/state/notified';
import type { MoorConfig } from '../../daemon/core/config/schema';

interface Delivery {
  body: string;
  headers: IncomingMessage['headers'];
  at: number;
}

let dir: string;
let server: Server;
let url: string;
let deliveries: Delivery[];
/** How the server answers the next requests, first first; then 200. */
let answers: Array<number | 'hang'>;
let logs: string[];
const SECRET = 'notify-secret';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moor-notify-'));
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
  deliveries = [];
  answers = [];
  logs = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, at: Date.now() });
      const answer = answers.shift() ?? 200;
      if (answer === 'hang') return;
      res.statusCode = answer;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function notifyConfig(over: Partial<NotifyConfig> = {}): NotifyConfig {
  return { commands: [], urls: [url], secretFile: join(dir, 'secret'), timeoutMs: 2_000, on: 'change', retries: 3, ...over };
}

function sender(config: NotifyConfig, retryBaseMs = 50): NotifySender {
  const log = createLogger('debug', { write: (l) => void logs.push(l), journal: false });
  return new NotifySender({ config: () => config, stateDir: () => dir, log, retryBaseMs });
}

function pass(exitCode: 0 | 1, summary = `exit ${exitCode}`): PassResult {
  const failed = exitCode === 1;
  const items = [{ workload: 'web', user: 'web', action: 'update' as const, reason: 'spec changed', changed: [], removed: [], result: failed ? ('failed' as const) : ('ok' as const), durationMs: 5 }];
  return { ...summarize({ kind: 'pass', dryRun: false, commit: 'abcdef0123', source: 'repo', items }), summary };
}

describe('which passes are announced', () => {
  it('a failing pass is announced once, the next failing one not, the fixing one again', async () => {
    const s = sender(notifyConfig());
    s.announce(pass(0, 'first ok'));
    await s.idle();
    expect(deliveries).toHaveLength(0);
    s.announce(pass(1, 'broken'));
    await s.idle();
    s.announce(pass(1, 'still broken'));
    await s.idle();
    expect(deliveries.map((d) => (JSON.parse(d.body) as PassResult).summary)).toEqual(['broken']);
    s.announce(pass(0, 'fixed'));
    await s.idle();
    expect(deliveries.map((d) => (JSON.parse(d.body) as PassResult).summary)).toEqual(['broken', 'fixed']);
    expect(await readNotified(dir)).toBe('ok');
  });

  it('a restarted daemon remembers what it last sent: the same failure is not sent again', async () => {
    const first = sender(notifyConfig());
    first.announce(pass(1, 'broken'));
    await first.idle();
    const before = deliveries.length;
    const restarted = sender(notifyConfig());
    restarted.announce(pass(1, 'broken again'));
    await restarted.idle();
    expect(before).toBe(1);
    expect(deliveries).toHaveLength(1);
    expect(await readNotified(dir)).toBe('failed');
  });

  it('on = "always" announces every pass', async () => {
    const s = sender(notifyConfig({ on: 'always' }));
    for (const code of [0, 0, 1, 1] as const) s.announce(pass(code));
    await s.idle();
    expect(deliveries.map((d) => (JSON.parse(d.body) as PassResult).exitCode)).toEqual([0, 0, 1, 1]);
  });
});

describe('POSTs', () => {
  it('carry the pass JSON signed with HMAC-SHA256 of the secret file, verifiable as the incoming webhook verifies', async () => {
    const s = sender(notifyConfig());
    s.announce(pass(1, 'broken'));
    await s.idle();
    const [d] = deliveries;
    expect(d!.headers['content-type']).toBe('application/json');
    const header = d!.headers[SIGNATURE_HEADER.toLowerCase()] as string;
    expect(checkSignature(Buffer.from(SECRET), Buffer.from(d!.body), header)).toBe('ok');
    expect(checkSignature(Buffer.from('another secret'), Buffer.from(d!.body), header)).toBe('mismatch');
    expect(JSON.parse(d!.body)).toEqual({ schema: 1, ...JSON.parse(JSON.stringify(pass(1, 'broken'))) });
  });

  it('are retried on 500 with doubling waits, the same delivery id each time, until one is taken', async () => {
    answers = [500, 503];
    const s = sender(notifyConfig(), 100);
    s.announce(pass(1));
    await s.idle();
    expect(deliveries).toHaveLength(3);
    const gaps = [deliveries[1]!.at - deliveries[0]!.at, deliveries[2]!.at - deliveries[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(new Set(deliveries.map((d) => d.headers['x-moor-delivery'])).size).toBe(1);
    expect(logs.join('')).toContain('POST delivered');
  });

  it('give up after notify.retries, and are not retried when the receiver refuses them (4xx)', async () => {
    answers = [500, 500, 500];
    const s = sender(notifyConfig({ retries: 2 }), 10);
    s.announce(pass(1));
    await s.idle();
    expect(deliveries).toHaveLength(3);
    expect(logs.join('')).toContain('given up after 3 attempts');
    answers = [403];
    s.announce(pass(0));
    await s.idle();
    expect(deliveries).toHaveLength(4);
    expect(logs.join('')).toContain('not retried');
  });

  it('a secret file others may read sends nothing and says why', async () => {
    chmodSync(join(dir, 'secret'), 0o644);
    const s = sender(notifyConfig());
    s.announce(pass(1));
    await s.idle();
    expect(deliveries).toHaveLength(0);
    expect(logs.join('')).toMatch(/notify\.secret_file.*chmod 600/);
  });

  it('a receiver that never answers delays no announcement past notify.timeout, and announce() never waits', async () => {
    answers = ['hang'];
    const s = sender(notifyConfig({ timeoutMs: 300, retries: 0 }));
    const started = Date.now();
    s.announce(pass(1));
    expect(Date.now() - started).toBeLessThan(50);
    await s.idle();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(logs.join('')).toContain('no answer within 300 ms');
  });
});

const asRoot = process.getuid?.() === 0;

describe.skipIf(!asRoot)('commands', () => {
  const nobodyUid = asRoot ? Number(execFileSync('id', ['-u', 'nobody']).toString().trim()) : 0;

  it('get the pass JSON on stdin, run as notify.user with a clean environment', async () => {
    chmodSync(dir, 0o777);
    const out = join(dir, 'out');
    const script = `id -u > ${out}.uid; env > ${out}.env; cat > ${out}.json`;
    process.env.MOOR_NOTIFY_TEST_LEAK = 'root-only';
    try {
      const s = sender(notifyConfig({ urls: [], commands: [['/bin/sh', '-c', script]], user: 'nobody' }));
      s.announce(pass(1, 'broken'));
      await s.idle();
    } finally {
      delete process.env.MOOR_NOTIFY_TEST_LEAK;
    }
    expect(Number(readFileSync(`${out}.uid`, 'utf8').trim())).toBe(nobodyUid);
    expect(JSON.parse(readFileSync(`${out}.json`, 'utf8'))).toEqual({ schema: 1, ...JSON.parse(JSON.stringify(pass(1, 'broken'))) });
    const env = readFileSync(`${out}.env`, 'utf8');
    expect(env).toContain('USER=nobody');
    expect(env).not.toContain('MOOR_NOTIFY_TEST_LEAK');
  });

  it('are killed with what they started at notify.timeout', async () => {
    chmodSync(dir, 0o777);
    const marker = join(dir, 'late');
    const s = sender(notifyConfig({ urls: [], commands: [['/bin/sh', '-c', `sleep 3; touch ${marker}`]], user: 'nobody', timeoutMs: 300 }));
    const started = Date.now();
    s.announce(pass(1));
    await s.idle();
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(logs.join('')).toContain('killed at its timeout');
    await new Promise((r) => setTimeout(r, 3_200));
    expect(existsSync(marker)).toBe(false);
  });

  it('a user that does not exist runs nothing and says so', async () => {
    const s = sender(notifyConfig({ urls: [], commands: [['/bin/true']], user: 'moor-no-such-user' }));
    s.announce(pass(1));
    await s.idle();
    expect(logs.join('')).toContain('notify.user "moor-no-such-user" does not exist');
  });

  it('a user with uid 0 is refused', async () => {
    // "root" itself is refused by the config schema; another name for uid 0 is caught here.
    const alias = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === '0')!.split(':')[0]!;
    const s = sender(notifyConfig({ urls: [], commands: [['/bin/true']], user: alias }));
    s.announce(pass(1));
    await s.idle();
    expect(logs.join('')).toContain('has uid 0');
  });
});

describe('a pass run in this process (reconcile --once)', () => {
  const config = (): MoorConfig => ({ stateDir: dir, logLevel: 'error', notify: notifyConfig(), fleet: { publish: false, ring: 'default' } }) as MoorConfig;

  it('is announced once it has returned, a failing one too; one that never ran (lock held) is not', async () => {
    let heldDuringPass = -1;
    await announcedPass(config(), (run) => run(Promise.resolve(pass(1, 'broken'))).then((r) => ((heldDuringPass = deliveries.length), r)));
    expect(heldDuringPass).toBe(0);
    expect(deliveries).toHaveLength(1);
    await expect(announcedPass(config(), () => Promise.reject(new LockHeldError('/run/moor/lock', 'pid 1')))).rejects.toThrow(LockHeldError);
    expect(deliveries).toHaveLength(1);
    const { SourceError } = await import('../../daemon/core/errors');
    await expect(announcedPass(config(), (run) => run(Promise.reject(new SourceError('fetch failed'))))).rejects.toThrow('fetch failed');
    // Still failed (exit 4 after exit 1): no change, nothing sent.
    expect(deliveries).toHaveLength(1);
    await announcedPass(config(), (run) => run(Promise.resolve(pass(0, 'fixed'))));
    expect(deliveries).toHaveLength(2);
    await expect(announcedPass({ ...config(), notify: notifyConfig({ on: 'always' }) }, (run) => run(Promise.reject(new SourceError('fetch failed'))))).rejects.toThrow();
    expect(deliveries).toHaveLength(3);
    expect(JSON.parse(deliveries[2]!.body)).toMatchObject({ kind: 'error', exitCode: 4, error: { category: 'source' } });
  });
});
