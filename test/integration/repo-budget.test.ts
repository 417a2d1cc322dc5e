// A hostile repository that costs little in git and a lot on disk and in memory: one blob
// named many times (identical content is one object). The pass refuses it from the sizes
// `git ls-tree` reports, before anything is checked out, and `moor check` refuses the same
// tree on disk while walking it; both in bounded memory, exit 2, the limit named.
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMoor } from '../helpers/cli';
import { git } from '../helpers/pass-harness';

const MiB = 1024 * 1024;
let dir: string;
let bare: string;
let stateDir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-budget-'));
  bare = join(dir, 'origin.git');
  stateDir = join(dir, 'state');
  mkdirSync(join(dir, 'transforms'));
  git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function gitIn(cwd: string, input: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, input, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } }).trim();
}

/**
 * Pushes a commit whose root holds `web.container` and `count` names of one blob of
 * `size` bytes (`data-N.md`: ignored by discovery, so only the budget can refuse them).
 * Written straight into the bare repository: the blob is stored once.
 */
function pushBomb(count: number, size: number): void {
  const blobFile = join(dir, 'blob');
  writeFileSync(blobFile, Buffer.alloc(size, 0x61));
  const blob = git(bare, 'hash-object', '-w', blobFile);
  writeFileSync(join(dir, 'web'), '[Container]\nImage=localhost/web:1\n');
  const web = git(bare, 'hash-object', '-w', join(dir, 'web'));
  const lines = [`100644 blob ${web}\tweb.container`];
  for (let i = 0; i < count; i++) lines.push(`100644 blob ${blob}\tdata-${String(i).padStart(5, '0')}.md`);
  const tree = gitIn(bare, `${lines.join('\n')}\n`, 'mktree');
  const commit = gitIn(bare, '', '-c', 'user.name=t', '-c', 'user.email=t@e', 'commit-tree', tree, '-m', 'bomb');
  git(bare, 'update-ref', 'refs/heads/main', commit);
}

function config(extra = ''): string {
  const file = join(dir, 'config.toml');
  writeFileSync(
    file,
    [
      `state_dir = ${JSON.stringify(stateDir)}`,
      `lock_path = ${JSON.stringify(join(dir, 'run', 'lock'))}`,
      `transforms_dir = ${JSON.stringify(join(dir, 'transforms'))}`,
      extra,
      '[source]',
      `url = ${JSON.stringify(bare)}`,
      '[control]',
      `socket = ${JSON.stringify(join(dir, 'moor.sock'))}`,
    ].join('\n'),
  );
  return file;
}

/** Runs moor and reports the child's peak resident memory (MiB) next to its result. */
function moorWithPeak(args: string[]): ReturnType<typeof runMoor> & { peakMiB: number } {
  const probe = join(dir, 'peak.cjs');
  const out = join(dir, 'peak.txt');
  writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, String(process.resourceUsage().maxRSS)));\n`);
  const r = runMoor(args, { env: { NODE_OPTIONS: `--require ${probe}` } });
  const peakKiB = existsSync(out) ? Number(execFileSync('cat', [out], { encoding: 'utf8' })) : Number.POSITIVE_INFINITY;
  return { ...r, peakMiB: Math.round(peakKiB / 1024) };
}

// Without the budget, the default case checks out 1.5 GiB and reads it all into memory.
const PEAK_LIMIT_MiB = 400;

describe('a repository over its budget', () => {
  it('is refused before checkout with the default budget, though it would check out to 1.5 GiB', () => {
    pushBomb(1536, MiB);
    const r = moorWithPeak(['--config', config(), 'reconcile', '--once', '--dry-run', '--no-daemon']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('max_repo_bytes (67108864)');
    // Nothing but git's own directory was written to the checkout.
    expect(readdirSync(join(stateDir, 'checkout')).filter((n) => n !== '.git')).toEqual([]);
    expect(r.peakMiB).toBeLessThan(PEAK_LIMIT_MiB);
  });

  it('names the file-count limit set low in the config, and applies nothing', () => {
    pushBomb(300, 10);
    const r = runMoor(['--config', config('max_repo_files = 100'), 'reconcile', '--once', '--no-daemon', '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('more than 100 files, over max_repo_files (100)');
    expect(readdirSync(join(stateDir, 'checkout')).filter((n) => n !== '.git')).toEqual([]);
    expect(existsSync(join(stateDir, 'generations', '000001'))).toBe(false);
  });

  it('passes a tree within the budget', () => {
    pushBomb(5, 10);
    const r = runMoor(['--config', config('max_repo_files = 100'), 'plan', '--json']);
    expect(r.stderr).not.toContain('max_repo');
    expect(existsSync(join(stateDir, 'checkout', 'web.container'))).toBe(true);
  });
});

describe('moor check on a directory over its budget', () => {
  function hardLinkBomb(count: number, size: number): string {
    const tree = join(dir, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'web.container'), '[Container]\nImage=localhost/web:1\n');
    writeFileSync(join(tree, 'data-0.md'), Buffer.alloc(size, 0x61));
    for (let i = 1; i < count; i++) linkSync(join(tree, 'data-0.md'), join(tree, `data-${i}.md`));
    return tree;
  }

  it('stops at the byte budget while walking, reading nothing, in bounded memory', () => {
    const tree = hardLinkBomb(1536, MiB);
    const r = moorWithPeak(['--config', config(), 'check', tree, '--transforms', join(dir, 'transforms'), '--json']);
    expect(r.code, r.stderr).toBe(2);
    const out = JSON.parse(r.stdout) as { problems: { code: string; message: string }[] };
    expect(out.problems).toEqual([expect.objectContaining({ code: 'repo-too-large' })]);
    expect(out.problems[0]!.message).toContain('max_repo_bytes');
    expect(r.peakMiB).toBeLessThan(PEAK_LIMIT_MiB);
  });

  it('names the file-count and depth limits', () => {
    const tree = hardLinkBomb(50, 1);
    const files = runMoor(['--config', config('max_repo_files = 20'), 'check', tree, '--transforms', join(dir, 'transforms')]);
    expect(files.code).toBe(2);
    expect(files.stdout).toContain('over max_repo_files (20)');

    mkdirSync(join(tree, 'a/b/c/d/e'), { recursive: true });
    writeFileSync(join(tree, 'a/b/c/d/e/f.md'), 'x');
    const deep = runMoor(['--config', config('max_repo_depth = 4'), 'check', tree, '--transforms', join(dir, 'transforms')]);
    expect(deep.code).toBe(2);
    expect(deep.stdout).toContain('a/b/c/d/e is 5 levels deep, over max_repo_depth (4)');
  });
});
