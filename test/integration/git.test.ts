import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { syncRepo } from '../../daemon/host/git';
import { SourceError } from '../../daemon/core/errors';

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
    expect(r1).toEqual({ commit: first, changed: true });
    expect(readFileSync(join(checkout, 'web.container'), 'utf8')).toBe('[Container]\nImage=a\n');

    const again = await sync();
    expect(again).toEqual({ commit: first, changed: false });

    const second = commitFile('web.container', '[Container]\nImage=b\n');
    git(work, 'push', '-q', 'origin', 'main');
    const r2 = await sync();
    expect(r2).toEqual({ commit: second, changed: true });
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
    expect(r).toEqual({ commit: rewritten, changed: true });
    expect(readFileSync(join(checkout, 'a.container'), 'utf8')).toBe('a\n');
    expect(existsSync(join(checkout, 'b.container'))).toBe(false);
    expect(existsSync(join(checkout, 'stray.container'))).toBe(false);
    expect(existsSync(join(checkout, 'junk'))).toBe(false);
    expect(existsSync(join(checkout, '.gitignore-ignored'))).toBe(false);
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
    expect((err as Error).message).toMatch(/couldn't find remote ref|nope/);
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
