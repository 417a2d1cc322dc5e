// `moor resume` ends a rollback pin and says whether it started a pass: it runs one, through
// the daemon when one answers on the control socket, in its own process otherwise; with
// --no-pass, or when nothing was pinned, it says that no pass started. The repo has no
// workloads, so these passes touch nothing on this machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getJson } from '../../daemon/cli/control-client';
import { openStateStore } from '../../daemon/state/store';
import { REPO_ROOT, runMoor } from '../helpers/cli';
import { emptySourceRepo, git } from '../helpers/pass-harness';

let dir: string;
let cfg: string;
let socketPath: string;
let commit: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-cli-resume-'));
  socketPath = join(dir, 'run', 'moor.sock');
  mkdirSync(join(dir, 'transforms'));
  mkdirSync(join(dir, 'run'));
  const source = emptySourceRepo(dir);
  commit = source.commit;
  cfg = join(dir, 'config.toml');
  writeFileSync(
    cfg,
    [
      `state_dir = ${JSON.stringify(join(dir, 'state'))}`,
      `transforms_dir = ${JSON.stringify(join(dir, 'transforms'))}`,
      `lock_path = ${JSON.stringify(join(dir, 'run', 'lock'))}`,
      '[source]',
      `url = ${JSON.stringify(source.bare)}`,
      '[schedule]',
      'cron = "0 0 1 1 *"',
      '[control]',
      `socket = ${JSON.stringify(socketPath)}`,
      '',
    ].join('\n'),
  );
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A pass, then a rollback to its generation: generation 2 is the rollback, 1 is pinned. */
async function pinned(): Promise<void> {
  expect(runMoor(['--config', cfg, 'reconcile', '--once', '--no-daemon']).code).toBe(0);
  const r = runMoor(['--config', cfg, 'rollback', '1']);
  expect(r.code, r.stderr).toBe(0);
  const store = await openStateStore(join(dir, 'state'));
  expect((await store.pin.read())?.generation).toBe(1);
  expect((await store.lastPass.read())?.kind).toBe('rollback');
}

async function lastPass(): Promise<{ kind?: string; commit?: string } | undefined> {
  return (await openStateStore(join(dir, 'state'))).lastPass.read();
}

describe('moor resume', () => {
  it('with no daemon: ends the pin and runs a pass here, saying so', async () => {
    await pinned();
    const r = runMoor(['--config', cfg, 'resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('unpinned generation 1: running a pass that follows the repo again');
    expect(r.stderr).not.toContain('via the running daemon');
    expect(await (await openStateStore(join(dir, 'state'))).pin.read()).toBeUndefined();
    // The pass that ran follows the repo, no longer the rollback.
    expect(await lastPass()).toMatchObject({ kind: 'pass', commit });
  });

  it('with a running daemon: asks it to run the pass', async () => {
    await pinned();
    const daemon = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'daemon/main.ts'), '--config', cfg, 'daemon'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(daemon);
    let log = '';
    daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const until = Date.now() + 60_000;
    for (;;) {
      const up = await getJson<{ daemon: { pid: number } }>({ socketPath }, '/v1/status').catch(() => undefined);
      if (up?.daemon.pid === daemon.pid) break;
      if (Date.now() > until) throw new Error(`the daemon did not answer\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // --wait: the daemon's first pass may still hold the lock.
    const r = runMoor(['--config', cfg, 'resume', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('unpinned generation 1: running a pass that follows the repo again');
    expect(r.stderr).toContain(`via the running daemon (${socketPath})`);
    expect(await lastPass()).toMatchObject({ kind: 'pass', commit });
  }, 120_000);

  it('with --no-pass, or nothing pinned: says that no pass started', async () => {
    await pinned();
    const r = runMoor(['--config', cfg, 'resume', '--no-pass']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('unpinned generation 1: no pass started');
    expect(await lastPass()).toMatchObject({ kind: 'rollback' });

    const again = runMoor(['--config', cfg, 'resume']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('not pinned: nothing to resume, no pass started\n');
    expect(await lastPass()).toMatchObject({ kind: 'rollback' });
  });
});
