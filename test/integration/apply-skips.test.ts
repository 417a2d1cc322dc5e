// What an apply no longer runs when the host already has it: the Podman user namespace
// (its pause process runs) and the linger flag (logind's file). Real files and real
// processes; the pause.pid file is in a directory the user owns, so it is read as a
// hostile file.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandResult, CommandRunner } from '../../daemon/core/ports';
import { lingerFlagSet, Logind } from '../../daemon/host/logind';
import { pauseProcessRuns, preparePodmanUserNamespace } from '../../daemon/host/podman-userns';

function recorder(): CommandRunner & { argvs: string[][] } {
  const argvs: string[][] = [];
  return {
    argvs,
    run: async (argv): Promise<CommandResult> => {
      argvs.push([...argv]);
      return { argv, exitCode: 0, stdout: '', stderr: '', durationMs: 1, timedOut: false };
    },
  };
}

const uid = process.getuid!();
let dir: string;
let runtimeDir: string;
/** A process of this uid in a user namespace of its own, as Podman's pause process is. */
let inNamespace: ChildProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moor-apply-skips-'));
  runtimeDir = join(dir, 'run-user');
  mkdirSync(join(runtimeDir, String(uid), 'libpod', 'tmp'), { recursive: true });
  inNamespace = spawn('unshare', ['--user', 'sleep', '60'], { stdio: 'ignore' });
  // Until the child is in its namespace: its ns/user differs from ours.
  const ours = execFileSync('readlink', ['/proc/self/ns/user']).toString();
  for (let i = 0; i < 100; i++) {
    const theirs = (() => {
      try {
        return execFileSync('readlink', [`/proc/${inNamespace.pid}/ns/user`]).toString();
      } catch {
        return ours;
      }
    })();
    if (theirs !== ours) break;
    await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(() => {
  inNamespace.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const pidFile = () => join(runtimeDir, String(uid), 'libpod', 'tmp', 'pause.pid');
const runs = (u = uid) => pauseProcessRuns(u, { runtimeDir, procDir: '/proc' });

describe('the Podman user namespace', () => {
  it('exists when pause.pid names a live process of the user in a user namespace of its own', async () => {
    writeFileSync(pidFile(), `${inNamespace.pid}\n`);
    expect(await runs()).toBe(true);
    // Another user's pid file naming the same process: not that user's namespace.
    mkdirSync(join(runtimeDir, '4242', 'libpod', 'tmp'), { recursive: true });
    writeFileSync(join(runtimeDir, '4242', 'libpod', 'tmp', 'pause.pid'), `${inNamespace.pid}\n`);
    expect(await runs(4242)).toBe(false);
  });

  it('does not exist for a process in moor\'s own namespace, a dead pid, no file, or not a number', async () => {
    writeFileSync(pidFile(), `${process.pid}\n`);
    expect(await runs()).toBe(false);
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(pidFile(), `${dead.pid}\n`);
    expect(await runs()).toBe(false);
    for (const text of ['', 'abc', '-1', '0', `${inNamespace.pid}/../1`, '1'.repeat(40)]) {
      writeFileSync(pidFile(), text);
      expect(await runs(), JSON.stringify(text)).toBe(false);
    }
    rmSync(pidFile());
    expect(await runs()).toBe(false);
  });

  it('is read as a hostile file: a symlink is not followed, a FIFO is not waited on', async () => {
    const real = join(dir, 'elsewhere.pid');
    writeFileSync(real, `${inNamespace.pid}\n`);
    symlinkSync(real, pidFile());
    expect(await runs()).toBe(false);
    rmSync(pidFile());
    execFileSync('mkfifo', [pidFile()]);
    // Nobody writes the FIFO: a reader that opened it blocking would hang here.
    expect(await runs()).toBe(false);
    rmSync(pidFile());
  });

  it('is read only at its own path: a directory on the way swapped for a symlink leads nowhere', async () => {
    // The user's tmp/ made a link to a directory elsewhere holding a pause.pid that names
    // a live process of the user in a namespace of its own: what it says is not taken.
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'pause.pid'), `${inNamespace.pid}\n`);
    const tmp = join(runtimeDir, String(uid), 'libpod', 'tmp');
    rmSync(tmp, { recursive: true });
    symlinkSync(elsewhere, tmp);
    try {
      expect(await runs()).toBe(false);
    } finally {
      rmSync(tmp);
      mkdirSync(tmp);
    }
    writeFileSync(pidFile(), `${inNamespace.pid}\n`);
    expect(await runs()).toBe(true);
  });

  it('is made (podman unshare as the user) only when it does not exist', async () => {
    const who = { user: 'web', uid: 1234 };
    const made = recorder();
    await preparePodmanUserNamespace(made, who, { timeoutMs: 1_000, exists: async () => false });
    expect(made.argvs.map((a) => a.slice(a.indexOf('--') + 1))).toEqual([['podman', 'unshare', '/bin/true']]);
    const kept = recorder();
    await preparePodmanUserNamespace(kept, who, { timeoutMs: 1_000, exists: async (u) => u === 1234 });
    expect(kept.argvs).toEqual([]);
  });
});

describe('linger', () => {
  it('is set when logind has a regular file for the user; a symlink or nothing is not', async () => {
    const lingerDir = join(dir, 'linger');
    mkdirSync(lingerDir);
    writeFileSync(join(lingerDir, 'web'), '');
    symlinkSync(join(lingerDir, 'web'), join(lingerDir, 'db'));
    expect(await lingerFlagSet('web', lingerDir)).toBe(true);
    expect(await lingerFlagSet('db', lingerDir)).toBe(false);
    expect(await lingerFlagSet('api', lingerDir)).toBe(false);
  });

  it('is enabled with loginctl only for a user that does not linger yet', async () => {
    const r = recorder();
    const logind = new Logind(r, { lingering: async (user) => user === 'web' });
    await logind.enableLinger('web');
    expect(r.argvs).toEqual([]);
    await logind.enableLinger('db');
    expect(r.argvs).toEqual([['loginctl', 'enable-linger', 'db']]);
  });
});
