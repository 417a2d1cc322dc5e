// A reader that goes away (`moor --help | head -1`, `moor generations | head`) ends moor
// quietly: no EPIPE stack trace, the command's own exit code. The pipe here is closed
// before moor writes a byte, so every write of it meets a closed pipe.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateStore } from '../../daemon/state/store';
import { REPO_ROOT } from '../helpers/cli';

const root = mkdtempSync(join(tmpdir(), 'moor-cli-pipe-'));
const cfg = join(root, 'moor.toml');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  const stateDir = join(root, 'state');
  writeFileSync(cfg, [`state_dir = ${JSON.stringify(stateDir)}`, `transforms_dir = ${JSON.stringify(join(root, 'none'))}`, ''].join('\n'));
  // Enough history that `moor generations` writes more than a pipe's first line.
  const store = await openStateStore(stateDir);
  for (let i = 0; i < 40; i++) {
    const id = await store.generations.begin({ kind: 'pass', commit: 'c'.repeat(40), source: 'origin', workloads: {} });
    await store.generations.finish(id, []);
  }
});

/** Runs moor with its stdout a pipe whose reading end is already closed. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, 'daemon/main.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stderr }));
  });
}

describe('stdout closed by its reader', () => {
  it.each([
    { name: '--help', args: ['--help'], code: 0 },
    { name: 'generations', args: ['--config', cfg, 'generations'], code: 0 },
    { name: 'generations --json', args: ['--config', cfg, 'generations', '--json'], code: 0 },
    // A command that fails keeps its own exit code, and its error line on stderr.
    { name: 'rollback x', args: ['--config', cfg, 'rollback', 'x'], code: 2, stderr: 'is not a generation number' },
  ])('moor $name ends quietly with its own exit code', async ({ args, code, stderr }) => {
    const r = await withClosedStdout(args);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    if (stderr) expect(r.stderr).toContain(stderr);
    else expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(code);
  });
});
