// [notify] on a real host (docs/operations.md#notifications): the command runs as the
// unprivileged user named in the config, after `moor reconcile --once` (the timer's pass,
// no daemon), with the pass's JSON on stdin. A failing pass runs it once, the next failing
// pass does not (no change), a fixing pass does, with the JSON `--json` printed. And
// moor-reconcile.timer follows schedule.cron once install-units has written its drop-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_MOOR_CONFIG, bootMoorGuest, describeExec, leftoverGuests, type Guest } from './guest';

const OUT = '/var/tmp/notify-out';
const RECORDER = '/usr/local/bin/record-notify';
// Each run leaves its stdin and the user it ran as, under a name that sorts by time.
const RECORDER_SCRIPT = `#!/bin/sh
n=$(date +%s%N)
id -un > ${OUT}/$n.user
cat > ${OUT}/$n.json
`;

const app = (exec: string) => `[Container]
Image=${BUSYBOX_IMAGE}
Exec=${exec}

[Service]
Restart=no

[Install]
WantedBy=default.target
`;

let guest: Guest;

beforeAll(async () => {
  guest = await bootMoorGuest(`${GUEST_MOOR_CONFIG}
[notify]
commands = [["${RECORDER}"]]
user = "notifier"
timeout = "20s"
`);
  for (const argv of [
    ['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'notifier'],
    ['install', '-d', '-o', 'notifier', '-m', '0755', OUT],
  ]) {
    const r = await guest.exec(argv);
    expect(r.code, describeExec(r)).toBe(0);
  }
  await guest.writeFile(RECORDER, RECORDER_SCRIPT, { mode: 0o755 });
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

/** What the command received so far, oldest first: the JSON and the user it ran as. */
async function received(): Promise<Array<{ user: string; json: { exitCode: number; summary: string } }>> {
  const names = (await guest.exec(['ls', '-1', OUT])).stdout.split('\n').filter((n) => n.endsWith('.json')).sort();
  return Promise.all(
    names.map(async (n) => ({
      user: (await guest.readFile(`${OUT}/${n.replace(/\.json$/, '.user')}`)).trim(),
      json: JSON.parse(await guest.readFile(`${OUT}/${n}`)) as { exitCode: number; summary: string },
    })),
  );
}

describe('notify commands after a pass', () => {
  it('a failing pass runs the command once, as the configured user, with the JSON', async () => {
    await guest.pushRepo({ 'app.container': app('/no/such/binary') }, { message: 'broken' });
    const run = await guest.moor(['reconcile', '--once']);
    expect(run.code, describeExec(run)).toBe(1);
    const got = await received();
    expect(got, await guest.journal({ lines: 60 })).toHaveLength(1);
    expect(got[0]!.user).toBe('notifier');
    expect(got[0]!.json.exitCode).toBe(1);
  });

  it('the next failing pass does not run it (no change of result)', async () => {
    const run = await guest.moor(['reconcile', '--once']);
    expect(run.code, describeExec(run)).toBe(1);
    expect(await received()).toHaveLength(1);
  });

  it('a fixing pass runs it with the JSON reconcile --once --json prints', async () => {
    await guest.pushRepo({ 'app.container': app(BUSYBOX_SERVE_FOREVER) }, { message: 'fixed' });
    const run = await guest.moor(['reconcile', '--once', '--json']);
    expect(run.code, describeExec(run)).toBe(0);
    const got = await received();
    expect(got).toHaveLength(2);
    expect(got[1]!.user).toBe('notifier');
    expect(got[1]!.json).toEqual(JSON.parse(run.stdout));
    // moor's own line about it, on stderr (the journal, under the timer's service).
    expect(run.stderr).toContain(`notify: ${RECORDER} ran`);
  });
});

describe('moor-reconcile.timer follows schedule.cron', () => {
  it('install-units writes OnCalendar= from the config, and systemd loads it in place of the shipped one', async () => {
    await guest.writeFile('/etc/moor/config.d/50-schedule.toml', '[schedule]\ncron = "30 9 * * 1-5"\njitter = "45s"\n');
    const install = await guest.moor(['install-units']);
    expect(install.code, describeExec(install)).toBe(0);
    expect((await guest.exec(['systemctl', 'daemon-reload'])).code).toBe(0);
    const show = await guest.exec(['systemctl', 'show', 'moor-reconcile.timer', '-p', 'TimersCalendar', '-p', 'RandomizedDelayUSec']);
    expect(show.stdout).toContain('OnCalendar=Mon..Fri *-*-* 09:30:00');
    expect(show.stdout).not.toContain('00/2');
    expect(show.stdout).toContain('RandomizedDelayUSec=45s');
  });
});
