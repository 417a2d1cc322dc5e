// Benchmark: how long the built CLI takes from a cold start to its exit, against the floor
// of starting Node.js at all (`node -e 0`), measured in the same run. A figure, not a test.
//
//   npx tsx bench/cli-cold.ts [--runs 21] [--bundle dist/moor.mjs] [--compare OTHER/moor.mjs] [--json] [--no-build]
//
// Each command runs as its own `node <bundle> ...` process against a config of its own: an
// empty state directory (so `status` reads no state and asks systemd about no workload), a
// control socket nobody listens on (so `status` reads the state itself), and for `check`
// the example repository with an empty transform for its group. No root and no systemd needed.
// The commands run interleaved, one process at a time, so a burst of load on the machine
// falls on all of them alike; the figures of each are its median wall time and the median
// CPU time (user + system, every thread) the process reports as it exits, which load from
// other work on the machine moves less than wall time. --compare runs
// the same commands of another build (an earlier commit's dist/moor.mjs) in the same rounds.
// Beside the times: how many of the bundle's files each command loads and their size, from
// one more, untimed, run of it with a module hook that notes them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildBundle } from '../test/e2e/host-proc';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Case {
  name: string;
  argv: string[];
  /** The exit codes that mean the command did its work (status is 0 on an empty host). */
  ok: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Preloaded into every measured process: its own CPU time, written as it exits. */
const CPU_HOOK = `import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  const u = process.cpuUsage();
  writeFileSync(process.env.MOOR_BENCH_CPU_FILE, String((u.user + u.system) / 1000));
});
`;

/**
 * Preloaded into one untimed run of each command: LOAD_HOOKS, which write every file of the
 * bundle the command loads, with its size, as it is loaded (module hooks run on a thread of
 * their own).
 */
const LOAD_HOOK = `import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
register(pathToFileURL(process.env.MOOR_BENCH_LOAD_HOOKS).href);
`;
const LOAD_HOOKS = `import { appendFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.mjs')) appendFileSync(process.env.MOOR_BENCH_LOAD_FILE, statSync(fileURLToPath(url)).size + ' ');
  return next(url, context);
}
`;

