// State files parsed once per version on disk (state/parsed-files.ts): a kept parse is
// returned only while the file is the very one parsed, and only once its last change is
// older than a clock tick; every other read parses the file again.
import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { StateError } from '../../daemon/core/errors';
import { ParsedFiles, SETTLED_MS } from '../../daemon/state/parsed-files';

let dir: string;
let parses: number;
// Counts the parses that reach the schema: a read answered from what is kept never does.
const Record = z.pipe(
  z.object({ v: z.number(), items: z.array(z.string()) }),
  z.transform((value) => {
    parses++;
    return value;
  }),
);
const later = () => Date.now() + 10 * SETTLED_MS;
/**
 * With `later`, a file is kept as soon as it is written; a change within the same clock tick
 * could then carry the same times (what SETTLED_MS guards against): the tests change a file
 * a few ticks after they wrote it.
 */
const ticks = () => new Promise((resolve) => setTimeout(resolve, 30));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-parsed-'));
  parses = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Replaces the file as the state store writes it: a new file renamed over the old. */
function replace(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value));
  renameSync(`${path}.tmp`, path);
}

describe('parsed state files', () => {
  it('parses a settled file once, and again as soon as it is replaced, even by one of the same size', async () => {
    const files = new ParsedFiles({ now: later });
    const path = join(dir, 'status.json');
    replace(path, { v: 1, items: ['a'] });
    expect(files.read(path, Record)).toEqual({ v: 1, items: ['a'] });
    expect(files.read(path, Record)).toEqual({ v: 1, items: ['a'] });
    expect(parses).toBe(1);

    await ticks();
    replace(path, { v: 2, items: ['b'] });
    expect(files.read(path, Record)).toEqual({ v: 2, items: ['b'] });
    expect(parses).toBe(2);
  });

  it('sees a file changed in place with its times set back: its status-change time moved', async () => {
    const files = new ParsedFiles({ now: later });
    const path = join(dir, 'manifest.json');
    writeFileSync(path, JSON.stringify({ v: 1, items: [] }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expect(files.read(path, Record)?.v).toBe(1);
    // Same inode, same size, same mtime: only the ctime, which no one can set, tells.
    await ticks();
    writeFileSync(path, JSON.stringify({ v: 2, items: [] }));
    utimesSync(path, old, old);
    expect(files.read(path, Record)?.v).toBe(2);
  });

  it('keeps nothing of a file changed less than a tick ago: it is parsed on every read', () => {
    const files = new ParsedFiles();
    const path = join(dir, 'applied.json');
    replace(path, { v: 1, items: [] });
    files.read(path, Record);
    files.read(path, Record);
    expect(parses).toBe(2);
  });

  it('forgets a file deleted, and reports one that became corrupt, naming it', () => {
    const files = new ParsedFiles({ now: later });
    const path = join(dir, 'status.json');
    replace(path, { v: 1, items: [] });
    files.read(path, Record);
    rmSync(path);
    expect(files.read(path, Record)).toBeUndefined();
    replace(path, { v: 'one' });
    expect(() => files.read(path, Record)).toThrow(StateError);
    expect(() => files.read(path, Record)).toThrow(path);
  });

  it('hands every read its own copy: a caller changing what it got changes nothing for the next', () => {
    const files = new ParsedFiles({ now: later });
    const path = join(dir, 'status.json');
    replace(path, { v: 1, items: ['a'] });
    files.read(path, Record)!.items.push('b');
    const kept = files.read(path, Record)!;
    kept.items.push('c');
    expect(files.read(path, Record)).toEqual({ v: 1, items: ['a'] });
    expect(parses).toBe(1);
  });

  it('shares one frozen value among readers that asked for it shared, settled or not', async () => {
    const path = join(dir, 'manifest.json');
    replace(path, { v: 1, items: ['a'] });
    const fresh = new ParsedFiles().read(path, Record, 'shared')!;
    expect(() => fresh.items.push('b')).toThrow(TypeError);
    const files = new ParsedFiles({ now: later });
    const first = files.read(path, Record, 'shared')!;
    expect(files.read(path, Record, 'shared')).toBe(first);
    expect(() => first.items.push('b')).toThrow(TypeError);
    expect(parses).toBe(2);
  });

  it('parses again for another schema, and keeps at most the entries it is given', () => {
    const files = new ParsedFiles({ now: later, maxEntries: 2 });
    const paths = ['a', 'b', 'c'].map((n) => join(dir, `${n}.json`));
    for (const p of paths) replace(p, { v: 1, items: [] });
    for (const p of paths) files.read(p, Record);
    expect(parses).toBe(3);
    // a was dropped (the least recently read); b and c are kept.
    files.read(paths[2]!, Record);
    files.read(paths[1]!, Record);
    expect(parses).toBe(3);
    files.read(paths[0]!, Record);
    expect(parses).toBe(4);
    const Other = z.object({ v: z.number() });
    expect(files.read(paths[0]!, Other)).toEqual({ v: 1 });
  });
});
