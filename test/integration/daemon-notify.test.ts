// The daemon announces its passes to [notify]: after each pass, in the background, so a
// receiver that never answers delays no later pass; a missing notify.user or a secret file
// others can read fails the start by key. A fake pass, a real HTTP server on 127.0.0.1.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../daemon/service/agent';
import type { Notifier } from '../../daemon/service/notify';
import type { PassOutcome } from '../../daemon/service/protocol';
import { summarize } from '../../daemon/pass/pass-result';
import { git } from '../helpers/pass-harness';

let dir: string;
let configFile: string;
let server: Server;
let url: string;
let bodies: string[];
/** The server keeps every request open while set. */
let hang: boolean;
let daemon: Agent | undefined;
let exitCodes: Array<0 | 1>;

const notifier: Notifier = { backend: 'none', watchdogPingMs: undefined, ready: () => undefined, reloading: () => undefined, stopping: () => undefined, status: () => undefined, watchdog: () => undefined };

function config(notify: string): string {
  return [
    `state_dir = "${join(dir, 'state')}"`,
    `lock_path = "${join(dir, 'run', 'lock')}"`,
    `transforms_dir = "${join(dir, 'transforms')}"`,
    '[source]',
    `bare_repo = "${join(dir, 'deploy.git')}"`,
    '[schedule]',
    'cron = "0 0 1 1 *"',
    '[control]',
    `socket = "${join(dir, 'run', 'moor.sock')}"`,
    '[notify]',
    notify,
  ].join('\n');
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moor-daemon-notify-'));
  configFile = join(dir, 'config.toml');
  mkdirSync(join(dir, 'transforms'));
  git(dir, 'init', '-q', '--bare', '--initial-branch=main', join(dir, 'deploy.git'));
  writeFileSync(join(dir, 'secret'), 's3cret\n', { mode: 0o600 });
  bodies = [];
  hang = false;
  exitCodes = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      if (!hang) res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function start(notify: string): Promise<Agent> {
  writeFileSync(configFile, config(notify));
  return Agent.start({
    configFile,
    configRequired: true,
    handleSignals: false,
    startupPass: false,
    logSink: { write: () => undefined, journal: true },
    notifier,
    execute: async (): Promise<PassOutcome> => {
      const exitCode = exitCodes.shift() ?? 0;
      const items = [{ workload: 'web', user: 'web', action: 'update' as const, reason: 'x', changed: [], removed: [], result: exitCode ? ('failed' as const) : ('ok' as const), durationMs: 1 }];
      return { kind: 'result', result: summarize({ kind: 'pass', dryRun: false, commit: 'abcdef0123', source: 'repo', items }) };
    },
  });
}

async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the daemon and [notify]', () => {
  it('announces a failing pass, not the next failing one, and the fixing one', async () => {
    daemon = await start(`urls = ["${url}"]\nsecret_file = "${join(dir, 'secret')}"`);
    exitCodes = [1, 1, 0];
    for (let i = 0; i < 3; i++) {
      await daemon.trigger('control');
      await daemon.announcer.idle();
    }
    expect(bodies.map((b) => (JSON.parse(b) as { exitCode: number }).exitCode)).toEqual([1, 0]);
  });

  it('does not wait for a receiver that never answers: the next passes run at once', async () => {
    hang = true;
    daemon = await start(`urls = ["${url}"]\nsecret_file = "${join(dir, 'secret')}"\ntimeout = "2s"\nretries = 0\non = "always"`);
    await daemon.trigger('control');
    await waitFor(() => bodies.length === 1, 'the first POST');
    const started = Date.now();
    await daemon.trigger('control');
    await daemon.trigger('control');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(bodies).toHaveLength(1);
  });

  it('refuses to start with a notify.user that does not exist, or a secret file others may read', async () => {
    await expect(start('commands = [["/bin/true"]]\nuser = "moor-no-such-user"')).rejects.toThrow(/notify\.user.*does not exist/);
    chmodSync(join(dir, 'secret'), 0o640);
    await expect(start(`urls = ["${url}"]\nsecret_file = "${join(dir, 'secret')}"`)).rejects.toThrow(/notify\.secret_file.*chmod 600/);
  });
});
