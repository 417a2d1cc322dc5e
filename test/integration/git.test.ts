import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { syncRepo } from '../../daemon/host/git';
import { SourceError, ValidationError } from '../../daemon/core/errors';

let root: string;
let bare: string;
let work: string;
let checkout: string;

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'T',
  GIT_AUTHOR_EMAIL: 't@example.invalid',
  GIT_COMMITTER_NAME: 'T',
  GIT_COMMITTER_EMAIL: 't@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function commitFile(name: string, content: string): string {
  writeFileSync(join(work, name), content);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', `write ${name}`);
  return git(work, 'rev-parse', 'HEAD');
}

const sync = (extra: Partial<Parameters<typeof syncRepo>[0]> = {}) =>
  syncRepo({ url: bare, branch: 'main', dir: checkout, timeoutMs: 20_000, ...extra });

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'moor-git-'));
  bare = join(root, 'origin.git');
  work = join(root, 'work');
  checkout = join(root, 'state', 'checkout');
  git(root, 'init', '-q', '--bare', '--initial-branch=main', bare);
  git(root, 'clone', '-q', bare, work);
  git(work, 'checkout', '-q', '-b', 'main');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('syncRepo', () => {
  it('clones, then fetches a new push, reporting whether the commit changed', async () => {
    const first = commitFile('web.container', '[Container]\nImage=a\n');
    git(work, 'push', '-q', 'origin', 'main');

    const r1 = await sync();
    expect(r1).toEqual({ commit: first, changed: true, checkedOut: true });
    expect(readFileSync(join(checkout, 'web.container'), 'utf8')).toBe('[Container]\nImage=a\n');

    const again = await sync();
    expect(again).toEqual({ commit: first, changed: false, checkedOut: true });

    const second = commitFile('web.container', '[Container]\nImage=b\n');
    git(work, 'push', '-q', 'origin', 'main');
    const r2 = await sync();
    expect(r2).toEqual({ commit: second, changed: true, checkedOut: true });
    expect(readFileSync(join(checkout, 'web.container'), 'utf8')).toBe('[Container]\nImage=b\n');
  });

  it('follows a force-push that rewrote history, and drops local edits and stray files', async () => {
    commitFile('a.container', 'a\n');
    const old = commitFile('b.container', 'b\n');
    git(work, 'push', '-q', 'origin', 'main');
    expect((await sync()).commit).toBe(old);

    writeFileSync(join(checkout, 'a.container'), 'tampered\n');
    writeFileSync(join(checkout, 'stray.container'), 'stray\n');
    mkdirSync(join(checkout, 'junk'));
    writeFileSync(join(checkout, 'junk', 'x'), 'x');
    writeFileSync(join(checkout, '.gitignore-ignored'), 'x');

    git(work, 'reset', '-q', '--hard', 'HEAD~1');
    const rewritten = commitFile('c.container', 'c\n');
    git(work, 'push', '-q', '--force', 'origin', 'main');

    const r = await sync();
    expect(r).toEqual({ commit: rewritten, changed: true, checkedOut: true });
    expect(readFileSync(join(checkout, 'a.container'), 'utf8')).toBe('a\n');
    expect(existsSync(join(checkout, 'b.container'))).toBe(false);
    expect(existsSync(join(checkout, 'stray.container'))).toBe(false);
    expect(existsSync(join(checkout, 'junk'))).toBe(false);
    expect(existsSync(join(checkout, '.gitignore-ignored'))).toBe(false);
  });

  it('leaves the checkout untouched when the target is the commit the caller already read (reuse), and only then', async () => {
    const first = commitFile('web.container', '[Container]\nImage=a\n');
    git(work, 'push', '-q', 'origin', 'main');
    await sync();
    writeFileSync(join(checkout, 'stray.container'), 'stray\n');
    // The fetch and vetTip still run on the reused commit.
    const vetted: string[] = [];
    const vetTip = async (c: string) => void vetted.push(c);
    expect(await sync({ reuse: first, vetTip })).toEqual({ commit: first, changed: false, checkedOut: false });
    expect(vetted).toEqual([first]);
    expect(existsSync(join(checkout, 'stray.container'))).toBe(true);

    const second = commitFile('web.container', '[Container]\nImage=b\n');
    git(work, 'push', '-q', 'origin', 'main');
    expect(await sync({ reuse: first, vetTip })).toEqual({ commit: second, changed: true, checkedOut: true });
    expect(vetted).toEqual([first, second]);
    expect(existsSync(join(checkout, 'stray.container'))).toBe(false);
    expect(readFileSync(join(checkout, 'web.container'), 'utf8')).toBe('[Container]\nImage=b\n');
  });

  it('drops what was staged in the checkout and restores a deleted file, with no reset of its own', async () => {
    commitFile('a.container', 'a\n');
    const head = commitFile('b.container', 'b\n');
    git(work, 'push', '-q', 'origin', 'main');
    await sync();
    writeFileSync(join(checkout, 'staged.container'), 'staged\n');
    writeFileSync(join(checkout, 'a.container'), 'staged edit\n');
    git(checkout, 'add', 'staged.container', 'a.container');
    rmSync(join(checkout, 'b.container'));
    expect(await sync()).toEqual({ commit: head, changed: false, checkedOut: true });
    expect(existsSync(join(checkout, 'staged.container'))).toBe(false);
    expect(readFileSync(join(checkout, 'a.container'), 'utf8')).toBe('a\n');
    expect(readFileSync(join(checkout, 'b.container'), 'utf8')).toBe('b\n');
    expect(git(checkout, 'status', '--porcelain', '--ignored')).toBe('');
  });

  it('removes ignored files too', async () => {
    commitFile('.gitignore', '*.log\n');
    git(work, 'push', '-q', 'origin', 'main');
    await sync();
    writeFileSync(join(checkout, 'debug.log'), 'x');
    await sync();
    expect(existsSync(join(checkout, 'debug.log'))).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)('fetches from a local bare repo owned by another user (git\'s ownership check)', async () => {
    const head = commitFile('a.container', '[Container]\nImage=x\n');
    git(work, 'push', '-q', 'origin', 'main');
    execFileSync('chown', ['-R', '65534:65534', bare]);
    const result = await sync();
    expect(result.commit).toBe(head);
  });

  it('switches to the configured URL when it changes', async () => {
    commitFile('a.container', 'a\n');
    git(work, 'push', '-q', 'origin', 'main');
    await sync();
    const mirror = join(root, 'mirror.git');
    git(root, 'clone', '-q', '--bare', bare, mirror);
    const mirrorWork = join(root, 'mirror-work');
    git(root, 'clone', '-q', mirror, mirrorWork);
    writeFileSync(join(mirrorWork, 'm.container'), 'm\n');
    git(mirrorWork, 'add', '-A');
    git(mirrorWork, 'commit', '-q', '-m', 'mirror only');
    git(mirrorWork, 'push', '-q', 'origin', 'main');
    const r = await sync({ url: mirror });
    expect(r.commit).toBe(git(mirrorWork, 'rev-parse', 'HEAD'));
    expect(existsSync(join(checkout, 'm.container'))).toBe(true);
  });

  it('fails with a SourceError carrying git’s message when the repository does not exist', async () => {
    const err = await sync({ url: join(root, 'nowhere.git') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(/does not appear to be a git repository|not found|No such/i);
  });

  it('fails with a SourceError when the branch does not exist', async () => {
    commitFile('a.container', 'a\n');
    git(work, 'push', '-q', 'origin', 'main');
    const err = await sync({ branch: 'nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toBe('branch nope does not exist in the source repository (it has main): push it, or set source.branch');
  });

  it('fails with a SourceError naming the fix when the bare repository has no commits yet', async () => {
    const err = await sync().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toBe('branch main has no commits yet: push one first (the source repository is empty)');
    expect((err as Error).message).not.toMatch(/fatal|couldn't find/);
  });

  it('keeps the last good checkout when a fetch fails', async () => {
    const good = commitFile('a.container', 'a\n');
    git(work, 'push', '-q', 'origin', 'main');
    await sync();
    rmSync(bare, { recursive: true, force: true });
    await expect(sync()).rejects.toBeInstanceOf(SourceError);
    expect(readFileSync(join(checkout, 'a.container'), 'utf8')).toBe('a\n');
    expect(git(checkout, 'rev-parse', 'HEAD')).toBe(good);
  });

  it('refuses a non-empty directory that is not a checkout', async () => {
    commitFile('a.container', 'a\n');
    git(work, 'push', '-q', 'origin', 'main');
    mkdirSync(checkout, { recursive: true });
    writeFileSync(join(checkout, 'precious'), 'keep me');
    await expect(sync()).rejects.toThrow(/not a git checkout/);
    expect(readFileSync(join(checkout, 'precious'), 'utf8')).toBe('keep me');
  });

  it('bounds each git command with the timeout', async () => {
    // A server that accepts the connection and never answers stands in for a hung remote.
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const t0 = Date.now();
      const err = await syncRepo({ url: `http://127.0.0.1:${port}/repo.git`, branch: 'main', dir: checkout, timeoutMs: 500 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceError);
      expect((err as Error).message).toMatch(/timeout/i);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('passes the ssh key through GIT_SSH_COMMAND, non-interactively', async () => {
    // A fake ssh on PATH records what git ran; the URL makes git use ssh.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    const log = join(root, 'ssh.log');
    writeFileSync(join(bin, 'ssh'), `#!/bin/sh\necho "$@" > '${log}'\nexit 255\n`, { mode: 0o755 });
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    try {
      const err = await sync({ url: 'git@example.invalid:org/repo.git', sshKey: join(root, "key with 'quote") }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceError);
    } finally {
      process.env.PATH = savedPath;
    }
    const args = readFileSync(log, 'utf8');
    expect(args).toContain(`-i ${join(root, "key with 'quote")} -o IdentitiesOnly=yes -o BatchMode=yes`);
    expect(args).toContain('git@example.invalid');
  });
});

describe('syncRepo refuses what could inject git config', () => {
  it('never runs a command smuggled into the URL of a local source by a newline', async () => {
    commitFile('web.container', 'x\n');
    git(work, 'push', '-q', 'origin', 'main');
    const marker = join(root, 'pwned');
    // Written verbatim into the [safe] section of moor's git config, this would add a
    // [remote "origin"] section whose uploadpack git runs through a shell.
    const url = `${bare}\n[remote "origin"]\n\tuploadpack = touch ${marker}; git-upload-pack\n[x]\n\ty = `;
    const err = await sync({ url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toContain('source.url contains a newline or another control character');
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(checkout)).toBe(false);
  });

  it('refuses a control character in the branch and the ssh key path', async () => {
    await expect(sync({ branch: 'main\n' })).rejects.toThrow(/source\.branch contains/);
    await expect(sync({ sshKey: '/k\u0007' })).rejects.toThrow(/source\.ssh_key contains/);
  });
});

describe('syncRepo measures the fetched tree before checking it out', () => {
  it('refuses a tree over the budget with a ValidationError naming the limit, checking out nothing', async () => {
    for (let i = 0; i < 30; i++) writeFileSync(join(work, `f${i}.md`), 'same content\n');
    commitFile('web.container', 'x\n');
    git(work, 'push', '-q', 'origin', 'main');
    const err = await sync({ budget: { maxBytes: 1_000_000, maxFiles: 10, maxDepth: 10 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).problems[0]).toMatchObject({ code: 'repo-too-many-files' });
    expect((err as ValidationError).problems[0]!.message).toContain('max_repo_files (10)');
    expect(existsSync(join(checkout, 'web.container'))).toBe(false);
  });

  it('stops listing a tree nested in itself at the first limit (a billion paths from a few objects)', async () => {
    commitFile('web.container', 'x\n');
    git(work, 'push', '-q', 'origin', 'main');
    const blob = git(bare, 'rev-parse', 'main:web.container');
    const mktree = (lines: string[]) =>
      execFileSync('git', ['mktree'], { cwd: bare, env: gitEnv, input: `${lines.join('\n')}\n`, encoding: 'utf8' }).trim();
    let tree = mktree(Array.from({ length: 32 }, (_, i) => `100644 blob ${blob}\tf${i}`));
    for (let level = 0; level < 6; level++) tree = mktree(Array.from({ length: 32 }, (_, i) => `040000 tree ${tree}\td${i}`));
    const commit = execFileSync('git', ['commit-tree', tree, '-m', 'bomb'], { cwd: bare, env: gitEnv, encoding: 'utf8' }).trim();
    git(bare, 'update-ref', 'refs/heads/main', commit);

    const started = Date.now();
    const err = await sync({ budget: { maxBytes: 64 * 1024 * 1024, maxFiles: 10_000, maxDepth: 10 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).problems[0]!.code).toBe('repo-too-many-files');
    expect(Date.now() - started).toBeLessThan(15_000);

    const deep = await sync({ budget: { maxBytes: 64 * 1024 * 1024, maxFiles: 10_000, maxDepth: 3 } }).catch((e: unknown) => e);
    expect((deep as ValidationError).problems[0]).toMatchObject({ code: 'repo-too-deep', path: 'd0/d0/d0/d0/d0/d0/f0' });
  });
});
