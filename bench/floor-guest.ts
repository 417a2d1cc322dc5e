// Benchmark: moor against the floor of what systemd and Podman cost, side by side in one
// systemd guest run (test/e2e: Debian trixie under systemd-nspawn). The floor is a plain
// shell script issuing only the commands a pass cannot avoid:
//   first apply, per workload: useradd, loginctl enable-linger, systemctl start user@UID,
//     write the spec, systemctl --user daemon-reload, systemctl --user start;
//   a pass with nothing to do: one git fetch, and one systemctl --user show per workload;
//   a pass that changes one workload: the same, plus writing that spec, its daemon-reload
//     and its restart.
// moor does the same work on other users (`moor reconcile --once --profile --json`, a new
// workload per user, the same spec with the guest's test transform): N workloads applied
// one at a time (`apply.parallel = 1`), then N others with `apply.parallel = P`, both
// against the floor's sequential first apply of N. A second floor does the first apply
// with the one step the first leaves out, the user's Podman namespace made before the
// first start (as moor makes it, meanwhile). Every first apply starts among the same users:
// the ones before it are removed first (each user manager that runs makes the next one
// dearer to start, so an order with everyone kept favours whoever goes first). The passes
// with nothing to do and with one change cover the N workloads each side applied last.
// Each figure is wall time measured inside the guest; the ratio is moor over the floor;
// beside it, moor's pass alone (its profile's total, without starting the CLI: what the
// daemon spends). Then the CPU seconds the whole guest spent (systemd and Podman
// included), and from the floor's the least wall time any program doing its work could
// take on the guest's cores; then moor's share of that CPU (its own process, and it with
// the commands it ran). moor's profile of each pass (the steps and host commands it spent
// its time in) follows. A figure, not a test.
//
//   npx tsx bench/floor-guest.ts [--workloads 20] [--parallel 4] [--json] [--no-build]
//
// Root only (systemd-nspawn); the first run on a machine builds the cached guest tree.
import { parseArgs } from 'node:util';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_BARE_REPO, GUEST_MOOR, GUEST_NODE, REPO_ROOT, TEST_BASE_TRANSFORM, bootGuest, describeExec, prepareMoorHost, shutdownAllGuests, type Guest } from '../test/e2e/guest';
import { buildBundle } from '../test/e2e/host-proc';
import type { PassProfileReport } from '../daemon/pass/profile';

/** The spec as moor deploys it: the workload's own lines, then the test transform's. */
const spec = (name: string, version = 1) =>
  `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\nEnvironment=NAME=${name} VERSION=${version}\n\n[Install]\nWantedBy=default.target\n`;
const floorSpec = (name: string, version = 1) => `${spec(name, version)}\n${TEST_BASE_TRANSFORM}`;

const USER_ENV = (uid: string) => `env XDG_RUNTIME_DIR=/run/user/${uid} DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${uid}/bus`;

/** What a pass with nothing to do cannot avoid: one fetch, one look at each workload's service. */
const LOOK = `git -C /root/floor-clone fetch -q origin
for n in "$@"; do
  uid=$(id -u "$n")
  runuser -u "$n" -- ${USER_ENV('$uid')} systemctl --user show "$n.service" -p ActiveState,SubState,InvocationID >/dev/null
done`;

/**
 * The floor's first apply. With the namespace, it adds the one step the plain floor leaves
 * out and moor does not: the user's Podman namespace made before the first start
 * (daemon/host/podman-userns.ts), without which a first start can fail with
 * Result=protocol. Made meanwhile, as moor makes it: started once the user manager runs,
 * awaited before the start.
 */
const create = (withNamespace: boolean) => {
  const asUser = `runuser -u "$n" -- ${USER_ENV('$uid')}`;
  const steps = [
    'useradd --create-home "$n"',
    'uid=$(id -u "$n")',
    'loginctl enable-linger "$n"',
    'systemctl start "user@$uid.service"',
    ...(withNamespace ? [`${asUser} podman unshare /bin/true &`, 'namespace=$!'] : []),
    'install -d -o "$n" -g "$n" "/home/$n/.config" "/home/$n/.config/containers" "/home/$n/.config/containers/systemd"',
    'install -o "$n" -g "$n" -m 0644 "/root/floor-specs/$n.container" "/home/$n/.config/containers/systemd/$n.container"',
    `${asUser} systemctl --user daemon-reload`,
    ...(withNamespace ? ['wait "$namespace"'] : []),
    `${asUser} systemctl --user start "$n.service" || failed=$((failed + 1))`,
  ];
  return `set -eu
start=$(date +%s%N)
failed=0
for n in "$@"; do
${steps.map((step) => `  ${step}`).join('\n')}
done
end=$(date +%s%N)
echo "failed=$failed"
echo $((end - start))`;
};

