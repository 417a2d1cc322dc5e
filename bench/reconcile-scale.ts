// Reconcile cost as workloads grow (docs/design.md §13): the pass over the fake host, with real
// git and a real state store, for N workloads. Prints wall time, host commands run and
// heap growth for a first pass (create all), a pass with nothing to do, and a pass that
// changes one workload. A figure, not a test.
//   node --expose-gc --import tsx bench/reconcile-scale.ts [--sizes 10,50,200] [--json]
import { PassHarness, containerSpec } from '../test/helpers/pass-harness';

interface Row {
  workloads: number;
  pass: 'create all' | 'nothing to do' | 'change one';
  ms: number;
  commands: number;
  heapMiB: number;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sizes = (argValue('--sizes') ?? '10,50,200').split(',').map(Number);
const rows: Row[] = [];

for (const n of sizes) {
  const h = new PassHarness({ memoryTmp: true });
  try {
    const specs = Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${String(i).padStart(4, '0')}.container`, containerSpec(`localhost/w${i}:1`)]));
    const measure = async (pass: Row['pass']) => {
      global.gc?.();
      const heap = process.memoryUsage().heapUsed;
      const start = performance.now();
      const run = await h.pass();
      if (run.result.exitCode !== 0) throw new Error(`${pass} with ${n} workloads ended with exit ${run.result.exitCode}: ${run.result.summary}`);
      rows.push({ workloads: n, pass, ms: Math.round(performance.now() - start), commands: run.calls.length, heapMiB: Math.round(((process.memoryUsage().heapUsed - heap) / 1048576) * 10) / 10 });
    };
    h.commit(specs, 'all');
    await measure('create all');
    await measure('nothing to do');
    h.commit({ ...specs, 'w0000.container': containerSpec('localhost/w0:2') }, 'one');
    await measure('change one');
  } finally {
    h.cleanup();
  }
}

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(rows)}\n`);
} else {
  process.stdout.write('workloads  pass           wall ms  host commands  heap growth MiB\n');
  for (const r of rows) {
    process.stdout.write(`${String(r.workloads).padStart(9)}  ${r.pass.padEnd(13)}  ${String(r.ms).padStart(7)}  ${String(r.commands).padStart(13)}  ${String(r.heapMiB).padStart(15)}\n`);
  }
}
