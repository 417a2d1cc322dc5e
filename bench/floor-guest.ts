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
// one at a time (`apply.parallel = 1`), then N more with `apply.parallel = P`, both against
// the floor's sequential first apply of N. The passes with nothing to do and with one
// change then cover moor's 2N workloads, and the floor looks at each of its N workloads
// twice. Each figure is wall time measured inside the guest; the ratio is moor over the
// floor. moor's profile of each pass (the steps and host commands it spent its time in)
// follows. A figure, not a test.
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

/** The floor's scripts: each prints its own elapsed nanoseconds on its last line. */
const FLOOR = {
  create: `set -eu
start=$(date +%s%N)
failed=0
for n in "$@"; do
  useradd --create-home "$n"
  uid=$(id -u "$n")
  loginctl enable-linger "$n"
  systemctl start "user@$uid.service"
  install -d -o "$n" -g "$n" "/home/$n/.config" "/home/$n/.config/containers" "/home/$n/.config/containers/systemd"
  install -o "$n" -g "$n" -m 0644 "/root/floor-specs/$n.container" "/home/$n/.config/containers/systemd/$n.container"
  runuser -u "$n" -- ${USER_ENV('$uid')} systemctl --user daemon-reload
  runuser -u "$n" -- ${USER_ENV('$uid')} systemctl --user start "$n.service" || failed=$((failed + 1))
done
end=$(date +%s%N)
echo "failed=$failed"
echo $((end - start))`,
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
    const moorUsers = Array.from({ length: n }, (_, i) => `mo${String(i + 1).padStart(3, '0')}`);
    const parallelUsers = Array.from({ length: n }, (_, i) => `mp${String(i + 1).padStart(3, '0')}`);
    const applyAtOnce = (k: number) => guest.writeFile('/etc/moor/config.d/parallel.toml', `[apply]\nparallel = ${k}\n`);
    for (const u of ['flwarm', ...floorUsers]) await guest.writeFile(`/root/floor-specs/${u}.container`, floorSpec(u));

    const floor = async (script: keyof typeof FLOOR, users: readonly string[]): Promise<number> => {
      const r = await guest.exec(['bash', `/root/floor-${script}.sh`, ...users], { timeoutMs: 60 * 60_000 });
      if (r.code !== 0) throw new Error(`floor ${script}: ${describeExec(r)}`);
      const lines = r.stdout.trim().split('\n');
      const failed = lines.find((l) => l.startsWith('failed='));
      if (failed && failed !== 'failed=0') say(`floor ${script}: ${failed.slice(7)} of ${users.length} starts failed (the floor does not make the Podman namespace first)`);
      return Number(lines.at(-1)) / 1e9;
    };
    const moorPass = async (what: string): Promise<{ s: number; profile: PassProfileReport }> => {
      const r = await guest.exec(
        ['bash', '-c', 'start=$(date +%s%N); "$@" > /tmp/pass.json; rc=$?; end=$(date +%s%N); echo $((end - start)); exit $rc', '_', GUEST_NODE, GUEST_MOOR, 'reconcile', '--once', '--profile', '--json'],
        { timeoutMs: 60 * 60_000 },
      );
      const pass = JSON.parse(await guest.readFile('/tmp/pass.json')) as { exitCode: number; summary: string; profile: PassProfileReport };
      if (r.code !== 0 || pass.exitCode !== 0) throw new Error(`moor ${what}: exit ${pass.exitCode}: ${pass.summary}\n${describeExec(r)}`);
      return { s: Number(r.stdout.trim()) / 1e9, profile: pass.profile };
    };

    // Warm up what any first command pays once per boot (binaries, the image store, the
    // pause image): one floor workload and one moor workload, not measured.
    await floor('create', ['flwarm']);
    const repo: Record<string, string> = { 'mowarm.container': spec('mowarm') };
    await guest.pushRepo(repo, { message: 'warm up' });
    await moorPass('warm-up');

    const figures: Figure[] = [];
    const profiles: Record<string, PassProfileReport> = {};
    const record = (figure: string, floorS: number, moorS: number) => figures.push({ figure, floorS: round(floorS), moorS: round(moorS), ratio: round(moorS / floorS) });

    say(`first apply of ${n} new workloads...`);
    const floorCreate = await floor('create', floorUsers);
    await applyAtOnce(1);
    for (const u of moorUsers) repo[`${u}.container`] = spec(u);
    await guest.pushRepo(repo, { message: `${n} workloads` });
    const moorCreate = await moorPass('first apply');
    record(`first apply, ${n} new workloads, sequential`, floorCreate, moorCreate.s);
    profiles['first apply, sequential'] = moorCreate.profile;

    say(`first apply of ${n} more, ${parallel} at once...`);
    await applyAtOnce(parallel);
    for (const u of parallelUsers) repo[`${u}.container`] = spec(u);
    await guest.pushRepo(repo, { message: `${n} more workloads` });
    const moorParallel = await moorPass('parallel first apply');
    record(`first apply, ${n} new workloads, ${parallel} at once`, floorCreate, moorParallel.s);
    profiles[`first apply, ${parallel} at once`] = moorParallel.profile;

    // moor now runs 2n workloads: the floor looks at each of its n twice.
    const twice = [...floorUsers, ...floorUsers];
    say('a pass with nothing to do...');
    const floorNoop = await floor('noop', twice);
    const moorNoop = await moorPass('nothing to do');
    record(`pass with nothing to do, ${2 * n} workloads`, floorNoop, moorNoop.s);
    profiles['nothing to do'] = moorNoop.profile;

    say('a pass that changes one workload...');
    await guest.writeFile(`/root/floor-specs/${floorUsers[0]}.container`, floorSpec(floorUsers[0]!, 2));
    const floorOne = await floor('one', twice);
    repo[`${moorUsers[0]}.container`] = spec(moorUsers[0]!, 2);
    await guest.pushRepo(repo, { message: 'change one' });
    const moorOne = await moorPass('change one');
    record(`pass that changes one of ${2 * n} workloads`, floorOne, moorOne.s);
    profiles['change one'] = moorOne.profile;

    if (values.json) {
      process.stdout.write(`${JSON.stringify({ benchmark: 'floor-guest', workloads: n, parallel, figures, profiles })}\n`);
      return;
    }
    process.stdout.write(`moor against the shell floor, ${n} workloads, one systemd guest run (wall seconds, measured in the guest)\n`);
    process.stdout.write(`${'figure'.padEnd(46)} ${'floor s'.padStart(8)} ${'moor s'.padStart(8)} ${'ratio'.padStart(6)}\n`);
    for (const f of figures) process.stdout.write(`${f.figure.padEnd(46)} ${f.floorS.toFixed(2).padStart(8)} ${f.moorS.toFixed(2).padStart(8)} ${f.ratio.toFixed(2).padStart(6)}\n`);
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
