// The socket a user manager listens on lies in a directory the workload user owns, so what
// answers root there may be the user's own program. It must not stall a pass or make moor
// hold what it sends: each of these servers stands in for one, on a real unix socket at the
// path UserBus asks (its runtimeDir seam), and UserManager then asks systemctl instead.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserBus } from '../../daemon/host/user-bus';
import { UserManager } from '../../daemon/host/systemd';
import type { CommandResult, CommandRunner } from '../../daemon/core/ports';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** A unix socket at <runtimeDir>/1000/systemd/private whose every connection `serve` handles. */
async function hostileManager(serve: (socket: Socket) => void): Promise<{ runtimeDir: string; accepted: () => number }> {
  const runtimeDir = mkdtempSync(join(tmpdir(), 'moor-user-bus-'));
  mkdirSync(join(runtimeDir, '1000', 'systemd'), { recursive: true });
  let accepted = 0;
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.push(socket);
    socket.on('error', () => undefined);
    serve(socket);
  });
  await new Promise<void>((resolve) => server.listen(join(runtimeDir, '1000', 'systemd', 'private'), resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(runtimeDir, { recursive: true, force: true });
  });
  return { runtimeDir, accepted: () => accepted };
}

/** Answers the handshake as a manager does, then hands the rest to `after`. */
const handshakeThen = (after: (socket: Socket) => void) => (socket: Socket) => {
  let seen = '';
  const onData = (chunk: Buffer) => {
    seen += chunk.toString('latin1');
    if (seen.includes('AUTH ') && !seen.includes('OK sent')) {
      socket.write('OK 0123456789abcdef0123456789abcdef\r\n');
      seen += 'OK sent';
    }
    if (seen.includes('BEGIN\r\n')) {
      socket.off('data', onData);
      after(socket);
    }
  };
  socket.on('data', onData);
};

const who = { user: 'web', uid: 1000 };

describe('a hostile program on the user manager socket', () => {
  it('one that accepts and never answers is given up at the bound, not waited on', async () => {
    const manager = await hostileManager(() => undefined);
    const started = performance.now();
    await expect(new UserBus({ timeoutMs: 300, runtimeDir: manager.runtimeDir }).show(1000, ['web.service'], ['ActiveState'])).rejects.toThrow();
    expect(manager.accepted()).toBe(1);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('one that completes the handshake and then stays silent is given up at the bound too', async () => {
    const manager = await hostileManager(handshakeThen(() => undefined));
    await expect(new UserBus({ timeoutMs: 300, runtimeDir: manager.runtimeDir }).show(1000, ['web.service'], ['ActiveState'])).rejects.toThrow();
  });

  it('one that announces a 100 MB answer is refused from its header, before any of it is held', async () => {
    const manager = await hostileManager(
      handshakeThen((socket) => {
        // A method return (type 2) whose header claims a 100 MB body, answering serial 1.
        const header = Buffer.alloc(16);
        header.write('l', 0, 'latin1');
        header.writeUInt8(2, 1);
        header.writeUInt8(0, 2);
        header.writeUInt8(1, 3);
        header.writeUInt32LE(100 * 1024 * 1024, 4);
        header.writeUInt32LE(7, 8);
        header.writeUInt32LE(8, 12);
        socket.write(header);
      }),
    );
    const started = performance.now();
    await expect(new UserBus({ timeoutMs: 10_000, runtimeDir: manager.runtimeDir }).show(1000, ['web.service'], ['ActiveState'])).rejects.toThrow(/maximum size|exceeds/i);
    // Refused at once, not after the 10 s bound.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('UserManager asks systemctl instead, and answers with what it says', async () => {
    const manager = await hostileManager(handshakeThen(() => undefined));
    const calls: string[][] = [];
    const runner: CommandRunner = {
      run: async (argv): Promise<CommandResult> => {
        calls.push([...argv]);
        return { argv: [...argv], exitCode: 0, stdout: 'Id=web.service\nActiveState=active\n', stderr: '', timedOut: false, durationMs: 1 };
      },
    };
    const um = new UserManager(runner, { bus: new UserBus({ timeoutMs: 300, runtimeDir: manager.runtimeDir }) });
    const got = await um.show(who, ['web.service'], ['ActiveState']);
    expect(got.get('web.service')?.activeState).toBe('active');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual(expect.arrayContaining(['systemctl', '--user', 'show']));
  });
});