/** The floor's scripts: each prints its own elapsed nanoseconds on its last line. */
const FLOOR = {
  create: create(false),
  createWithNamespace: create(true),
  // Not measured: the floor's users go before the next first apply, so that each first apply,
  // the floor's and moor's, starts among the same users (each user manager running makes
  // the next one dearer to start).
  remove: `set -eu
for n in "$@"; do
  uid=$(id -u "$n")
  loginctl disable-linger "$n"
  systemctl stop "user-$uid.slice" "user-runtime-dir@$uid.service"
  userdel --remove --force "$n" 2>/dev/null
done
echo 0`,
  noop: `set -eu
start=$(date +%s%N)
${LOOK}
end=$(date +%s%N)
echo $((end - start))`,
  one: `set -eu
start=$(date +%s%N)
${LOOK}
n=$1
uid=$(id -u "$n")
install -o "$n" -g "$n" -m 0644 "/root/floor-specs/$n.container" "/home/$n/.config/containers/systemd/$n.container"
runuser -u "$n" -- ${USER_ENV('$uid')} systemctl --user daemon-reload
runuser -u "$n" -- ${USER_ENV('$uid')} systemctl --user restart "$n.service"
end=$(date +%s%N)
echo $((end - start))`,
};

interface Figure {
  figure: string;
  floorS: number;
  moorS: number;
  ratio: number;
  /** The pass alone (its profile's total): what the daemon spends, with no process to start. */
  moorPassS: number;
  /** CPU seconds the whole guest spent during each side's run (every process: systemd, Podman, moor). */
  floorCpuS: number;
  moorCpuS: number;
  /** Of moorCpuS: moor's own process (the pass's profile), and it with every command it ran and waited for (bash's `times`). */
  moorOwnCpuS: number;
  moorWithCommandsCpuS: number;
}

/**
 * CPU seconds the guest has used since it booted: `usage_usec` of its cgroup v2 root, which
 * counts every process in the guest, systemd's and Podman's as well as moor's. The difference
 * over a run is the CPU that run cost, whatever the machine's other load.
 */
async function guestCpuS(guest: Guest): Promise<number> {
  const stat = await guest.readFile('/sys/fs/cgroup/cpu.stat');
  const usec = /^usage_usec (\d+)$/m.exec(stat)?.[1];
  if (usec === undefined) throw new Error(`the guest's /sys/fs/cgroup/cpu.stat has no usage_usec:\n${stat}`);
  return Number(usec) / 1e6;
}

