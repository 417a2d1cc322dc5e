// `moor daemon` as its own process, the way systemd runs it, on a repo with no workloads
// (so its passes touch nothing on this machine):
// - with NOTIFY_SOCKET (a datagram socket read by a small Python receiver standing in for
//   systemd): READY=1, STATUS= the pass summary, WATCHDOG=1 at half of WATCHDOG_USEC, all
//   from the daemon's own PID (what NotifyAccess=main requires); SIGHUP with a broken
//   config keeps the old one, logs at error priority, and says RELOADING=1 then READY=1;
//   SIGTERM says STOPPING=1 and exits 0;
// - socket-activated through systemd-socket-activate (LISTEN_FDS on fd 3): the first
//   `moor status` starts the daemon and is answered by it.
// Each needs its tool (python3, systemd-socket-activate) and is skipped without it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getJson } from '../../daemon/cli/control-client';
import { REPO_ROOT, withJournalStream } from '../helpers/cli';
import { emptySourceRepo, git } from '../helpers/pass-harness';

const hasPython = spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX; socket.SCM_CREDENTIALS'], { timeout: 10_000 }).status === 0;
const hasSocketActivate = spawnSync('systemd-socket-activate', ['--version'], { timeout: 10_000 }).status === 0;
const MAIN = resolve(REPO_ROOT, 'daemon/main.ts');

// Receives sd_notify datagrams with the sender's credentials, one JSON line per message.
const RECEIVER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"ready": True}), flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', data[:12])[0]
    print(json.dumps({"pid": pid, "msg": msg.decode()}), flush=True)
