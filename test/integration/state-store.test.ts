import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateError } from '../../daemon/core/errors';
import { openStateStore } from '../../daemon/state/store';

let base: string;
beforeEach(async () => {
  base = await fs.mkdtemp(join(tmpdir(), 'moor-store-'));
});
afterEach(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

const mode = async (path: string) => (await fs.stat(path)).mode & 0o7777;

describe('openStateStore', () => {
  it('creates the layout, every directory 0700, whatever the umask', async () => {
    const dir = join(base, 'var', 'lib', 'moor');
    const old = process.umask(0);
    try {
      await openStateStore(dir);
    } finally {
      process.umask(old);
    }
    expect((await fs.readdir(dir)).sort()).toEqual(['applied', 'archives', 'generations', 'redeploy']);
    for (const path of ['', 'applied', 'archives', 'generations', 'redeploy']) expect(await mode(join(dir, path))).toBe(0o700);
  });

  it('tightens an existing state dir that others could read', async () => {
    const dir = join(base, 'state');
    await fs.mkdir(join(dir, 'applied'), { recursive: true, mode: 0o755 });
    await fs.chmod(dir, 0o755);
    await openStateStore(dir);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'applied'))).toBe(0o700);
  });

  it('refuses a state dir others could write to (they could plant links root writes through), and leaves it as it is', async () => {
    const dir = join(base, 'state');
    await fs.mkdir(join(dir, 'applied'), { recursive: true });
    await fs.chmod(dir, 0o777);
    await expect(openStateStore(dir)).rejects.toThrow(/writable by others \(mode 0777\)/);
    expect(await mode(dir)).toBe(0o777);
  });

  it('refuses an existing directory that holds something other than moor state, and neither changes nor fills it', async () => {
    const dir = join(base, 'etc');
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.writeFile(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    await fs.writeFile(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    await expect(openStateStore(dir)).rejects.toThrow(/holds hosts, passwd, which are not moor's state/);
    expect(await mode(dir)).toBe(0o755);
    expect((await fs.readdir(dir)).sort()).toEqual(['hosts', 'passwd']);
    // Read-only opening (moor status) creates nothing there either.
    await openStateStore(dir, { readOnly: true });
    expect((await fs.readdir(dir)).sort()).toEqual(['hosts', 'passwd']);
  });

  it('takes an empty directory, or a file system with only lost+found', async () => {
    const dir = join(base, 'fresh');
    await fs.mkdir(join(dir, 'lost+found'), { recursive: true });
    await openStateStore(dir);
    expect((await fs.readdir(dir)).sort()).toEqual(['applied', 'archives', 'generations', 'lost+found', 'redeploy']);
  });

  it('is idempotent and keeps existing state', async () => {
    const dir = join(base, 'state');
    const first = await openStateStore(dir);
    await first.pin.pin(3);
    const second = await openStateStore(dir);
    expect((await second.pin.read())?.generation).toBe(3);
  });

  it('resolves a relative path', async () => {
    const store = await openStateStore(relative(process.cwd(), join(base, 'rel')));
    expect(store.dir).toBe(join(base, 'rel'));
    expect(store.layout.current).toBe(join(base, 'rel', 'current'));
  });

  it('refuses a path that is a file', async () => {
    await fs.writeFile(join(base, 'file'), '');
    await expect(openStateStore(join(base, 'file'))).rejects.toThrow(StateError);
  });

  it.runIf(process.getuid?.() === 0)('refuses a state dir owned by another user', async () => {
    const dir = join(base, 'theirs');
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.chown(dir, 65534, 65534);
    await expect(openStateStore(dir)).rejects.toThrow(/owned by uid 65534/);
  });
});