/** The .mjs files a command loads and their bytes, from one run under LOAD_HOOK. */
function loaded(c: Case, hook: string, hooks: string, loadFile: string): { files: number; bytes: number } {
  writeFileSync(loadFile, '');
  const r = spawnSync(process.execPath, ['--import', hook, ...c.argv], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', MOOR_BENCH_LOAD_HOOKS: hooks, MOOR_BENCH_LOAD_FILE: loadFile } });
  if (r.status === null || !c.ok.includes(r.status)) throw new Error(`${c.name}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  const sizes = readFileSync(loadFile, 'utf8').split(' ').filter(Boolean).map(Number);
  return { files: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function timed(c: Case, hook: string, cpuFile: string): Timing {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--import', hook, ...c.argv], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', MOOR_BENCH_CPU_FILE: cpuFile } });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status === null || !c.ok.includes(r.status)) throw new Error(`${c.name}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  return { wallMs, cpuMs: Number(readFileSync(cpuFile, 'utf8')) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '21' },
      bundle: { type: 'string', default: join(REPO_ROOT, 'dist/moor.mjs') },
      compare: { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: a positive integer`);
  if (!values['no-build']) {
    const failed = await buildBundle(REPO_ROOT);
    if (failed) throw new Error(failed);
  }
  const bundle = resolve(values.bundle);

  const dir = mkdtempSync(join(tmpdir(), 'moor-cli-cold-'));
  try {
    const state = join(dir, 'state');
    const transforms = join(dir, 'transforms');
    mkdirSync(state, { mode: 0o700 });
    mkdirSync(transforms);
    // The example repository's group apps/ needs a transform on the host; an empty one will do.
    writeFileSync(join(transforms, 'apps.container'), '[Container]\n');
    const config = join(dir, 'config.toml');
    writeFileSync(
      config,
      [`state_dir = "${state}"`, `transforms_dir = "${transforms}"`, '[source]', 'url = "https://example.invalid/deploy.git"', '[control]', `socket = "${join(dir, 'moor.sock')}"`, ''].join('\n'),
    );
    const commands = (label: string, file: string): Case[] => {
      const moor = (...args: string[]) => [file, '--config', config, ...args];
      return [
        { name: `${label}--version`, argv: moor('--version'), ok: [0] },
        { name: `${label}--help`, argv: moor('--help'), ok: [0] },
        { name: `${label}status`, argv: moor('status'), ok: [0] },
        { name: `${label}check`, argv: moor('check', join(REPO_ROOT, 'examples/repo')), ok: [0] },
      ];
    };
    const cases: Case[] = [
      { name: 'node -e 0', argv: ['-e', '0'], ok: [0] },
      ...commands('moor ', bundle),
      ...(values.compare ? commands('compared ', resolve(values.compare)) : []),
    ];
    const hook = join(dir, 'cpu-hook.mjs');
    writeFileSync(hook, CPU_HOOK);
    const cpuFile = join(dir, 'cpu');
    const loadHook = join(dir, 'load-hook.mjs');
    writeFileSync(loadHook, LOAD_HOOK);
    const loadHooks = join(dir, 'load-hooks.mjs');
    writeFileSync(loadHooks, LOAD_HOOKS);
    const loads = new Map(cases.map((c) => [c.name, loaded(c, loadHook, loadHooks, join(dir, 'loaded'))]));
    // One untimed round: the page cache holds the bundle and node for every timed run alike.
    for (const c of cases) timed(c, hook, cpuFile);
    const times = new Map<string, Timing[]>(cases.map((c) => [c.name, []]));
    for (let i = 0; i < runs; i++) for (const c of cases) times.get(c.name)!.push(timed(c, hook, cpuFile));

    const round = (n: number) => Number(n.toFixed(1));
    const floor = median(times.get('node -e 0')!.map((t) => t.wallMs));
    const cpuFloor = median(times.get('node -e 0')!.map((t) => t.cpuMs));
    const rows = cases.map((c) => {
      const wall = times.get(c.name)!.map((t) => t.wallMs);
      const cpu = times.get(c.name)!.map((t) => t.cpuMs);
      return {
        name: c.name,
        medianMs: round(median(wall)),
        minMs: round(Math.min(...wall)),
        overFloorMs: round(median(wall) - floor),
        ratio: Number((median(wall) / floor).toFixed(2)),
        cpuMedianMs: round(median(cpu)),
        cpuOverFloorMs: round(median(cpu) - cpuFloor),
        filesLoaded: loads.get(c.name)!.files,
        kbLoaded: round(loads.get(c.name)!.bytes / 1024),
      };
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ benchmark: 'cli-cold', runs, bundle, ...(values.compare ? { compared: resolve(values.compare) } : {}), node: process.version, rows })}\n`);
      return;
    }
    process.stdout.write(`cli-cold (${bundle}, node ${process.version}, ${runs} runs each, interleaved): median wall ms, its ratio to node -e 0; median CPU ms; .mjs files and KB loaded\n`);
    if (values.compare) process.stdout.write(`  compared: ${resolve(values.compare)}\n`);
    for (const r of rows) {
      process.stdout.write(
        `  ${r.name.padEnd(20)} wall median ${String(r.medianMs).padStart(6)} ms  min ${String(r.minMs).padStart(6)} ms  +${String(r.overFloorMs).padStart(6)} ms  ${r.ratio.toFixed(2)}×   cpu median ${String(r.cpuMedianMs).padStart(6)} ms  +${String(r.cpuOverFloorMs).padStart(6)} ms   ${String(r.filesLoaded).padStart(3)} files ${String(r.kbLoaded).padStart(6)} KB\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
