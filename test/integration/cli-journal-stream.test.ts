// Journal priority prefixes (`<6>`, `<3>`) on moor's stderr only when stderr is the journal:
// JOURNAL_STREAM names fd 2's device and inode (docs/operations.md, "What moor did"). A script
// or an ssh session without a terminal reads stderr through a pipe, and gets plain lines.
// The CLI runs as a child process with stderr a pipe. The pass applies nothing: its one
// workload is invalid (a skip item, logged at error priority), so it only reads the host.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMoor, withJournalStream, type CliResult } from '../helpers/cli';
import { git } from '../helpers/pass-harness';

let dir: string;
let server: Server | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-journal-stream-'));
  mkdirSync(join(dir, 'transforms'));
});

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A bare repository whose one workload is invalid (a container without Image=). */
function source(): string {
  const bare = join(dir, 'origin.git');
  const work = join(dir, 'work');
  git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
  git(dir, 'clone', '-q', bare, work);
  git(work, 'checkout', '-q', '-B', 'main');
  writeFileSync(join(work, 'moortestjs.container'), '[Container]\nExec=/bin/true\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'invalid');
  git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  return bare;
}

function config(url = join(dir, 'missing.git')): string {
  const file = join(dir, 'config.toml');
  writeFileSync(
    file,
    [
      `state_dir = ${JSON.stringify(join(dir, 'state'))}`,
      `lock_path = ${JSON.stringify(join(dir, 'run', 'lock'))}`,
      `transforms_dir = ${JSON.stringify(join(dir, 'transforms'))}`,
      'log_level = "info"',
      '[source]',
      `url = ${JSON.stringify(url)}`,
      '[control]',
      `socket = ${JSON.stringify(join(dir, 'moor.sock'))}`,
    ].join('\n'),
  );
  return file;
}

const lines = (r: CliResult) => r.stderr.trimEnd().split('\n');
// Set empty rather than inherited: this test may itself run under a service.
const NO_JOURNAL = { JOURNAL_STREAM: '' };

describe("moor's stderr through a pipe", () => {
  it('without JOURNAL_STREAM: plain lines, the log and the error alike', () => {
    const pass = runMoor(['--config', config(source()), 'reconcile', '--once', '--no-daemon'], { env: NO_JOURNAL });
    expect(pass.code, pass.stderr).toBe(1);
    expect(lines(pass)).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d ERROR moortestjs: skip failed /));
    expect(pass.stderr).not.toMatch(/^<\d>/m);
    const failed = runMoor(['--config', config(), 'reconcile', '--once', '--no-daemon'], { env: NO_JOURNAL });
    expect(failed.code).toBe(4);
    expect(lines(failed)).toContainEqual(expect.stringMatching(/^moor: SourceError: /));
    expect(failed.stderr).not.toMatch(/^<\d>/m);
  });

  it('with JOURNAL_STREAM naming the pipe: every line carries its priority', () => {
    const pass = runMoor(['--config', config(source()), 'reconcile', '--once', '--no-daemon'], { journalStream: true });
    expect(pass.code, pass.stderr).toBe(1);
    expect(lines(pass)).toContainEqual(expect.stringMatching(/^<3>moortestjs: skip failed /));
    for (const line of lines(pass)) expect(line).toMatch(/^<\d>/);
    const failed = runMoor(['--config', config(), 'reconcile', '--once', '--no-daemon'], { journalStream: true });
    expect(failed.code).toBe(4);
    expect(lines(failed)).toContainEqual(expect.stringMatching(/^<3>moor: SourceError: /));
    for (const line of lines(failed)) expect(line).toMatch(/^<\d>/);
  });

  it('with JOURNAL_STREAM inherited but naming another stream (stderr redirected since): plain lines', () => {
    const r = runMoor(['--config', config(), 'reconcile', '--once', '--no-daemon'], { env: { JOURNAL_STREAM: '8:123456' } });
    expect(r.code).toBe(4);
    expect(lines(r)).toContainEqual(expect.stringMatching(/^moor: SourceError: /));
    expect(r.stderr).not.toMatch(/^<\d>/m);
  });

  it('the note that a daemon did not answer follows the same rule', async () => {
    // A daemon that accepts and hangs up at once (served here, so the CLI runs asynchronously).
    server = createServer((c) => c.destroy());
    await new Promise<void>((r) => server!.listen(join(dir, 'moor.sock'), r));
    const cfg = config();
    const status = async (journal: boolean): Promise<string | undefined> => {
      const argv = [process.execPath, '--import', 'tsx', resolve(REPO_ROOT, 'daemon/main.ts'), '--config', cfg, 'status'];
      const [cmd, ...rest] = journal ? withJournalStream(argv) : argv;
      const child = spawn(cmd!, rest, { cwd: REPO_ROOT, env: { ...process.env, ...NO_JOURNAL }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise((r) => child.once('close', r));
      return stderr.split('\n').find((l) => l.includes('did not answer'));
    };
    expect(await status(false)).toMatch(/^moor: the daemon on .* did not answer/);
    expect(await status(true)).toMatch(/^<4>moor: the daemon on .* did not answer/);
  });
});
