import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRegularFile } from '../../daemon/host/hostile-files';
import { scanTree } from '../../daemon/host/repo-scan';
import { discover } from '../../daemon/core/discovery';
import type { TreeEntry } from '../../daemon/core/types';

const MiB = 1024 * 1024;

function hasMkfifo(): boolean {
  try {
    execFileSync('mkfifo', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let root: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'moor-scan-'));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function put(rel: string, content: string | Buffer = `# ${rel}\n`): Promise<void> {
  await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fs.writeFile(path.join(root, rel), content);
}
const find = (entries: TreeEntry[], p: string) => entries.find((e) => e.path === p);

describe('scanTree', () => {
  it('lists files with content, never following a symlink, skipping .git', async () => {
    await put('web.container', '[Container]\nImage=nginx\n');
    await put('apps/api.container');
    await put('.git/config', '[core]\n');
    await put('.git/objects/ab/cdef', 'x');
    await fs.symlink('/etc/shadow', path.join(root, 'evil.container'));
    await fs.mkdir(path.join(root, 'real'));
    await fs.symlink(path.join(root, 'real'), path.join(root, 'linked'));
    await put('real/z.env');

    const entries = await scanTree(root, { maxFileBytes: MiB });
    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual([
      'dir apps',
      'file apps/api.container',
      'symlink evil.container',
      'symlink linked',
      'dir real',
      'file real/z.env',
      'file web.container',
    ]);
    expect(find(entries, 'web.container')).toEqual({
      path: 'web.container',
      type: 'file',
      size: 24,
      content: '[Container]\nImage=nginx\n',
    });
    expect(find(entries, 'evil.container')?.content).toBeUndefined();
  });

  it('reports sizes but reads no file over the limit', async () => {
    await put('big.bin', Buffer.alloc(5 * MiB, 1));
    await put('edge.bin', Buffer.alloc(1000, 0x41));
    const entries = await scanTree(root, { maxFileBytes: 1000 });
    expect(find(entries, 'big.bin')).toEqual({ path: 'big.bin', type: 'file', size: 5 * MiB });
    expect(find(entries, 'edge.bin')?.content).toBe('A'.repeat(1000));
  });

  it('lists but neither enters nor reads what is too deep', async () => {
    await put('a/b/c.txt', 'secret');
    await put('a/b/c/d/e.container');
    const entries = await scanTree(root, { maxFileBytes: MiB });
    expect(entries.map((e) => e.path)).toEqual(['a', 'a/b', 'a/b/c', 'a/b/c.txt']);
    expect(find(entries, 'a/b/c.txt')).toEqual({ path: 'a/b/c.txt', type: 'file', size: 6 });
  });

  it('reads a host folder (hosts/<name>/) as deep as the root and its groups, and no deeper', async () => {
    await put('hosts/beta/web.container', 'beta');
    await put('hosts/beta/apps/api.env', 'A=1');
    await put('hosts/beta/apps/x/y/z.txt', 'deep');
    await put('other/beta/web.container', 'not read');
    const entries = await scanTree(root, { maxFileBytes: MiB });
    expect(find(entries, 'hosts/beta/web.container')?.content).toBe('beta');
    expect(find(entries, 'hosts/beta/apps/api.env')?.content).toBe('A=1');
    // As apps/x/y would be: listed, not entered.
    expect(entries.map((e) => e.path).filter((p) => p.startsWith('hosts/beta/apps/x'))).toEqual(['hosts/beta/apps/x', 'hosts/beta/apps/x/y']);
    expect(find(entries, 'other/beta/web.container')?.content).toBeUndefined();
  });

  it.skipIf(!hasMkfifo())('reports a fifo as "other" without blocking on it', async () => {
    execFileSync('mkfifo', [path.join(root, 'web.container')]);
    const entries = await scanTree(root, { maxFileBytes: MiB });
    expect(entries).toEqual([{ path: 'web.container', type: 'other', size: 0 }]);
  });

  it('does not read through a file swapped for a symlink after the lstat', async () => {
    await fs.symlink('/etc/shadow', path.join(root, 'swapped'));
    expect(await readRegularFile(path.join(root, 'swapped'), MiB)).toEqual({ type: 'symlink', size: 0 });
  });

  it.skipIf(!hasMkfifo())('does not block on a file swapped for a fifo after the lstat', async () => {
    execFileSync('mkfifo', [path.join(root, 'swapped')]);
    expect(await readRegularFile(path.join(root, 'swapped'), MiB)).toMatchObject({ type: 'other' });
  });

  it('fails with a HostError when the checkout is missing', async () => {
    await expect(scanTree(path.join(root, 'nope'), { maxFileBytes: MiB })).rejects.toMatchObject({
      name: 'HostError',
    });
  });
});

describe('scanTree + discover on a hostile checkout', () => {
  it('reports every problem at once and deploys only the sound workloads', async () => {
    await put('.git/HEAD', 'ref: refs/heads/main\n');
    await put('.git/hooks/pre-commit', '#!/bin/sh\n');
    await put('README.md', '# repo\n');
    await put('.moorignore', 'ci/\n');
    await put('ci/lint.sh');
    await fs.symlink('/etc/shadow', path.join(root, 'evil.container'));
    await fs.mkdir(path.join(root, 'target'));
    await fs.symlink(path.join(root, 'target'), path.join(root, 'linkdir'));
    await put('..bad.container');
    await put('Root.container');
    await put('a/web.container');
    await put('b/web.container');
    await put('fine-blob.bin', Buffer.alloc(5 * MiB));
    await put('x-y.service');
    await put('fine.container', '[Container]\nImage=busybox\n');
    await put('fine.env', 'A=1\n');
    await put('apps/.moor-no-transform', '');
    await put('apps/api.container');
    await put('apps/nested/deep.container');
    const fifo = hasMkfifo();
    if (fifo) execFileSync('mkfifo', [path.join(root, 'fine.sock')]);

    const entries = await scanTree(root, { maxFileBytes: MiB });
    expect(entries.some((e) => e.path.startsWith('.git'))).toBe(false);
    const r = discover(entries, { userPrefix: '', maxFileBytes: MiB });

    const got = r.problems.map((p) => `${p.code} ${p.path}`);
    expect(got).toEqual(
      expect.arrayContaining([
        'symlink evil.container',
        'symlink linkdir',
        'dot-dot ..bad.container',
        'invalid-user-name Root.container',
        'duplicate-stem a/web.container',
        'duplicate-stem b/web.container',
        'too-large fine-blob.bin',
        'orphan x-y.service',
        'too-deep apps/nested',
        ...(fifo ? ['not-a-regular-file fine.sock'] : []),
      ]),
    );
    expect(got).toHaveLength(fifo ? 10 : 9);
    expect(r.problems.find((p) => p.path === 'fine-blob.bin')?.message).toMatch(/5 MiB.*1 MiB/);
    expect(r.groups).toEqual([
      { name: 'a', noTransform: false },
      { name: 'apps', noTransform: true },
      { name: 'b', noTransform: false },
    ]);
    expect(r.workloads.map((w) => w.name)).toEqual(['Root', 'api', 'fine']);
    const fine = r.workloads.find((w) => w.name === 'fine');
    expect(fine?.spec.content).toBe('[Container]\nImage=busybox\n');
    expect(fine?.companions.map((c) => c.path)).toEqual(['fine.env']);
  });
});

describe('names that are not UTF-8', () => {
  const latin1 = (name: string) => Buffer.from(path.join(root, name), 'latin1');

  it('are a problem of the tree naming the escaped path, not a host error', async () => {
    await put('web.container', '[Container]\nImage=busybox\n');
    await fs.writeFile(latin1('caf\xe9.container'), '[Container]\nImage=x\n');
    await fs.mkdir(latin1('d\xff'));
    await fs.writeFile(latin1('d\xff/inner.container'), 'x');
    const entries = await scanTree(root, { maxFileBytes: MiB });
    expect(entries.filter((e) => e.rawPath).map((e) => `${e.type} ${e.rawPath}`)).toEqual(['file caf\\xe9.container', 'dir d\\xff']);
    const r = discover(entries, { userPrefix: '', maxFileBytes: MiB });
    expect(r.problems.map((p) => `${p.code} ${p.path}`)).toEqual(['not-utf8 caf\\xe9.container', 'not-utf8 d\\xff']);
    expect(r.problems[0]!.message).toContain('is not valid UTF-8');
    expect(r.workloads.map((w) => w.name)).toEqual(['web']);
  });

  it('can be exempted by .moorignore', async () => {
    await put('web.container', '[Container]\nImage=busybox\n');
    await put('.moorignore', 'caf*\nd*/\n');
    await fs.writeFile(latin1('caf\xe9.container'), 'x');
    await fs.mkdir(latin1('d\xff'));
    const r = discover(await scanTree(root, { maxFileBytes: MiB }), { userPrefix: '', maxFileBytes: MiB });
    expect(r.problems).toEqual([]);
  });
});
