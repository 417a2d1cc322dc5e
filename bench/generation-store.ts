// The generation store alone (docs/design.md §7), without a pass around it: N workloads of
// one file each, two complete generations, then the median of 7 runs of what a pass asks
// of the store: list every generation, recover (step 1), count the bytes gc budgets, begin
// and finish a generation that changes one workload, and gc (which deletes the oldest
// generation each time). Also the files on disk that a generation changing one workload
// adds. A real state dir in /dev/shm (or the temp dir). A figure, not a test.
//   node --import tsx bench/generation-store.ts [--sizes 500,1000] [--json]
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateStore } from '../daemon/state/store';
import type { GenerationInput } from '../daemon/state/generations';
import type { StatusItem } from '../daemon/state/generation-records';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sizes = (argValue('--sizes') ?? '500,1000').split(',').map(Number);
const RUNS = 7;

async function filesUnder(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) n += await filesUnder(join(dir, entry.name));
    else n++;
  }
  return n;
}

const rows: Record<string, number | string>[] = [];
for (const n of sizes) {
  const base = await fs.stat('/dev/shm').then(() => '/dev/shm', () => tmpdir());
  const dir = mkdtempSync(join(base, 'moor-generation-store-'));
  try {
    const store = await openStateStore(dir);
    const input = (tag: number): GenerationInput => ({
      kind: 'pass',
      commit: 'c'.repeat(40),
      source: '/srv/git/fleet.git',
      workloads: Object.fromEntries(
        Array.from({ length: n }, (_, i) => {
          const version = i === 0 ? tag : 1;
          return [`w${i}`, { user: `w${i}`, hash: `h${i}-${version}`, files: { [`containers/systemd/w${i}.container`]: `[Container]\nImage=localhost/w${i}:${version}\n` } }];
        }),
      ),
    });
    const items: StatusItem[] = Array.from({ length: n }, (_, i) => ({ workload: `w${i}`, user: `w${i}`, action: 'create', result: 'ok', durationMs: 1, at: new Date().toISOString() }));
    let tag = 1;
    const changeOne = async () => {
      const id = await store.generations.begin(input(tag++));
      await store.generations.finish(id, items);
    };
    await changeOne();
    await changeOne();
    const median = async (fn: () => Promise<unknown>) => {
      const ms: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const start = performance.now();
        await fn();
        ms.push(performance.now() - start);
      }
      return Math.round(ms.sort((a, b) => a - b)[RUNS >> 1]! * 10) / 10;
    };
    const before = await filesUnder(dir);
    await changeOne();
    const filesAdded = (await filesUnder(dir)) - before;
    rows.push({
      workloads: n,
      'list ms': await median(() => store.generations.list()),
      'recover ms': await median(() => store.generations.recoverAborted()),
      'bytesOnDisk ms': await median(() => store.generations.bytesOnDisk()),
      'begin+finish one change ms': await median(changeOne),
      'gc ms': await median(() => store.gc({ keepMin: 3, keepMax: 3, minAgeMs: 0, maxAgeMs: 365 * 86_400_000, maxBytes: 1024 ** 3 })),
      'files added by one change': filesAdded,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const keys = Object.keys(rows[0] ?? {});
  console.log(keys.join('  '));
  for (const row of rows) console.log(keys.map((k) => String(row[k]).padStart(k.length)).join('  '));
}
