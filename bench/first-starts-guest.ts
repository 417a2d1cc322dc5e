// Benchmark: first starts of new workloads in a real systemd guest (docs/design.md §6,
// step 7.3). Each new workload is a new user whose Quadlet container starts for the first
// time; without its Podman user namespace made beforehand, one such start in 35, or as many as half of them, loses
// its READY=1 on systemd 257 and fails with Result=protocol. This creates N workloads over
// several `moor reconcile --once` passes in one guest, with the guest's test transform
// (no container network, nothing else), and counts how many came up. A figure, not a test.
//
//   npx tsx bench/first-starts-guest.ts [--workloads 48] [--per-pass 12] [--json] [--no-build]
//
// Root only (systemd-nspawn); the first run on a machine builds the cached guest tree.
import { parseArgs } from 'node:util';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, REPO_ROOT, bootGuest, describeExec, prepareMoorHost, shutdownAllGuests, type Guest } from '../test/e2e/guest';
import { buildBundle } from '../test/e2e/host-proc';

const spec = (name: string) => `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\nEnvironment=NAME=${name}\n\n[Install]\nWantedBy=default.target\n`;

interface PassJson {
  exitCode: number;
  items: Array<{ workload: string; action: string; result: string; error?: string }>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workloads: { type: 'string', default: '48' },
      'per-pass': { type: 'string', default: '12' },
      json: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const total = Number(values.workloads);
  const perPass = Number(values['per-pass']);
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(perPass) || perPass < 1) throw new Error('--workloads and --per-pass: positive integers');
  const say = (m: string) => process.stderr.write(`${m}\n`);

  if (!values['no-build']) {
    const failed = await buildBundle(REPO_ROOT);
    if (failed) throw new Error(failed);
  }

  const guest: Guest = await bootGuest({ log: say });
  try {
    await prepareMoorHost(guest);
    const names = Array.from({ length: total }, (_, i) => `fs${String(i + 1).padStart(3, '0')}`);
    const repo: Record<string, string> = {};
    const failures: string[] = [];
    let created = 0;
    let ok = 0;
    const started = Date.now();
    for (let from = 0; from < total; from += perPass) {
      const batch = names.slice(from, from + perPass);
      for (const n of batch) repo[`${n}.container`] = spec(n);
      await guest.pushRepo(repo, { message: `first starts ${from + 1}..${from + batch.length}` });
      const run = await guest.moor(['reconcile', '--once', '--json'], { timeoutMs: 30 * 60_000 });
      let pass: PassJson;
      try {
        pass = JSON.parse(run.stdout) as PassJson;
      } catch {
        throw new Error(`not a pass: ${describeExec(run)}`);
      }
      for (const item of pass.items.filter((i) => batch.includes(i.workload))) {
        if (item.action !== 'create') throw new Error(`${item.workload}: ${item.action}, not a create`);
        created++;
        // Came up: moor's health gate passed, and the service is active now.
        const active = (await guest.systemctlUser(item.workload, ['is-active', `${item.workload}.service`])).stdout.trim();
        if (item.result === 'ok' && active === 'active') ok++;
        else failures.push(`${item.workload}: ${item.result} (${active})${item.error ? `: ${item.error.split(' — ')[0]}` : ''}`);
      }
      say(`pass ${from / perPass + 1}: ${batch.length} new workloads; ${ok}/${created} up so far`);
    }
    // systemd's own word on a dropped READY=1, anywhere in the guest's journal.
    const dropped = await guest.exec(['journalctl', '--no-pager', '-o', 'cat', '--grep', 'Notify sender died|protocol'], { timeoutMs: 60_000 });
    const notifyLines = dropped.stdout.split('\n').filter((l) => /Notify sender died|Result=protocol|with result 'protocol'/.test(l));
    const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ benchmark: 'first-starts-guest', firstStarts: created, up: ok, dropped: created - ok, notifyDropped: notifyLines.length, seconds, failures })}\n`);
    } else {
      process.stdout.write(`first starts (new workload users, rootless Quadlet, systemd guest): ${created}; came up: ${ok}; dropped: ${created - ok}; "Notify sender died"/protocol lines in the journal: ${notifyLines.length}; ${seconds} s\n`);
      for (const f of failures) process.stdout.write(`  ${f}\n`);
    }
    if (created !== total) throw new Error(`${created} of ${total} workloads were created`);
  } finally {
    await guest.shutdown();
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`first-starts-guest: ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdownAllGuests();
  process.exitCode = 1;
});