/** Wall seconds and the guest's CPU seconds of one run. */
async function measured<T extends { s: number }>(guest: Guest, run: () => Promise<T>): Promise<T & { cpuS: number }> {
  const before = await guestCpuS(guest);
  const result = await run();
  return { ...result, cpuS: (await guestCpuS(guest)) - before };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workloads: { type: 'string', default: '20' },
      parallel: { type: 'string', default: '4' },
      json: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const n = Number(values.workloads);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new Error('--workloads: an integer from 1 to 500');
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) throw new Error('--parallel: an integer from 1 to 32');
  const say = (m: string) => process.stderr.write(`${m}\n`);
  if (!values['no-build']) {
    const failed = await buildBundle(REPO_ROOT);
    if (failed) throw new Error(failed);
  }

  const guest: Guest = await bootGuest({ log: say });
  try {
    await prepareMoorHost(guest);
    for (const [name, body] of Object.entries(FLOOR)) await guest.writeFile(`/root/floor-${name}.sh`, body);
    await guest.run(['git', 'clone', '-q', GUEST_BARE_REPO, '/root/floor-clone']).catch(() => undefined);

    const floorUsers = Array.from({ length: n }, (_, i) => `fl${String(i + 1).padStart(3, '0')}`);
    const namespaceFloorUsers = Array.from({ length: n }, (_, i) => `fn${String(i + 1).padStart(3, '0')}`);
    const moorUsers = Array.from({ length: n }, (_, i) => `mo${String(i + 1).padStart(3, '0')}`);
    const parallelUsers = Array.from({ length: n }, (_, i) => `mp${String(i + 1).padStart(3, '0')}`);
    const applyAtOnce = (k: number) => guest.writeFile('/etc/moor/config.d/parallel.toml', `[apply]\nparallel = ${k}\n`);
    for (const u of ['flwarm', ...floorUsers, ...namespaceFloorUsers]) await guest.writeFile(`/root/floor-specs/${u}.container`, floorSpec(u));

    const floor = async (script: keyof typeof FLOOR, users: readonly string[]): Promise<{ s: number }> => {
      const r = await guest.exec(['bash', `/root/floor-${script}.sh`, ...users], { timeoutMs: 60 * 60_000 });
      if (r.code !== 0) throw new Error(`floor ${script}: ${describeExec(r)}`);
      const lines = r.stdout.trim().split('\n');
      const failed = lines.find((l) => l.startsWith('failed='));
      const why = script === 'create' ? ' (the floor does not make the Podman namespace first)' : '';
      if (failed && failed !== 'failed=0') say(`floor ${script}: ${failed.slice(7)} of ${users.length} starts failed${why}`);
      return { s: Number(lines.at(-1)) / 1e9 };
    };
    const moorPass = async (what: string, ...extra: string[]): Promise<{ s: number; withCommandsCpuS: number; profile: PassProfileReport }> => {
      // `times` last: its second line is the CPU of bash's children, moor and every command it waited for.
      const r = await guest.exec(
        ['bash', '-c', 'start=$(date +%s%N); "$@" > /tmp/pass.json; rc=$?; end=$(date +%s%N); echo $((end - start)); times; exit $rc', '_', GUEST_NODE, GUEST_MOOR, 'reconcile', '--once', '--profile', '--json', ...extra],
        { timeoutMs: 60 * 60_000 },
      );
      const pass = JSON.parse(await guest.readFile('/tmp/pass.json')) as { exitCode: number; summary: string; profile: PassProfileReport };
      if (r.code !== 0 || pass.exitCode !== 0) throw new Error(`moor ${what}: exit ${pass.exitCode}: ${pass.summary}\n${describeExec(r)}`);
      const [elapsed, , children] = r.stdout.trim().split('\n');
      const seconds = [...(children ?? '').matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
      return { s: Number(elapsed) / 1e9, withCommandsCpuS: seconds, profile: pass.profile };
    };

    // Warm up what any first command pays once per boot (binaries, the image store, the
    // pause image): one floor workload and one moor workload, not measured.
    await floor('create', ['flwarm']);
    const repo: Record<string, string> = { 'mowarm.container': spec('mowarm') };
    await guest.pushRepo(repo, { message: 'warm up' });
    await moorPass('warm-up');

    const figures: Figure[] = [];
    const profiles: Record<string, PassProfileReport> = {};
    const record = (figure: string, floor: { s: number; cpuS: number }, moor: { s: number; cpuS: number; withCommandsCpuS: number; profile: PassProfileReport }) =>
      figures.push({
        figure,
        floorS: round(floor.s),
        moorS: round(moor.s),
        ratio: round(moor.s / floor.s),
        moorPassS: round(moor.profile.totalMs / 1000),
        floorCpuS: round(floor.cpuS),
        moorCpuS: round(moor.cpuS),
        moorOwnCpuS: round(moor.profile.cpuMs / 1000),
        moorWithCommandsCpuS: round(moor.withCommandsCpuS),
      });
    const cores = Number((await guest.run(['nproc'])).stdout.trim());

    // Each first apply starts among the same users (the warm-up ones): the floor's go once
    // measured, and moor's first ones once measured (the config makes moor purge a
    // removed workload's home rather than archive it). Each pass with nothing to do or one
    // change covers the n workloads its side applied last.
    await guest.writeFile('/etc/moor/config.d/removal.toml', '[removal]\nhome = "purge"\n');
    say(`first apply of ${n} new workloads, the floor...`);
    const floorCreate = await measured(guest, () => floor('create', floorUsers));
    const floorNoop = await measured(guest, () => floor('noop', floorUsers));
    await guest.writeFile(`/root/floor-specs/${floorUsers[0]}.container`, floorSpec(floorUsers[0]!, 2));
    const floorOne = await measured(guest, () => floor('one', floorUsers));
    await floor('remove', floorUsers);
    say(`first apply of ${n} new workloads, the floor that makes the namespace...`);
    const floorCreateNs = await measured(guest, () => floor('createWithNamespace', namespaceFloorUsers));
    await floor('remove', namespaceFloorUsers);

    say(`first apply of ${n} new workloads, moor one at a time...`);
    await applyAtOnce(1);
    for (const u of moorUsers) repo[`${u}.container`] = spec(u);
    await guest.pushRepo(repo, { message: `${n} workloads` });
    const moorCreate = await measured(guest, () => moorPass('first apply'));
    record(`first apply, ${n} new workloads, sequential`, floorCreate, moorCreate);
    record(`first apply, ${n} new workloads, sequential, against the floor that makes the namespace`, floorCreateNs, moorCreate);
    profiles['first apply, sequential'] = moorCreate.profile;
    for (const u of moorUsers) delete repo[`${u}.container`];
    await guest.pushRepo(repo, { message: `${n} workloads removed` });
    await moorPass('removal', '--allow-mass-removal');

    say(`first apply of ${n} new workloads, moor ${parallel} at once...`);
    await applyAtOnce(parallel);
    for (const u of parallelUsers) repo[`${u}.container`] = spec(u);
    await guest.pushRepo(repo, { message: `${n} more workloads` });
    const moorParallel = await measured(guest, () => moorPass('parallel first apply'));
    record(`first apply, ${n} new workloads, ${parallel} at once`, floorCreate, moorParallel);
    profiles[`first apply, ${parallel} at once`] = moorParallel.profile;

    say('a pass with nothing to do...');
    const moorNoop = await measured(guest, () => moorPass('nothing to do'));
    record(`pass with nothing to do, ${n} workloads`, floorNoop, moorNoop);
    profiles['nothing to do'] = moorNoop.profile;

    say('a pass that changes one workload...');
    repo[`${parallelUsers[0]}.container`] = spec(parallelUsers[0]!, 2);
    await guest.pushRepo(repo, { message: 'change one' });
    const moorOne = await measured(guest, () => moorPass('change one'));
    record(`pass that changes one of ${n} workloads`, floorOne, moorOne);
    profiles['change one'] = moorOne.profile;

    // The lowest wall time any run doing at least the floor's first-apply work can reach on
    // this guest's cores: the floor's CPU seconds spread over every core, nothing else waited
    // for. Over the floor's own wall time it is the best ratio a parallel first apply can have
    // here, moor or any other program.
    const cpuBound = { cores, floorCpuS: round(floorCreate.cpuS), lowestS: round(floorCreate.cpuS / cores), lowestRatio: round(floorCreate.cpuS / cores / floorCreate.s) };
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ benchmark: 'floor-guest', workloads: n, parallel, figures, cpuBound, profiles })}\n`);
      return;
    }
    process.stdout.write(`moor against the shell floor, ${n} workloads, one systemd guest run (wall seconds, measured in the guest; CPU seconds of the whole guest)\n`);
    const width = Math.max(...figures.map((f) => f.figure.length));
    process.stdout.write(`${'figure'.padEnd(width)} ${'floor s'.padStart(8)} ${'moor s'.padStart(8)} ${'ratio'.padStart(6)} ${'pass alone s'.padStart(13)} ${'ratio'.padStart(6)} ${'floor CPU s'.padStart(12)} ${'moor CPU s'.padStart(11)}\n`);
    for (const f of figures) {
      process.stdout.write(`${f.figure.padEnd(width)} ${f.floorS.toFixed(2).padStart(8)} ${f.moorS.toFixed(2).padStart(8)} ${f.ratio.toFixed(2).padStart(6)} ${f.moorPassS.toFixed(2).padStart(13)} ${(f.moorPassS / f.floorS).toFixed(2).padStart(6)} ${f.floorCpuS.toFixed(2).padStart(12)} ${f.moorCpuS.toFixed(2).padStart(11)}\n`);
    }
    process.stdout.write(
      `the floor's first apply kept ${(floorCreate.cpuS / floorCreate.s).toFixed(2)} of ${cores} cores busy: the same work done at once on ${cores} cores takes at least ${cpuBound.lowestS.toFixed(2)} s, ${cpuBound.lowestRatio.toFixed(2)}× the floor\n`,
    );
    process.stdout.write(`\nmoor's CPU seconds: its own process (the pass's profile), it with the commands it ran (useradd, systemctl, the writer, podman unshare...), and the whole guest's\n`);
    for (const f of figures) {
      process.stdout.write(`${f.figure.padEnd(width)} ${f.moorOwnCpuS.toFixed(2).padStart(8)} ${f.moorWithCommandsCpuS.toFixed(2).padStart(8)} ${f.moorCpuS.toFixed(2).padStart(8)}\n`);
    }
    for (const [name, p] of Object.entries(profiles)) {
      process.stdout.write(`\nmoor's ${name} pass, ${p.totalMs.toFixed(0)} ms: steps (ms)\n`);
      for (const s of p.steps.filter((x) => x.ms >= 1)) process.stdout.write(`  ${s.name.padEnd(28)} ${String(s.count).padStart(4)}x ${s.ms.toFixed(0).padStart(7)}\n`);
      process.stdout.write('host commands (ms)\n');
      for (const c of p.commands.slice(0, 12)) process.stdout.write(`  ${c.name.padEnd(40)} ${String(c.count).padStart(4)}x ${c.ms.toFixed(0).padStart(7)}\n`);
    }
  } finally {
    await guest.shutdown(5_000);
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

main().catch(async (err: unknown) => {
  process.stderr.write(`floor-guest: ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdownAllGuests();
  process.exitCode = 1;
});
