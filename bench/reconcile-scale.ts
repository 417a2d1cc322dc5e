// Reconcile cost as workloads grow (docs/design.md §13): the pass over the fake host, with real
// git and a real state store, for N workloads. Prints wall time, host commands run and
// heap growth for a first pass (create all), a pass with nothing to do, and a pass that
// changes one workload, then where each pass's time went (its profile: the steps of
// docs/design.md §6 and the parts of applying). With --memory-passes N, it then runs N
// passes with nothing to do over the largest size and prints the process's RSS as it
// goes: it must not grow. A figure, not a test.
// The passes run as the daemon's do: unit states over the (fake) user bus, as the real host
// asks D-Bus, and what step 2 read kept between passes; `--once` runs them as
// `moor reconcile --once` does instead (every pass reads the tree, states through commands).
// `--rounds N` measures the pass with nothing to do and the pass that changes one workload N
// times each (in turns, each change a new commit) and prints medians, with the range: one
// pass is one sample, and a shared machine moves it by tens of ms.
//   node --expose-gc --import tsx bench/reconcile-scale.ts [--sizes 10,200,1000] [--rounds 5] [--memory-passes 100] [--once] [--json]
// (the memory passes run over the last size: `--sizes 200 --memory-passes 100` for 200 workloads)
import { PassHarness, containerSpec } from '../test/helpers/pass-harness';
import type { PassProfileReport } from '../daemon/pass/profile';

interface Row {
  workloads: number;
  pass: 'create all' | 'nothing to do' | 'change one';
  ms: number;
  commands: number;
  /** Questions to the (fake) user bus: what the real host asks D-Bus instead of running a command. */
  busQuestions: number;
  heapMiB: number;
  profile: PassProfileReport;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sizes = (argValue('--sizes') ?? '10,200,1000').split(',').map(Number);
const memoryPasses = Number(argValue('--memory-passes') ?? 0);
const rounds = Math.max(1, Number(argValue('--rounds') ?? 1));
const rows: Row[] = [];
const memory: { pass: number; rssMiB: number; heapMiB: number }[] = [];
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;

for (const [index, n] of sizes.entries()) {
  const once = process.argv.includes('--once');
  const h = new PassHarness({ memoryTmp: true, userBus: !once, desiredCache: !once });
  try {
    const specs = Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${String(i).padStart(4, '0')}.container`, containerSpec(`localhost/w${i}:1`)]));
    const measure = async (pass: Row['pass']) => {
      global.gc?.();
      const heap = process.memoryUsage().heapUsed;
      const asked = h.fake.busQuestions;
      const start = performance.now();
      const run = await h.profiledPass();
      if (run.result.exitCode !== 0) throw new Error(`${pass} with ${n} workloads ended with exit ${run.result.exitCode}: ${run.result.summary}`);
      rows.push({ workloads: n, pass, ms: Math.round(performance.now() - start), commands: run.calls.length, busQuestions: h.fake.busQuestions - asked, heapMiB: mib(process.memoryUsage().heapUsed - heap), profile: run.profile });
    };
    h.commit(specs, 'all');
    await measure('create all');
    for (let round = 1; round <= rounds; round++) {
      await measure('nothing to do');
      h.commit({ ...specs, 'w0000.container': containerSpec(`localhost/w0:${round + 1}`) }, 'one');
      await measure('change one');
    }
    if (memoryPasses > 0 && index === sizes.length - 1) {
      for (let p = 1; p <= memoryPasses; p++) {
        const run = await h.pass();
        if (run.result.exitCode !== 0) throw new Error(`memory pass ${p} ended with exit ${run.result.exitCode}`);
        // The harness keeps every log line (and its journal entry) and the fake host every
        // command in memory: drop them, they are not the pass's.
        h.logs.length = 0;
        h.entries.length = 0;
        h.fake.calls.length = 0;
        if (p === 1 || p % 10 === 0) {
          global.gc?.();
          memory.push({ pass: p, rssMiB: mib(process.memoryUsage().rss), heapMiB: mib(process.memoryUsage().heapUsed) });
        }
      }
    }
  } finally {
    h.cleanup();
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
/** One row per size and pass: the median of its rounds (every field), and the range of the wall time. */
function summary(): (Row & { minMs: number; maxMs: number; rounds: number })[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.workloads} ${r.pass}`, [...(groups.get(`${r.workloads} ${r.pass}`) ?? []), r]);
  return [...groups.values()].map((g) => {
    const names = [...new Set(g.flatMap((r) => r.profile.steps.map((s) => s.name)))];
    const steps = names.map((name) => ({ ...g[0]!.profile.steps.find((s) => s.name === name), name, ms: median(g.map((r) => r.profile.steps.find((s) => s.name === name)?.ms ?? 0)) }));
    return {
      ...g[0]!,
      ms: median(g.map((r) => r.ms)),
      commands: median(g.map((r) => r.commands)),
      busQuestions: median(g.map((r) => r.busQuestions)),
      heapMiB: median(g.map((r) => r.heapMiB)),
      profile: { ...g[0]!.profile, steps } as PassProfileReport,
      minMs: Math.min(...g.map((r) => r.ms)),
      maxMs: Math.max(...g.map((r) => r.ms)),
      rounds: g.length,
    };
  });
}

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ rows, memory })}\n`);
} else {
  const many = rounds > 1;
  process.stdout.write(`workloads  pass           wall ms${many ? ' (median, range)' : ''}  host commands  bus questions  heap growth MiB\n`);
  for (const r of summary()) {
    const wall = many && r.rounds > 1 ? `${r.ms} (${r.minMs}–${r.maxMs})` : String(r.ms);
    process.stdout.write(`${String(r.workloads).padStart(9)}  ${r.pass.padEnd(13)}  ${wall.padStart(many ? 23 : 7)}  ${String(r.commands).padStart(13)}  ${String(r.busQuestions).padStart(13)}  ${String(r.heapMiB).padStart(15)}\n`);
  }
  process.stdout.write(`\nwhere the time went (ms per step${many ? ', medians of the rounds' : ''}; apply.* are parts of step 7, summed over workloads)\n`);
  for (const r of summary()) {
    const steps = r.profile.steps.filter((s) => s.ms >= 1).map((s) => `${s.name} ${Math.round(s.ms)}`);
    process.stdout.write(`${String(r.workloads).padStart(5)} ${r.pass.padEnd(13)}  ${steps.join(', ')}\n`);
  }
  if (memory.length > 0) {
    process.stdout.write(`\nmemory over ${memoryPasses} passes with nothing to do, ${sizes.at(-1)} workloads (after gc):\n`);
    for (const m of memory) process.stdout.write(`  pass ${String(m.pass).padStart(4)}: rss ${m.rssMiB} MiB, heap ${m.heapMiB} MiB\n`);
  }
}
