import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExecaRunner, mustSucceed, runStreaming, runWithInheritedFd } from '../../daemon/host/exec';
import { CommandError } from '../../daemon/core/errors';

const runner = new ExecaRunner({ killGraceMs: 500 });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ExecaRunner', () => {
  it('returns stdout, stderr, exit code and duration of a successful command', async () => {
    const r = await runner.run(['sh', '-c', 'echo out; echo err >&2'], { timeoutMs: 5_000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect(r.argv).toEqual(['sh', '-c', 'echo out; echo err >&2']);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(mustSucceed(r)).toBe(r);
  });

  it('treats a non-zero exit as data, and mustSucceed turns it into a CommandError', async () => {
    const r = await runner.run(['sh', '-c', 'echo nope >&2; exit 9'], { timeoutMs: 5_000 });
    expect(r.exitCode).toBe(9);
    expect(r.stderr).toBe('nope\n');
    expect(() => mustSucceed(r)).toThrow(CommandError);
    try {
      mustSucceed(r);
    } catch (e) {
      expect((e as CommandError).exitCode).toBe(9);
      expect((e as CommandError).message).toContain('nope');
    }
  });

  it('never goes through a shell: arguments are passed verbatim', async () => {
    const r = await runner.run(['printf', '%s|', 'a b', '$HOME', ';true'], { timeoutMs: 5_000 });
    expect(r.stdout).toBe('a b|$HOME|;true|');
  });

  it('kills a command that overruns its timeout, within the bound', async () => {
    const t0 = Date.now();
    const r = await runner.run(['sleep', '30'], { timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(() => mustSucceed(r)).toThrow(/timed out/);
  });

  it('kills a child that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const t0 = Date.now();
    const r = await runner.run(['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'], { timeoutMs: 300 });
    const elapsed = Date.now() - t0;
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.stdout).toBe('ready\n');
    expect(elapsed).toBeGreaterThanOrEqual(700);
    expect(elapsed).toBeLessThan(4_000);
  });

  it('does not hang on a descendant that keeps the output pipe open, and kills it', async () => {
    const t0 = Date.now();
    const r = await runner.run(['sh', '-c', 'sleep 30 & echo $!; trap "" TERM; sleep 30'], { timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(r.timedOut).toBe(true);
    const grandchild = Number(r.stdout.trim());
    expect(grandchild).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(grandchild)).toBe(false);
  });

  it('feeds stdin input', async () => {
    const r = await runner.run(['cat'], { timeoutMs: 5_000, input: 'hello\nworld' });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hello\nworld' });
  });

  it('does not leave stdin open when there is no input', async () => {
    const r = await runner.run(['cat'], { timeoutMs: 5_000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: '', timedOut: false });
  });

  it('passes env and cwd', async () => {
    const r = await runner.run(['sh', '-c', 'echo "$MOOR_TEST_VAR"; pwd'], {
      timeoutMs: 5_000,
      env: { MOOR_TEST_VAR: 'x1' },
      cwd: '/',
    });
    expect(r.stdout).toBe('x1\n/\n');
  });

  it('gives a child nothing of this environment when an env is given: that env is all it has', async () => {
    process.env.MOOR_TEST_SECRET = 'hunter2';
    try {
      const r = await runner.run(['/usr/bin/env'], { timeoutMs: 5_000, env: { PATH: '/usr/bin:/bin', ONLY: '1' } });
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['ONLY=1', 'PATH=/usr/bin:/bin']);
      // Without one, the child inherits (what host commands such as git rely on).
      expect((await runner.run(['/usr/bin/env'], { timeoutMs: 5_000 })).stdout).toContain('MOOR_TEST_SECRET=hunter2');
    } finally {
      delete process.env.MOOR_TEST_SECRET;
    }
  });

  it('gives a file as stdin, whole (podman load, tar of an archive)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moor-exec-'));
    try {
      const file = join(dir, 'in');
      writeFileSync(file, 'x'.repeat(300_000));
      const r = await runner.run(['wc', '-c'], { timeoutMs: 5_000, inputFile: file });
      expect(r).toMatchObject({ exitCode: 0, stdout: '300000\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an input the command never reads is no error of ours: its exit is the answer', async () => {
    const r = await runner.run(['sh', '-c', 'exit 3'], { timeoutMs: 5_000, input: 'y'.repeat(4 * 1024 * 1024) });
    expect(r).toMatchObject({ exitCode: 3, timedOut: false });
  });

  it('decodes UTF-8 whole, whatever the pipe cut it into', async () => {
    const r = await runner.run(['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do printf "é€"; i=$((i+1)); done'], { timeoutMs: 10_000 });
    expect(r.stdout).toBe('é€'.repeat(20_000));
  });

  it('reports a missing program as exit 127, not as a signal', async () => {
    const r = await runner.run(['moor-no-such-program-xyz'], { timeoutMs: 5_000 });
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toMatch(/ENOENT/);
  });
});

describe('runStreaming', () => {
  it('runs unbounded with timeoutMs 0 until its abort signal, then ends the whole group', async () => {
    const stop = new AbortController();
    const chunks: string[] = [];
    const started = Date.now();
    // The shell's sleep is a child of its own: the group, not the shell alone, must go.
    const streaming = runStreaming(['sh', '-c', 'echo $$; sleep 30; echo never'], {
      timeoutMs: 0,
      signal: stop.signal,
      onStdout: (chunk) => {
        chunks.push(chunk.toString());
        stop.abort();
        return false;
      },
    });
    const result = await streaming;
    expect(result).toMatchObject({ stopped: true, timedOut: false });
    expect(Date.now() - started).toBeLessThan(10_000);
    const pgid = Number(chunks.join('').trim());
    // Processes of the group that still run (a killed one may linger as a zombie until reaped).
    const live = () =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .flatMap((d) => {
          try {
            return [readFileSync(`/proc/${d}/stat`, 'utf8')];
          } catch {
            return [];
          }
        })
        .map((stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' '))
        .filter(([state, , pgrp]) => Number(pgrp) === pgid && state !== 'Z');
    for (let i = 0; i < 50 && live().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(live()).toEqual([]);
  });
});

describe('runWithInheritedFd', () => {
  it("gives the child our descriptor as its fd 3, and bounds it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moor-exec-'));
    const fd = openSync(join(dir, 'out'), 'w');
    try {
      const r = await runWithInheritedFd(['sh', '-c', 'echo held >&3; echo said >&2'], fd, 5_000);
      expect(r).toMatchObject({ exitCode: 0, timedOut: false });
      expect(r.stderr.trim()).toBe('said');
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('held\n');
      const started = Date.now();
      const slow = await runWithInheritedFd(['sleep', '30'], fd, 200);
      expect(slow).toMatchObject({ exitCode: null, timedOut: true });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await runWithInheritedFd(['moor-no-such-program-xyz'], fd, 1_000)).toMatchObject({ exitCode: 127, stderr: expect.stringMatching(/ENOENT/) });
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
