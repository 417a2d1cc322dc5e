import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// The mini API, as state's record schemas use: the classic one would set up zod's English itself.
import * as z from 'zod/mini';
import { StateError } from '../../daemon/core/errors';
import { ensureDir, readJson, readJsonIfExists, removeFile, writeFileAtomic, writeJsonAtomic } from '../../daemon/state/atomic';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'moor-atomic-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const mode = async (path: string) => (await fs.stat(path)).mode & 0o7777;
const Shape = z.object({ n: z.number() });

describe('writeFileAtomic', () => {
  it('writes the file 0600, whatever the umask', async () => {
    const old = process.umask(0);
    try {
      await writeFileAtomic(join(dir, 'a'), 'x');
    } finally {
      process.umask(old);
    }
    expect(await fs.readFile(join(dir, 'a'), 'utf8')).toBe('x');
    expect(await mode(join(dir, 'a'))).toBe(0o600);
  });

  it('replaces a file that had looser permissions with a 0600 one', async () => {
    await fs.writeFile(join(dir, 'a'), 'old', { mode: 0o644 });
    await writeFileAtomic(join(dir, 'a'), 'new');
    expect(await fs.readFile(join(dir, 'a'), 'utf8')).toBe('new');
    expect(await mode(join(dir, 'a'))).toBe(0o600);
  });

  it('leaves no temporary file behind', async () => {
    await writeFileAtomic(join(dir, 'a'), 'x');
    await writeFileAtomic(join(dir, 'a'), 'y');
    expect(await fs.readdir(dir)).toEqual(['a']);
  });

  it('refuses to write through a symlink', async () => {
    await fs.writeFile(join(dir, 'target'), 'untouched');
    await fs.symlink(join(dir, 'target'), join(dir, 'link'));
    await expect(writeFileAtomic(join(dir, 'link'), 'evil')).rejects.toThrow(StateError);
    expect(await fs.readFile(join(dir, 'target'), 'utf8')).toBe('untouched');
  });

  it('never lets another process read half a file', async () => {
    const path = join(dir, 'state.json');
    const stop = join(dir, 'stop');
    await writeJsonAtomic(path, { n: 0, pad: '' });
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs'); const [path, stop] = process.argv.slice(1);
         let reads = 0, torn = 0;
         console.log('ready');
         while (!fs.existsSync(stop)) {
           try { JSON.parse(fs.readFileSync(path, 'utf8')); reads++; } catch (e) { torn++; }
         }
         console.log(JSON.stringify({ reads, torn }));`,
        path,
        stop,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise<void>((resolve) => reader.stdout.once('data', () => resolve()));
    for (let n = 1; n <= 100; n++) await writeJsonAtomic(path, { n, pad: 'x'.repeat((n % 7) * 20_000) });
    await fs.writeFile(stop, '');
    await new Promise((resolve) => reader.once('exit', resolve));
    const result = JSON.parse(out.trim().split('\n').at(-1) as string) as { reads: number; torn: number };
    expect(result.torn).toBe(0);
    expect(result.reads).toBeGreaterThan(0);
  });
});

describe('readJson', () => {
  it('reads a valid file', async () => {
    await writeJsonAtomic(join(dir, 'ok.json'), { n: 1 });
    expect(await readJson(join(dir, 'ok.json'), Shape)).toEqual({ n: 1 });
  });

  it('throws a StateError naming the file on corrupt JSON', async () => {
    const path = join(dir, 'corrupt.json');
    await fs.writeFile(path, '{"n": 1');
    const err = await readJson(path, Shape).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateError);
    expect((err as StateError).name).toBe('StateError');
    expect((err as StateError).category).toBe('state');
    expect((err as StateError).message).toContain(path);
    expect((err as StateError).message).toContain('corrupt JSON');
  });

  it('throws a StateError naming the file when the shape is wrong', async () => {
    const path = join(dir, 'shape.json');
    await fs.writeFile(path, '{"n": "one"}');
    await expect(readJson(path, Shape)).rejects.toThrow(new RegExp(`^${path}: unexpected content`));
    // zod's own words, in English, say what is wrong and where.
    await expect(readJson(path, Shape)).rejects.toThrow(`${path}: unexpected content: ✖ Invalid input: expected number, received string   → at n`);
  });

  it('throws a StateError for a missing file; readJsonIfExists gives undefined', async () => {
    const path = join(dir, 'missing.json');
    await expect(readJson(path, Shape)).rejects.toThrow(`${path}: missing`);
    expect(await readJsonIfExists(path, Shape)).toBeUndefined();
  });

  it('throws a StateError when the path is unreadable (a directory)', async () => {
    await expect(readJsonIfExists(dir, Shape)).rejects.toThrow(StateError);
  });
});

describe('ensureDir and removeFile', () => {
  it('creates every missing level 0700, whatever the umask', async () => {
    const old = process.umask(0o022);
    try {
      await ensureDir(join(dir, 'a', 'b', 'c'));
    } finally {
      process.umask(old);
    }
    for (const path of ['a', 'a/b', 'a/b/c']) expect(await mode(join(dir, path))).toBe(0o700);
    await ensureDir(join(dir, 'a', 'b', 'c'));
  });

  it('refuses a path through a regular file', async () => {
    await fs.writeFile(join(dir, 'file'), '');
    await expect(ensureDir(join(dir, 'file'))).rejects.toThrow(StateError);
    await expect(ensureDir(join(dir, 'file', 'sub'))).rejects.toThrow();
  });

  it('removes a file and reports whether it existed', async () => {
    await writeFileAtomic(join(dir, 'a'), 'x');
    expect(await removeFile(join(dir, 'a'))).toBe(true);
    expect(await removeFile(join(dir, 'a'))).toBe(false);
  });
});
