// A failure explains itself on a real host: a Quadlet container that writes
// "FATAL: cannot open /data/db" on stderr and exits 3. The pass's message and `moor status`
// carry that line and the exit status, and none of the noise journald holds around it (the
// user manager's "Killing process ... (podman pause)", Podman's events, conmon's cgroup
// warnings); `moor logs` prints it, the journalctl line it names prints it too, and
// `moor logs -f` follows a new run and ends cleanly on SIGTERM.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, describeExec, type Guest, GUEST_MOOR, GUEST_NODE, moorGuestForFile } from './guest';

const FATAL = 'FATAL: cannot open /data/db';

// Restart=no: one run, one failure. The command is the container's own: busybox sh.
const DB = `[Unit]
Description=a database that cannot open its data

[Container]
Image=${BUSYBOX_IMAGE}
Exec=/bin/sh -c 'echo opening /data/db; echo "${FATAL}" >&2; exit 3'

[Service]
Restart=no

[Install]
WantedBy=default.target
`;

interface PassJson {
  exitCode: number;
  items: Array<{ workload: string; uid?: number; result: string; error?: string }>;
}

interface StatusJson {
  workloads: Array<{ workload: string; result?: string; error?: string }>;
}

const NOISE = [/podman pause/, /Killing process/, /cgroup/i, /memory\.events/, /container (create|init|start|died|remove)/, /Failed with result/, /\b[0-9a-f]{64}\b/];

let guest: Guest;

moorGuestForFile((g) => (guest = g));

describe('a failing container explains itself', () => {
  let uid: number;

  it('the pass fails with its FATAL line and exit status 3, and none of the noise around them', async () => {
    await guest.pushRepo({ 'db.container': DB }, { message: 'db cannot open its data' });
    const run = await guest.moor(['reconcile', '--once', '--json']);
    const pass = JSON.parse(run.stdout) as PassJson;
    const item = pass.items.find((i) => i.workload === 'db')!;
    const why = `${describeExec(run)}\n--- journal ---\n${await guest.journal({ lines: 80 })}`;
    expect(pass.exitCode, why).toBe(1);
    expect(item.result, why).toBe('failed');
    uid = item.uid!;
    expect(item.error, why).toMatch(/^db\.service failed \(Result=exit-code\): main process exited with status 3 — output of db\.service: (.* \| )?opening \/data\/db \| FATAL: cannot open \/data\/db$/);
    for (const noise of NOISE) expect(item.error, why).not.toMatch(noise);
    // The noise was there, in the journal of the same unit and run.
    const all = await guest.run(['journalctl', '--no-pager', '-o', 'cat', `_UID=${uid}`]);
    expect(all.stdout).toMatch(/container died/);
    expect(all.stdout).toMatch(/<nwarn>: Failed to .*memory\.events/);
    expect(all.stdout).toMatch(/db\.service: Main process exited, code=exited, status=3/);

    const status = JSON.parse((await guest.moor(['status', '--json'])).stdout) as StatusJson;
    expect(status.workloads.find((w) => w.workload === 'db')?.error).toBe(item.error);
    const text = await guest.moor(['status']);
    expect(text.code, describeExec(text)).toBe(1);
    // No COMMIT: a workload that never applied runs no commit.
    expect(text.stdout, describeExec(text)).toMatch(/^db +db +\d+ +- +create +failed +never +db\.service failed \(failed, exit-code\) +db\.service failed \(Result=exit-code\): main process exited with status 3 — output of db\.service: .*FATAL: cannot open \/data\/db$/m);
  });

  it('moor logs prints it, and so does the journalctl line it names', async () => {
    const r = await guest.moor(['logs', 'db']);
    expect(r.code, describeExec(r)).toBe(0);
    expect(r.stdout).toMatch(/^\S+ db\.service systemd-db: FATAL: cannot open \/data\/db$/m);
    expect(r.stdout).toMatch(/^\S+ db\.service systemd-db: opening \/data\/db$/m);
    for (const noise of NOISE) expect(r.stdout).not.toMatch(noise);
    const named = /^-- (journalctl _UID=\d+ _SYSTEMD_USER_UNIT=db\.service) \(/.exec(r.stderr)?.[1];
    expect(named, r.stderr).toBe(`journalctl _UID=${uid} _SYSTEMD_USER_UNIT=db.service`);
    const byHand = await guest.run([...named!.split(' '), '--no-pager']);
    expect(byHand.stdout).toContain(FATAL);

    const unknown = await guest.moor(['logs', 'nosuch']);
    expect(unknown.code, describeExec(unknown)).toBe(2);
    expect(unknown.stderr).toContain('no workload named "nosuch"');
  });

  it('moor logs -f shows a new run as it happens and ends cleanly on SIGTERM, journalctl with it', async () => {
    // timeout(1) is only the bound; --preserve-status gives moor's own exit code.
    const following = guest.exec(['timeout', '--preserve-status', '-s', 'TERM', '60', GUEST_NODE, GUEST_MOOR, 'logs', 'db', '-f', '-n', '0'], { timeoutMs: 90_000 });
    // Started once its journalctl follows (a fixed wait raced a slow start under load).
    const until = Date.now() + 30_000;
    while ((await guest.exec(['pgrep', '-x', 'journalctl'])).stdout.trim() === '') {
      if (Date.now() > until) throw new Error('moor logs -f started no journalctl within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    await guest.systemctlUser('db', ['start', 'db.service']);
    await new Promise((r) => setTimeout(r, 2_000));
    await guest.exec(['pkill', '-TERM', '-f', `^${GUEST_NODE} ${GUEST_MOOR} logs db -f`]);
    const r = await following;
    expect(r.code, describeExec(r)).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.includes(FATAL))).toHaveLength(1);
    expect((await guest.exec(['pgrep', '-x', 'journalctl'])).stdout).toBe('');
  });
});
