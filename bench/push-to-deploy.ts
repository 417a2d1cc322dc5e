// Benchmark: the time from `git push` to the bare repo on a moor host until the changed
// service runs again (docs/design.md §13). Not a test: it prints figures.
//
// Each run edits one spec in a clone of the bare repo (a comment line, so the content hash
// changes and moor restarts the workload's service), pushes, and polls a probe until the
// change is live:
//   --probe unit    the service's InvocationID changed and it is active again (needs root
//                   on the host, systemd, the workload's user manager)
//   --probe status  the daemon's last pass reports the pushed commit (GET /v1/status on the
//                   control socket): push-to-pass-end, without looking at the service
//
//   tsx bench/push-to-deploy.ts --bare-repo /srv/git/deploy.git --file web.container \
//       --probe unit --user web --unit web.service [--runs 5] [--timeout 120s] [--json]
//
// measurePushToDeploy() is the reusable part: a harness that drives a guest supplies its
// own push and probe (say, over its guest's command runner).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { getJson } from '../daemon/cli/control-client';
import { parseDuration } from '../daemon/core/config/duration';
import { ExecaRunner } from '../daemon/host/exec';

const exec = promisify(execFile);

export interface Probe {
  /** What the probe sees before the push (an InvocationID, a commit...). */
  before(): Promise<string>;
  /** Whether the pushed change is live. */
  reached(before: string, commit: string): Promise<boolean>;
}

export interface MeasureOptions {
  /** Pushes one change; resolves with the pushed commit. */
  push(run: number): Promise<string>;
  probe: Probe;
  runs: number;
  timeoutMs: number;
  pollMs?: number;
  /** Pause between runs, so one run's pass is over before the next push. */
  settleMs?: number;
  now?: () => number;
}

export interface Measurement {
  runs: Array<{ run: number; commit: string; ms: number }>;
  minMs: number;
  medianMs: number;
  maxMs: number;
}

export async function measurePushToDeploy(opts: MeasureOptions): Promise<Measurement> {
  const now = opts.now ?? (() => performance.now());
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const runs: Measurement['runs'] = [];
  for (let run = 1; run <= opts.runs; run++) {
    const before = await opts.probe.before();
    const t0 = now();
    const commit = await opts.push(run);
    for (;;) {
      if (await opts.probe.reached(before, commit)) break;
      if (now() - t0 > opts.timeoutMs) throw new Error(`run ${run}: the change to ${commit.slice(0, 7)} was not live after ${opts.timeoutMs} ms`);
      await sleep(opts.pollMs ?? 50);
    }
    runs.push({ run, commit, ms: Math.round(now() - t0) });
    if (run < opts.runs) await sleep(opts.settleMs ?? 2_000);
  }
  const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
  return { runs, minMs: sorted[0]!, medianMs: sorted[Math.floor(sorted.length / 2)]!, maxMs: sorted.at(-1)! };
}

/** Clones the bare repo once; each push appends a marker comment to `file` and pushes. */
export async function gitPusher(bareRepo: string, branch: string, file: string): Promise<{ push(run: number): Promise<string>; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'moor-bench-'));
  const git = async (...args: string[]) =>
    (await exec('git', ['-c', 'user.name=moor-bench', '-c', 'user.email=bench@localhost', '-C', dir, ...args], { timeout: 60_000 })).stdout.trim();
  await exec('git', ['clone', '-q', '--branch', branch, bareRepo, dir], { timeout: 120_000 });
  return {
    async push(run) {
      const path = join(dir, file);
      const text = (await readFile(path, 'utf8')).replace(/^# moor-bench .*\n/m, '');
      await writeFile(path, `# moor-bench run ${run} at ${new Date().toISOString()}\n${text}`);
      await git('commit', '-q', '-am', `moor-bench run ${run}`);
      await git('push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
      return git('rev-parse', 'HEAD');
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The service restarted: a new InvocationID, and active. */
export function unitProbe(user: string, unit: string): Probe {
  const runner = new ExecaRunner();
  const show = async () => {
    const id = await runner.run(['id', '-u', user], { timeoutMs: 10_000 });
    const uid = id.stdout.trim();
    const r = await runner.run(
      ['runuser', '-u', user, '--', 'env', `XDG_RUNTIME_DIR=/run/user/${uid}`, 'systemctl', '--user', 'show', '-p', 'InvocationID', '-p', 'ActiveState', unit],
      { timeoutMs: 10_000 },
    );
    const props = Object.fromEntries(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    return { invocation: props.InvocationID ?? '', active: props.ActiveState === 'active' };
  };
  return {
    before: async () => (await show()).invocation,
    reached: async (before) => {
      const now = await show();
      return now.active && now.invocation !== '' && now.invocation !== before;
    },
  };
}

/** The daemon's last pass ran on the pushed commit. */
export function statusProbe(socketPath: string): Probe {
  const lastCommit = async () => (await getJson<{ lastPass?: { commit: string; exitCode: number } }>({ socketPath, timeoutMs: 10_000 }, '/v1/status')).lastPass;
  return {
    before: async () => (await lastCommit())?.commit ?? '',
    reached: async (_before, commit) => {
      const last = await lastCommit();
      return last?.commit === commit;
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'bare-repo': { type: 'string' },
      branch: { type: 'string', default: 'main' },
      file: { type: 'string' },
      probe: { type: 'string', default: 'unit' },
      user: { type: 'string' },
      unit: { type: 'string' },
      socket: { type: 'string', default: '/run/moor/moor.sock' },
      runs: { type: 'string', default: '5' },
      timeout: { type: 'string', default: '120s' },
      json: { type: 'boolean', default: false },
    },
  });
  const bare = values['bare-repo'];
  if (!bare || !values.file) throw new Error('--bare-repo and --file are required');
  let probe: Probe;
  if (values.probe === 'unit') {
    if (!values.user || !values.unit) throw new Error('--probe unit needs --user and --unit');
    probe = unitProbe(values.user, values.unit);
  } else if (values.probe === 'status') {
    probe = statusProbe(values.socket!);
  } else {
    throw new Error(`unknown --probe ${values.probe}: unit or status`);
  }
  const timeoutMs = parseDuration(values.timeout!);
  if (timeoutMs === undefined) throw new Error(`--timeout ${values.timeout}: a duration like 120s`);
  const pusher = await gitPusher(bare, values.branch!, values.file);
  try {
    const m = await measurePushToDeploy({ push: (run) => pusher.push(run), probe, runs: Number(values.runs), timeoutMs });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ benchmark: 'push-to-deploy', probe: values.probe, ...m })}\n`);
    } else {
      for (const r of m.runs) process.stdout.write(`run ${r.run}: ${r.ms} ms (${r.commit.slice(0, 7)})\n`);
      process.stdout.write(`push-to-deploy (${values.probe}): n=${m.runs.length} min=${m.minMs} ms median=${m.medianMs} ms max=${m.maxMs} ms\n`);
    }
  } finally {
    await pusher.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`push-to-deploy: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
