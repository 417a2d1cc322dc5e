// Benchmark: push-to-deploy in a real systemd guest (docs/design.md §13). Boots the end-to-end guest
// (test/e2e), installs moor as an operator would (`install-units --bundle`, moor.socket +
// moor.service, a bare repository in the guest as `source.bare_repo`, the schedule a year
// away), deploys one workload, then N times: commits a changed spec, `git push`es it, and
// waits for the workload's service to run again. A figure, not a test.
//
//   npx tsx bench/push-to-deploy-guest.ts [--runs 5] [--json] [--no-build] [--bundle FILE] [--profile] [--node-flags="FLAGS"]
//
// Each figure is systemd's ActiveEnterTimestamp of the service's new invocation minus the
// moment `git push` started, both read on the guest's clock: polling adds nothing to it.
// Beside each run, the floor: the same change made by hand to a workload of the same spec
// under another user (write the spec, `systemctl --user daemon-reload`, `systemctl --user
// restart`), from the start of writing to its ActiveEnterTimestamp. `--bundle` runs another
// build (an earlier commit's `npx tsx build.ts --outdir DIR`); `--profile` runs the daemon
// with `log_level = "debug"` and prints each pass's spans on the push's time line.
// Root only (systemd-nspawn); the first run on a machine builds the cached guest tree.
import { parseArgs } from 'node:util';
import { REPO_ROOT, TEST_BASE_TRANSFORM, describeExec, shutdownAllGuests, type Guest } from '../test/e2e/guest';
import { buildBundle } from '../test/e2e/host-proc';
import { bootDaemonGuest, containerSpec, daemonConfig, installMoor, journalEntries, measureOneDeploy, summarize, userService, waitForJournal, type DeployMeasurement } from '../test/e2e/daemon-helpers';

const WORKLOAD = 'bench';
/** The floor's workload: the same spec, applied by hand under a user moor does not manage. */
const FLOOR_USER = 'pushfloor';
const FLOOR_ENV = `env XDG_RUNTIME_DIR=/run/user/$uid DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus`;
const FLOOR_DIR = `/home/${FLOOR_USER}/.config/containers/systemd`;

/** The floor's setup: the user, its manager, its Podman namespace, the spec started once. */
const FLOOR_SETUP = `set -eu
n=${FLOOR_USER}
useradd --create-home "$n"
uid=$(id -u "$n")
loginctl enable-linger "$n"
systemctl start "user@$uid.service"
install -d -o "$n" -g "$n" "/home/$n/.config" "/home/$n/.config/containers" "${FLOOR_DIR}"
install -o "$n" -g "$n" -m 0644 /root/push-floor.container "${FLOOR_DIR}/$n.container"
cd / && runuser -u "$n" -- ${FLOOR_ENV} podman unshare /bin/true
runuser -u "$n" -- ${FLOOR_ENV} systemctl --user daemon-reload
runuser -u "$n" -- ${FLOOR_ENV} systemctl --user start "$n.service"`;

/** One change by hand: what moor's pass cannot avoid on a push. Prints when it started (ns). */
const FLOOR_RUN = `set -eu
n=${FLOOR_USER}
uid=$(id -u "$n")
cd /
start=$(date +%s%N)
install -o "$n" -g "$n" -m 0644 /root/push-floor.container "${FLOOR_DIR}/$n.container"
runuser -u "$n" -- ${FLOOR_ENV} systemctl --user daemon-reload
runuser -u "$n" -- ${FLOOR_ENV} systemctl --user restart "$n.service"
echo "$start"`;