`;

let dir: string;
let configFile: string;
let socketPath: string;
let commit: string;
const children: ChildProcess[] = [];

function configText(extra = ''): string {
  return [
    `state_dir = "${join(dir, 'state')}"`,
    `transforms_dir = "${join(dir, 'etc', 'transforms')}"`,
    `lock_path = "${join(dir, 'run', 'lock')}"`,
    '[source]',
    `bare_repo = "${join(dir, 'deploy.git')}"`,
    '[schedule]',
    'cron = "0 0 1 1 *"',
    '[control]',
    `socket = "${socketPath}"`,
    extra,
  ].join('\n');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-daemon-proc-'));
  socketPath = join(dir, 'run', 'moor.sock');
  configFile = join(dir, 'etc', 'config.toml');
  mkdirSync(join(dir, 'etc', 'transforms'), { recursive: true });
  mkdirSync(join(dir, 'run'), { recursive: true });
  // No workloads: a pass fetches, finds nothing to do, and records that.
  commit = emptySourceRepo(dir).commit;
  writeFileSync(configFile, configText());
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Collects a child's output; lines() is every complete stdout line so far. */
function track(child: ChildProcess) {
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    lines: () =>
      stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { pid?: number; msg?: string; ready?: boolean }),
  };
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000, detail: () => string = () => ''): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function moor(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const t = track(spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', configFile, ...args], { cwd: REPO_ROOT }));
  const timer = setTimeout(() => t.child.kill('SIGKILL'), 60_000);
  return t.exited.then((code) => {
    clearTimeout(timer);
    return { code, stdout: t.stdout(), stderr: t.stderr() };
  });
}

describe.skipIf(!hasPython)('moor daemon under a notify socket', () => {
  it('READY, STATUS, WATCHDOG from its own PID; SIGHUP with a broken config; SIGTERM', async () => {
    const notifySocket = join(dir, 'notify.sock');
    const receiverScript = join(dir, 'receiver.py');
    writeFileSync(receiverScript, RECEIVER);
    const receiver = track(spawn('python3', [receiverScript, notifySocket], { stdio: ['ignore', 'pipe', 'inherit'] }));
    await waitFor(() => receiver.lines().some((l) => l.ready), 'the receiver');

    // Its stderr is the journal, as under systemd (JOURNAL_STREAM names it): lines carry priorities.
    const [sh, ...shArgs] = withJournalStream([process.execPath, '--import', 'tsx', MAIN, '--config', configFile, 'daemon']);
    const d = track(
      spawn(sh!, shArgs, {
        cwd: REPO_ROOT,
        env: { ...process.env, NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: '1000000' },
      }),
    );
    const messages = () => receiver.lines().filter((l) => l.msg !== undefined);
    const seen = (re: RegExp) => messages().some((m) => re.test(m.msg!));
    const dump = () => `messages: ${JSON.stringify(messages())}\nstderr: ${d.stderr()}`;

    await waitFor(() => seen(/^READY=1/m), 'READY=1', 30_000, dump);
    // A fresh host's first pass records generation 1, even with nothing to apply.
    await waitFor(() => seen(/^STATUS=gen 1 @\w{7}: 0 applied/m), 'the STATUS of the startup pass', 30_000, dump);
    expect(messages().find((m) => /^STATUS=gen/m.test(m.msg!))!.msg).toBe(`STATUS=gen 1 @${commit.slice(0, 7)}: 0 applied, 0 unchanged, 0 failed, 0 removed`);
    // Half of WatchdogSec=1s: a ping every 500 ms.
    const pingsBefore = messages().filter((m) => m.msg === 'WATCHDOG=1').length;
    await new Promise((r) => setTimeout(r, 1_600));
    expect(messages().filter((m) => m.msg === 'WATCHDOG=1').length - pingsBefore).toBeGreaterThanOrEqual(2);
    // Every message comes from the daemon's own process: NotifyAccess=main takes them.
    expect(new Set(messages().map((m) => m.pid))).toEqual(new Set([d.child.pid]));
    expect(d.stderr()).not.toMatch(/NOTIFY_SOCKET is not set|could not be loaded/);

    // SIGHUP with a broken config: error priority, old config kept, RELOADING=1 then READY=1.
    writeFileSync(configFile, `${configText()}\nschedule_typo = true\n`);
    await new Promise((r) => setTimeout(r, 500)); // the config watch sees it too; let it settle
    const before = messages().length;
    d.child.kill('SIGHUP');
    await waitFor(() => /<3>config reload failed: keeping the running config cause=SIGHUP/.test(d.stderr()), 'the reload error', 10_000, dump);
    await waitFor(() => messages().slice(before).some((m) => /^READY=1/m.test(m.msg!)), 'READY=1 after the reload', 10_000, dump);
    const after = messages().slice(before).map((m) => m.msg!.split('\n')[0]);
    expect(after.indexOf('RELOADING=1')).toBeGreaterThanOrEqual(0);
    expect(after.indexOf('READY=1')).toBeGreaterThan(after.indexOf('RELOADING=1'));
    expect(d.stderr()).toMatch(/<3>config reload failed.*cause=SIGHUP.*unknown key .*schedule_typo/);
    // Still serving (the CLI itself would refuse the broken file, so ask the socket directly).
    const status = await getJson<{ daemon: { pid: number } }>({ socketPath }, '/v1/status');
    expect(status.daemon.pid).toBe(d.child.pid);
    expect(d.child.exitCode).toBeNull();

    // SIGTERM: STOPPING=1, exit 0, socket gone.
    const t0 = Date.now();
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await waitFor(() => seen(/^STOPPING=1/m), 'STOPPING=1', 5_000, dump);
    expect(existsSync(socketPath)).toBe(false);
  }, 90_000);
});

describe.skipIf(!hasSocketActivate)('moor daemon started by socket activation', () => {
  it('the first `moor status` on the socket starts the daemon, which answers on the passed fd', async () => {
    const activator = track(
      spawn('systemd-socket-activate', ['-l', socketPath, '-E', 'PATH', '-E', 'HOME', process.execPath, '--import', 'tsx', MAIN, '--config', configFile, 'daemon'], {
        cwd: REPO_ROOT,
      }),
    );
    await waitFor(() => activator.stderr().includes('Listening on'), 'the socket to listen', 10_000, () => activator.stderr());
    expect(existsSync(socketPath)).toBe(true);

    const status = await moor(['status', '--json']);
    expect(status.stderr, activator.stderr()).toContain(`via the running daemon (${socketPath})`);
    const report = JSON.parse(status.stdout) as { daemon: { pid: number } };
    // systemd-socket-activate execs the daemon in its own process, as systemd does.
    expect(report.daemon.pid).toBe(activator.child.pid);
    expect(activator.stderr()).toMatch(/control API on the socket passed by systemd fd=3/);

    activator.child.kill('SIGTERM');
    expect(await activator.exited).toBe(0);
  }, 90_000);
});
