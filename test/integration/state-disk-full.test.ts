// A full disk while a pass writes its generation (docs/design.md §7): nothing half-written
// becomes live, the pass exits non-zero with the reason, the host keeps running what it
// ran, and the next pass after space returns converges. The state dir is a 2 MB tmpfs,
// filled just before the generation is written (after the fetch, which needs room too).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readlinkSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateError } from '../../daemon/core/errors';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

const isRoot = process.getuid?.() === 0;
let h: PassHarness;
let mounted = false;

beforeEach(() => {
  h = new PassHarness();
  if (!isRoot) return;
  mkdirSync(h.stateDir, { recursive: true, mode: 0o700 });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', h.stateDir]);
  mounted = true;
});

afterEach(() => {
  if (mounted) execFileSync('umount', ['-l', h.stateDir]);
  mounted = false;
  h.cleanup();
});

const ballast = () => join(h.stateDir, 'ballast');

/** Fills the state dir's file system to the last few blocks. */
function fillDisk(): void {
  const fs = statfsSync(h.stateDir);
  writeFileSync(ballast(), Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 2048)));
}

describe('a full disk while the generation is written', () => {
  it.runIf(isRoot)('makes nothing half-written live, fails with the reason, keeps the host as it ran, and the next pass converges', async () => {
    h.commit({ 'web.container': containerSpec('localhost/web:1') }, 'v1');
    expect((await h.pass()).result).toMatchObject({ exitCode: 0, generation: 1, generationState: 'complete' });

    // A change whose rendered files need more room than is left once the fetch is done.
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'web.env': `BIG=${'x'.repeat(64 * 1024)}\n` }, 'v2');
    const open = h.openStore.bind(h);
    h.openStore = async () => {
      const store = await open();
      const begin = store.generations.begin.bind(store.generations);
      store.generations.begin = async (input) => {
        fillDisk();
        return begin(input);
      };
      return store;
    };
    const err = await h.pass().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateError);
    expect((err as Error).message).toMatch(/ENOSPC|no space/i);
    // Live is still generation 1, complete; the host runs what it ran.
    expect(readlinkSync(join(h.stateDir, 'current'))).toBe('generations/000001');
    const store = await open();
    expect(await store.generations.current()).toBe(1);
    expect((await store.applied.read('web'))?.generation).toBe(1);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(containerSpec('localhost/web:1'));

    // Space returns: the next pass converges, and what the full disk left is not live.
    h.openStore = open;
    rmSync(ballast());
    const { result } = await h.pass();
    expect(result).toMatchObject({ exitCode: 0, generationState: 'complete' });
    expect(await (await open()).generations.current()).toBe(result.generation);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toBe(containerSpec('localhost/web:2'));
  });
});