/** Sets the floor's spec to version `v` and restarts it by hand; ms from the start to its new invocation's ActiveEnterTimestamp. */
async function floorRun(guest: Guest, v: string): Promise<number> {
  await guest.writeFile('/root/push-floor.container', `${containerSpec(v)}\n${TEST_BASE_TRANSFORM}`);
  const before = await userService(guest, FLOOR_USER);
  const r = await guest.exec(['bash', '-c', FLOOR_RUN]);
  if (r.code !== 0) throw new Error(`floor: ${describeExec(r)}`);
  const startedMs = Number(BigInt(r.stdout.trim().split('\n').at(-1)!) / 1000n) / 1000;
  const after = await userService(guest, FLOOR_USER);
  if (after.active !== 'active' || after.invocation === before.invocation || after.activeEnterMs === undefined) throw new Error(`floor: ${FLOOR_USER}.service did not restart (${after.active})`);
  return Math.round(after.activeEnterMs - startedMs);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      bundle: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'node-flags': { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: a positive integer`);
  const say = (m: string) => process.stderr.write(`${m}\n`);

  if (!values['no-build']) {
    const failed = await buildBundle(REPO_ROOT);
    if (failed) throw new Error(failed);
  }

  const guest: Guest = await bootDaemonGuest({ log: say, ...(values.bundle ? { moorBundle: values.bundle } : {}) });
  try {
    say(`guest ${guest.name} up in ${guest.timings.bootMs} ms; installing moor`);
    await installMoor(guest, `${values.profile ? 'log_level = "debug"\n' : ''}${daemonConfig()}`);
    await guest.writeFile('/root/push-floor.container', `${containerSpec('0')}\n${TEST_BASE_TRANSFORM}`);
    const setup = await guest.exec(['bash', '-c', FLOOR_SETUP]);
    if (setup.code !== 0) throw new Error(`floor setup: ${describeExec(setup)}`);
    await guest.pushRepo({ [`${WORKLOAD}.container`]: containerSpec('0') }, { message: 'bench: first deploy' });
    const first = await guest.journalCursor();
    if (values['node-flags'] !== undefined) {
      // Other node flags for the daemon, as an operator would give them: a drop-in.
      await guest.writeFile('/etc/systemd/system/moor.service.d/node-flags.conf', `[Service]\nExecStart=\nExecStart=node ${values['node-flags']} /usr/local/lib/moor/moor.mjs daemon\n`);
      await guest.run(['systemctl', 'daemon-reload']);
    }
    await guest.run(['systemctl', 'enable', '--now', 'moor.socket', 'moor.service']);
    await waitForJournal(guest, 'moor.service', /^pass done: gen 1 /, first, 120_000);
    if ((await userService(guest, WORKLOAD)).active !== 'active') throw new Error(`${WORKLOAD}.service is not active after the first pass:\n${await guest.journal({ unit: 'moor.service' })}`);

    const measured: DeployMeasurement[] = [];
    /** Push → the daemon's "pass starting" journal line: the ref watch's share of the figure. */
    const passStarts: number[] = [];
    const floors: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const before = await guest.journalCursor();
      const m = await measureOneDeploy(guest, WORKLOAD, { [`${WORKLOAD}.container`]: containerSpec(String(run)) }, `bench run ${run}`);
      // The next push waits for this pass to end, so that runs never overlap.
      const done = await waitForJournal(guest, 'moor.service', /^pass (done|ended with exit \d+|failed)/, before, 120_000);
      const started = await waitForJournal(guest, 'moor.service', /^pass starting/, before);
      if (!/reasons=watch$/.test(started.message)) throw new Error(`run ${run}: the pass was not started by the ref watch: ${started.message}`);
      if (!done.message.startsWith('pass done:')) throw new Error(`run ${run}: ${done.message}`);
      measured.push(m);
      passStarts.push(Math.round(started.at - m.pushStartedMs));
      const floor = await floorRun(guest, String(run));
      floors.push(floor);
      say(`run ${run}: ${(m.ms / 1000).toFixed(2)} s (${m.commit.slice(0, 7)}; the daemon's pass started after ${((started.at - m.pushStartedMs) / 1000).toFixed(2)} s); floor ${(floor / 1000).toFixed(2)} s`);
      if (values.profile) {
        // The pass's spans on the push's time line: when each ended, after the push started.
        const lines = (await journalEntries(guest, { unit: 'moor.service', afterCursor: before })).filter((e) => e.at <= done.at && /^(span |pass starting|change seen)/.test(e.message));
        for (const e of lines) say(`  +${String(Math.round(e.at - m.pushStartedMs)).padStart(5)} ms  ${e.message}`);
      }
    }
    // The daemon idle after its last pass: its resident memory, and its cgroup's, 5 s after
    // the pass and again 35 s after it, once V8's memory reducer has given back what the
    // pass's garbage collections left committed (the young generation above all).
    const pid = (await guest.run(['systemctl', 'show', 'moor.service', '-p', 'MainPID', '--value'])).stdout.trim();
    // Which node flags the measured daemon runs with (the unit's, or --node-flags').
    say(`daemon: ${(await guest.run(['cat', `/proc/${pid}/cmdline`])).stdout.split('\0').filter(Boolean).join(' ')}`);
    const mib = (bytes: number) => Number((bytes / 1048576).toFixed(1));
    const sample = async () => {
      const procStatus = (await guest.run(['cat', `/proc/${pid}/status`])).stdout;
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(procStatus)?.[1] ?? NaN);
      const cgroupBytes = Number((await guest.run(['systemctl', 'show', 'moor.service', '-p', 'MemoryCurrent', '--value'])).stdout.trim());
      // RSS in two parts: what the process holds (anonymous: the heap, malloc) and the pages
      // of files it maps (node's own binary, shared with every other node process).
      return { rssMiB: mib(kib('VmRSS') * 1024), anonMiB: mib(kib('RssAnon') * 1024), fileMiB: mib(kib('RssFile') * 1024), cgroupMiB: Number.isFinite(cgroupBytes) ? mib(cgroupBytes) : undefined };
    };
    await new Promise((r) => setTimeout(r, 5_000));
    const idle = await sample();
    await new Promise((r) => setTimeout(r, 30_000));
    const settled = await sample();
    const s = summarize(measured.map((m) => m.ms));
    const p = summarize(passStarts);
    const f = summarize(floors);
    const sec = (ms: number) => Number((ms / 1000).toFixed(2));
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ benchmark: 'push-to-deploy-guest', runs: measured.map((m, i) => ({ run: i + 1, commit: m.commit, seconds: sec(m.ms), passStartSeconds: sec(passStarts[i]!), floorSeconds: sec(floors[i]!) })), min: sec(s.min), median: sec(s.median), max: sec(s.max), floorMedian: sec(f.median), ratio: Number((s.median / f.median).toFixed(2)), daemonIdle: idle, daemonIdleSettled: settled })}\n`,
      );
    } else {
      process.stdout.write(`push-to-deploy (git push → new InvocationID active, systemd guest): n=${measured.length} min=${sec(s.min)} s median=${sec(s.median)} s max=${sec(s.max)} s\n`);
      process.stdout.write(`  of which git push → the daemon's pass starting: min=${sec(p.min)} s median=${sec(p.median)} s max=${sec(p.max)} s\n`);
      process.stdout.write(`floor (the spec written, daemon-reload, restart, by hand → new InvocationID active): min=${sec(f.min)} s median=${sec(f.median)} s max=${sec(f.max)} s; moor/floor (medians) ${(s.median / f.median).toFixed(2)}\n`);
      for (const [when, m] of [['5 s', idle], ['35 s', settled]] as const) {
        const cgroup = m.cgroupMiB === undefined ? 'memory not accounted' : `${m.cgroupMiB} MiB`;
        process.stdout.write(`daemon idle ${when} after its last pass: RSS ${m.rssMiB} MiB (anonymous ${m.anonMiB} MiB, files ${m.fileMiB} MiB; moor.service's cgroup: ${cgroup})\n`);
      }
    }
  } finally {
    await guest.shutdown();
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`push-to-deploy-guest: ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdownAllGuests();
  process.exitCode = 1;
});
