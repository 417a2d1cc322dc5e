// moor's daemon mode in a real systemd guest, installed as docs/operations.md tells an
// operator to (`node moor.mjs install-units --bundle`, moor.socket + moor.service), with
// the source a bare repository in the guest and the schedule a year away, so that no
// timer tick can explain anything seen here. systemd itself is the judge: unit states,
// StatusText, NRestarts, the watchdog, socket activation, the journal.
//
// The watchdog checks run with a WatchdogSec=4s drop-in instead of the shipped 60 s: ~30 s
// of normal running is then several watchdog periods, and a blocked daemon is caught in
// seconds rather than minutes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { describeExec, eventually, leftoverGuests, type Guest } from './guest';
import {
  BRANCH,
  CONTROL_SOCKET,
  LOCK_PATH,
  bootDaemonGuest,
  containerSpec,
  controlRequest,
  daemonConfig,
  failingSpec,
  installMoor,
  journalEntries,
  journalText,
  measureOneDeploy,
  newestGeneration,
  parseUsUtc,
  secs,
  show,
  summarize,
  userService,
  waitForJournal,
} from './daemon-helpers';

const SECRET = 'e2e-webhook-secret';
const DROPIN_DIR = '/etc/systemd/system/moor.service.d';
const figures: Record<string, string> = {};
let guest: Guest;
/** The repo's files as last pushed. */
let files: Record<string, string> = {};

beforeAll(async () => {
  const setup = inject('e2e');
  if (setup.bundleError) throw new Error(`no moor bundle to test: ${setup.bundleError}`);
  guest = await bootDaemonGuest();
  files = { 'hello.container': containerSpec('one') };
  await installMoor(guest, daemonConfig(), SECRET);
  await guest.pushRepo(files, { message: 'hello, one' });
});

afterAll(async () => {
  await guest?.shutdown();
  console.log(`e2e daemon figures:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
  expect(await leftoverGuests()).toEqual([]);
});

const cursor = () => guest.journalCursor();
const moorShow = (...props: string[]) => show(guest, 'moor.service', props);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function why(unit = 'moor.service', after?: string): Promise<string> {
  return `--- journal of ${unit} ---\n${await journalText(guest, unit, after)}`;
}

async function dropIn(name: string, text: string | undefined): Promise<void> {
  if (text === undefined) await guest.run(['rm', '-f', `${DROPIN_DIR}/${name}.conf`]);
  else await guest.writeFile(`${DROPIN_DIR}/${name}.conf`, text);
  await guest.run(['systemctl', 'daemon-reload']);
}

/**
 * Waits for the pass that follows `after` to end, and returns its journal line without the
 * structured fields moor appends (` exit=0 generation=3`): `pass done: <summary>`.
 */
async function passEnded(after: string | undefined, timeoutMs = 60_000): Promise<string> {
  const e = await waitForJournal(guest, 'moor.service', /^pass (done|ended with exit \d+|failed)/, after, timeoutMs);
  return e.message.replace(/ exit=\d+( generation=\d+)?$/, '');
}

async function signedWebhook(body: string, signature: string | undefined) {
  return controlRequest(guest, 'POST', '/v1/webhook', {
    body,
    headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', ...(signature ? { 'X-Hub-Signature-256': signature } : {}) },
  });
}

/** The slow workloads a pass is stopped in the middle of (and that the later tests find running). */
const SLOW = ['slowa', 'slowb', 'slowc', 'slowd', 'slowe', 'slowf'];

describe('moor daemon under systemd', () => {
  it('install-units --bundle puts the program, its addon and the units where they are expected', async () => {
    for (const f of ['/usr/local/lib/moor/moor.mjs', '/usr/local/lib/moor/sd-notify.node', '/etc/systemd/system/moor.service', '/etc/systemd/system/moor.socket', '/etc/systemd/system/moor-reconcile.service', '/etc/systemd/system/moor-reconcile.timer']) {
      expect((await guest.exec(['test', '-f', f])).code, `${f} is missing`).toBe(0);
    }
    expect((await guest.run(['readlink', '/usr/local/bin/moor'])).stdout.trim()).toBe('/usr/local/lib/moor/moor.mjs');
    const unit = await moorShow('Type', 'NotifyAccess', 'Restart', 'LoadState');
    expect(unit).toMatchObject({ Type: 'notify', NotifyAccess: 'main', Restart: 'on-failure', LoadState: 'loaded' });
    expect((await guest.run(['systemctl', 'cat', 'moor.service'])).stdout).toMatch(/^WatchdogSec=60$/m);
    expect((await guest.run(['getent', 'group', 'moor-managed'])).code).toBe(0);
  });

  it('systemctl start moor returns once moor sent READY=1, and StatusText carries the last pass summary', async () => {
    await guest.run(['systemctl', 'enable', 'moor.socket', 'moor.service']);
    const before = await cursor();
    const started = Date.now();
    const start = await guest.exec(['systemctl', 'start', 'moor.service']);
    const startMs = Date.now() - started;
    // Read at once: systemctl has returned, so systemd considers the start complete.
    const state = await show(guest, 'moor.service', ['ActiveState', 'SubState', 'StatusText', 'MainPID', 'WatchdogUSec', 'ExecMainStartTimestamp', 'ActiveEnterTimestamp'], { timestamps: 'us+utc' });
    expect(start.code, `${describeExec(start)}\n${await why('moor.service', before)}`).toBe(0);
    expect(state.ActiveState).toBe('active');
    expect(state.SubState).toBe('running');
    expect(state.WatchdogUSec).toBe('1min');
    // STATUS= only ever comes from moor, in the same datagram as READY=1.
    expect(state.StatusText, 'StatusText is set by moor with READY=1').toMatch(/^(ready: first pass pending|gen \d+ @[0-9a-f]{7}: .*|@[0-9a-f]{7}: .*)$/);

    const ready = await waitForJournal(guest, 'moor.service', /^moor daemon ready/, before, 10_000);
    expect(ready.message, 'READY=1 went through the sd-notify addon').toContain('notify=addon');
    // systemd entered active only after moor had started its daemon (its own clock, read
    // before READY=1); under Type=simple it would be active before node even ran moor.
    const daemonInfo = (JSON.parse((await guest.run(['moor', 'status', '--json'])).stdout) as { daemon: { pid: number; startedAt: string } }).daemon;
    expect(daemonInfo.pid).toBe(Number(state.MainPID));
    const activeEnter = parseUsUtc(state.ActiveEnterTimestamp ?? '');
    const execStart = parseUsUtc(state.ExecMainStartTimestamp ?? '');
    expect(activeEnter, state.ActiveEnterTimestamp).toBeDefined();
    expect(execStart, state.ExecMainStartTimestamp).toBeDefined();
    expect(activeEnter!).toBeGreaterThanOrEqual(Date.parse(daemonInfo.startedAt));
    expect(Date.parse(daemonInfo.startedAt)).toBeGreaterThanOrEqual(Math.floor(execStart!));
    figures['systemctl start moor.service (returns after READY=1)'] = `${secs(startMs)}; process start → daemon constructed → active: ${secs(Date.parse(daemonInfo.startedAt) - execStart!)} → ${secs(activeEnter! - execStart!)}`;

    // The startup pass deploys hello; StatusText then reads that pass's summary line.
    const line = await passEnded(before);
    expect(line, await why('moor.service', before)).toMatch(/^pass done: gen 1 @[0-9a-f]{7}: 1 applied, 0 unchanged, 0 failed, 0 removed$/);
    const summary = line.replace(/^pass done: /, '');
    expect((await moorShow('StatusText')).StatusText).toBe(summary);
    const status = await guest.run(['moor', 'status', '--json']);
    expect(status.stderr).toContain('via the running daemon');
    expect((JSON.parse(status.stdout) as { lastPass: { summary: string } }).lastPass.summary).toBe(summary);
    expect((await userService(guest, 'hello')).active).toBe('active');
    // That pass made hello's user, started its manager and its first container: nothing it
    // ran as the user stays in moor.service's cgroup, which holds the daemon alone.
    const procs = await guest.run(['sh', '-c', 'for p in $(cat /sys/fs/cgroup/system.slice/moor.service/cgroup.procs); do echo "$p $(tr "\\0" " " < /proc/$p/cmdline)"; done']);
    expect(procs.stdout.trim().split('\n').map((l) => l.split(' ')[0]), procs.stdout).toEqual([state.MainPID]);
  });

  it('without READY=1 (no NOTIFY_SOCKET) the start does not complete: systemd waits for moor, not for its process', async () => {
    await dropIn('e2e-deaf', '[Service]\nUnsetEnvironment=NOTIFY_SOCKET\nTimeoutStartSec=3s\nRestart=no\n');
    const before = await cursor();
    const started = Date.now();
    const r = await guest.exec(['systemctl', 'restart', 'moor.service']);
    const ms = Date.now() - started;
    try {
      expect(r.code, describeExec(r)).not.toBe(0);
      expect(ms).toBeGreaterThanOrEqual(3_000);
      expect((await moorShow('Result')).Result).toBe('timeout');
      // moor ran and was serving, but without a way to say so the start timed out.
      await waitForJournal(guest, 'moor.service', /^moor daemon ready .*notify=none/, before);
      await waitForJournal(guest, 'moor.service', /start operation timed out/, before);
    } finally {
      await dropIn('e2e-deaf', undefined);
      await guest.exec(['systemctl', 'reset-failed', 'moor.service']);
    }
    const again = await cursor();
    await guest.run(['systemctl', 'start', 'moor.service']);
    expect((await moorShow('ActiveState')).ActiveState).toBe('active');
    await passEnded(again);
  });

  it('a git push to the bare repo restarts the changed service within seconds, with no timer tick', async () => {
    const status = JSON.parse((await guest.run(['moor', 'status', '--json'])).stdout) as { daemon: { nextScheduled?: string } };
    // The schedule is yearly: the next tick is months away.
    expect(Date.parse(status.daemon.nextScheduled ?? '') - Date.now()).toBeGreaterThan(24 * 3600_000);
    const runs: number[] = [];
    const passStarts: number[] = [];
    for (const greeting of ['two', 'three', 'four']) {
      const before = await cursor();
      files = { ...files, 'hello.container': containerSpec(greeting) };
      const m = await measureOneDeploy(guest, 'hello', files, `hello, ${greeting}`);
      runs.push(m.ms);
      const started = await waitForJournal(guest, 'moor.service', /^pass starting/, before);
      expect(started.message, 'the pass was started by the ref watch').toMatch(/reasons=watch$/);
      passStarts.push(started.at - m.pushStartedMs);
      const line = await passEnded(before);
      expect(line).toMatch(/^pass done: gen \d+ @[0-9a-f]{7}: 1 applied, 0 unchanged, 0 failed, 0 removed$/);
      expect(line).toContain(`@${m.commit.slice(0, 7)}`);
      expect(m.ms, `push to restart of hello.service took ${m.ms} ms`).toBeLessThan(10_000);
    }
    const env = await guest.asUser('hello', ['podman', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', 'systemd-hello'], { cwd: '/' });
    expect(env.stdout).toContain('GREETING=four');
    const s = summarize(runs);
    figures['push to deploy (git push → new InvocationID active)'] = `${runs.map(secs).join(', ')}; min ${secs(s.min)}, median ${secs(s.median)}, max ${secs(s.max)} (git push → pass starting: ${passStarts.map(secs).join(', ')})`;
    console.log(`push to deploy: ${figures['push to deploy (git push → new InvocationID active)']}`);
  });

  it('the watchdog stays quiet over many WatchdogSec periods and restarts a daemon whose event loop is blocked', async () => {
    await dropIn('e2e-watchdog', '[Service]\nWatchdogSec=4s\n');
    try {
      const restarted = await cursor();
      await guest.run(['systemctl', 'restart', 'moor.service']);
      await passEnded(restarted);
      const base = await moorShow('MainPID', 'NRestarts', 'WatchdogUSec');
      expect(base.WatchdogUSec).toBe('4s');
      const quiet = await cursor();
      const pings = new Set<string>();
      const observeMs = 30_000;
      const t0 = Date.now();
      while (Date.now() - t0 < observeMs) {
        pings.add((await moorShow('WatchdogTimestampMonotonic')).WatchdogTimestampMonotonic ?? '');
        await sleep(1_000);
      }
      const after = await moorShow('MainPID', 'NRestarts', 'ActiveState');
      expect(after).toMatchObject({ MainPID: base.MainPID, NRestarts: base.NRestarts, ActiveState: 'active' });
      // systemd recorded a fresh ping every ~2 s (half of WatchdogSec).
      expect(pings.size, `watchdog timestamps seen: ${[...pings].join(' ')}`).toBeGreaterThanOrEqual(10);
      const quietLog = await journalEntries(guest, { unit: 'moor.service', ...(quiet ? { afterCursor: quiet } : {}) });
      expect(quietLog.filter((e) => /watchdog/i.test(e.message)).map((e) => e.message)).toEqual([]);
      figures['watchdog, normal running'] = `${observeMs / 1000} s at WatchdogSec=4s (${Math.floor(observeMs / 4000)} periods): NRestarts ${after.NRestarts}, ${pings.size} distinct ping timestamps, no watchdog line`;

      // Block the event loop (SIGSTOP): no more pings; systemd must kill and restart moor.
      const blocked = await cursor();
      const stoppedAt = Date.now();
      await guest.run(['kill', '-STOP', base.MainPID!]);
      const back = await eventually(
        'systemd to restart the blocked moor',
        async () => {
          const s = await moorShow('MainPID', 'NRestarts', 'ActiveState');
          return s.ActiveState === 'active' && Number(s.NRestarts) === Number(base.NRestarts) + 1 && s.MainPID !== base.MainPID ? s : undefined;
        },
        60_000,
        250,
      );
      const restartMs = Date.now() - stoppedAt;
      const log = await journalEntries(guest, { unit: 'moor.service', ...(blocked ? { afterCursor: blocked } : {}) });
      expect(log.some((e) => /Watchdog timeout \(limit 4s\)/.test(e.message)), await why('moor.service', blocked)).toBe(true);
      expect(log.some((e) => /Failed with result 'watchdog'/.test(e.message))).toBe(true);
      expect(log.some((e) => /Scheduled restart job, restart counter is at/.test(e.message))).toBe(true);
      figures['watchdog, blocked loop (kill -STOP)'] = `restarted after ${secs(restartMs)} (WatchdogSec=4s + RestartSec=5s), NRestarts ${base.NRestarts} → ${back.NRestarts}`;
    } finally {
      await dropIn('e2e-watchdog', undefined);
    }
    const restarted = await cursor();
    await guest.run(['systemctl', 'restart', 'moor.service']);
    expect((await moorShow('WatchdogUSec')).WatchdogUSec).toBe('1min');
    await passEnded(restarted);
  });

  it('systemctl reload re-reads the config; a broken config on SIGHUP is logged at error priority and the old one keeps running', async () => {
    const good = daemonConfig();
    const reloaded = await cursor();
    await guest.run(['systemctl', 'reload', 'moor.service']);
    await waitForJournal(guest, 'moor.service', /^config reloaded cause=SIGHUP/, reloaded);
    await passEnded(reloaded);
    const base = await moorShow('MainPID', 'NRestarts');

    // Broken: an unknown key, and another branch that would change what is deployed.
    const broken = `${good.replace(`branch = "${BRANCH}"`, 'branch = "elsewhere"')}no_such_key = true\n`;
    const edited = await cursor();
    await guest.writeFile('/etc/moor/config.toml', broken);
    // The config watch sees the edit first; let it finish before the signal.
    await waitForJournal(guest, 'moor.service', /^config reload failed/, edited);
    const hup = await cursor();
    await guest.run(['systemctl', 'kill', '-s', 'HUP', 'moor.service']);
    const failed = await waitForJournal(guest, 'moor.service', /^config reload failed: keeping the running config cause=SIGHUP/, hup);
    expect(failed.priority, 'logged at error priority').toBe(3);
    expect(failed.message).toContain('no_such_key');
    const errors = await journalEntries(guest, { unit: 'moor.service', priority: 'err', ...(hup ? { afterCursor: hup } : {}) });
    expect(errors.map((e) => e.message).some((m) => /cause=SIGHUP.*no_such_key/.test(m)), 'journalctl -u moor -p err shows it').toBe(true);

    const after = await moorShow('MainPID', 'NRestarts', 'ActiveState', 'StatusText');
    expect(after).toMatchObject({ MainPID: base.MainPID, NRestarts: base.NRestarts, ActiveState: 'active' });
    expect(after.StatusText, 'READY=1 after the failed reload restores the summary').toMatch(/^(gen \d+ )?@[0-9a-f]{7}: /);
    // Still answering (the CLI itself would refuse the broken file: ask the socket directly).
    const status = await controlRequest(guest, 'GET', '/v1/status');
    expect(status.status).toBe(200);
    expect((JSON.parse(status.body) as { daemon: { pid: number } }).daemon.pid).toBe(Number(base.MainPID));
    // Still deploying the old config's branch on a push to it.
    files = { ...files, 'hello.container': containerSpec('five') };
    const m = await measureOneDeploy(guest, 'hello', files, 'hello, five');
    figures['push to deploy while a broken config is on disk'] = secs(m.ms);

    const restored = await cursor();
    await guest.writeFile('/etc/moor/config.toml', good);
    await waitForJournal(guest, 'moor.service', /^config reloaded/, restored);
    await passEnded(restored);
    expect((await moorShow('MainPID')).MainPID).toBe(base.MainPID);
  });

  it('with both units stopped, a moor status through moor.socket starts the daemon and gets its answer', async () => {
    await guest.run(['systemctl', 'stop', 'moor.socket', 'moor.service']);
    expect((await moorShow('ActiveState')).ActiveState).toBe('inactive');
    expect((await guest.exec(['test', '-e', CONTROL_SOCKET])).code, 'RemoveOnStop= removed the socket').not.toBe(0);
    await guest.run(['systemctl', 'start', 'moor.socket']);
    expect((await moorShow('ActiveState')).ActiveState).toBe('inactive');
    expect((await guest.run(['test', '-S', CONTROL_SOCKET])).code).toBe(0);

    const before = await cursor();
    const t0 = Date.now();
    const status = await guest.exec(['moor', 'status']);
    const ms = Date.now() - t0;
    expect(status.code, `${describeExec(status)}\n${await why('moor.service', before)}`).toBe(0);
    expect(status.stderr).toContain(`via the running daemon (${CONTROL_SOCKET})`);
    const pid = /^daemon: pid (\d+) since/m.exec(status.stdout)?.[1];
    expect(pid, status.stdout).toBeDefined();
    const unit = await moorShow('ActiveState', 'MainPID', 'TriggeredBy');
    expect(unit).toMatchObject({ ActiveState: 'active', MainPID: pid, TriggeredBy: 'moor.socket' });
    await waitForJournal(guest, 'moor.service', /^control API on the socket passed by systemd/, before);
    figures['moor status by socket activation (daemon start + answer)'] = secs(ms);
    await passEnded(before);
  });

  it('a webhook with a wrong or missing signature gets 401 and changes nothing; a signed one triggers a pass', async () => {
    // An unwatched source (url, not bare_repo): a pushed change waits for a trigger.
    const reconfigured = await cursor();
    await guest.writeFile('/etc/moor/config.toml', daemonConfig({ source: 'url' }));
    await waitForJournal(guest, 'moor.service', /^config reloaded/, reconfigured);
    await passEnded(reconfigured);

    const pushed = await cursor();
    files = { ...files, 'hello.container': containerSpec('six') };
    const commit = await guest.pushRepo(files, { message: 'hello, six' });
    const service = await userService(guest, 'hello');
    const generation = await newestGeneration(guest);
    const lastPass = await guest.readFile('/var/lib/moor/last-pass.json');

    const body = JSON.stringify({ ref: `refs/heads/${BRANCH}`, after: commit });
    const wrong = await signedWebhook(body, `sha256=${createHmac('sha256', 'not-the-secret').update(body).digest('hex')}`);
    expect(wrong.status, wrong.body).toBe(401);
    const missing = await signedWebhook(body, undefined);
    expect(missing.status, missing.body).toBe(401);
    // Time for a pass to start and restart the service, had one been triggered.
    await sleep(4_000);
    const log = await journalEntries(guest, { unit: 'moor.service', ...(pushed ? { afterCursor: pushed } : {}) });
    expect(log.filter((e) => /^pass starting/.test(e.message)).map((e) => e.message), 'no pass ran').toEqual([]);
    expect(await newestGeneration(guest)).toBe(generation);
    expect(await guest.readFile('/var/lib/moor/last-pass.json')).toBe(lastPass);
    expect((await userService(guest, 'hello')).invocation).toBe(service.invocation);
    const refused = log.find((e) => /^webhook refused: bad signature/.test(e.message));
    expect(refused?.priority, 'a wrong signature is logged at error priority').toBe(3);
    expect(log.find((e) => /^webhook refused: no X-Hub-Signature-256/.test(e.message))?.priority, 'a missing one at warning').toBe(4);

    const signed = await signedWebhook(body, `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
    expect(signed.status, signed.body).toBe(202);
    const started = await waitForJournal(guest, 'moor.service', /^pass starting/, pushed);
    expect(started.message).toMatch(/reasons=webhook$/);
    expect(await passEnded(pushed)).toContain(`@${commit.slice(0, 7)}: 1 applied`);
    const restarted = await userService(guest, 'hello');
    expect(restarted.active).toBe('active');
    expect(restarted.invocation).not.toBe(service.invocation);
    expect(await newestGeneration(guest)).toBe(generation + 1);

    const back = await cursor();
    await guest.writeFile('/etc/moor/config.toml', daemonConfig());
    await waitForJournal(guest, 'moor.service', /^config reloaded/, back);
    await passEnded(back);
  });

  it('SIGTERM during a pass finishes the workloads in hand, begins no other, exits 0 within TimeoutStopSec and releases the lock', async () => {
    const slow = (name: string) => containerSpec(name, ['ExecStartPre=/bin/sleep 6']);
    // Six slow workloads: apply.parallel (4) of them are begun at once, the others wait for a slot.
    const names = SLOW;
    files = { ...files, ...Object.fromEntries(names.map((n) => [`${n}.container`, slow(n.slice(4))])) };
    const before = await cursor();
    await guest.pushRepo(files, { message: 'six slow workloads' });
    // The pass reaches slowa (hello is unchanged) and creates its user first.
    await eventually('the pass to start on slowa', async () => ((await guest.exec(['getent', 'passwd', 'slowa'])).code === 0 ? true : undefined), 30_000, 100);
    const timeoutStopSec = (await moorShow('TimeoutStopUSec')).TimeoutStopUSec;
    const t0 = Date.now();
    const stop = await guest.exec(['systemctl', 'stop', 'moor.service'], { timeoutMs: 300_000 });
    const stopMs = Date.now() - t0;
    expect(stop.code, `${describeExec(stop)}\n${await why('moor.service', before)}`).toBe(0);
    expect(timeoutStopSec).toBe('2min');
    expect(stopMs).toBeLessThan(120_000);
    const unit = await moorShow('ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus');
    expect(unit, await why('moor.service', before)).toMatchObject({ ActiveState: 'inactive', Result: 'success', ExecMainCode: '1', ExecMainStatus: '0' });
    const log = (await journalEntries(guest, { unit: 'moor.service', ...(before ? { afterCursor: before } : {}) })).map((e) => e.message);
    // The workloads begun were finished and reported in plan order; the others were not begun.
    const finished = names.filter((n) => log.some((l) => l.startsWith(`${n}: create ok`)));
    expect(finished.length, log.join('\n')).toBeGreaterThanOrEqual(1);
    expect(finished, log.join('\n')).toEqual(names.slice(0, finished.length));
    expect(finished.length, 'some workloads were left for the next pass').toBeLessThan(names.length);
    const order = ['stopping: finishing the workloads in hand', `${finished.at(-1)}: create ok`, 'stopping: the remaining workloads are left for the next pass', 'stopped'].map((m) => log.findIndex((l) => l.startsWith(m)));
    expect(order.every((i) => i >= 0), log.join('\n')).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const n of finished) expect((await userService(guest, n)).active, `${n}, in hand, was finished`).toBe('active');
    for (const n of names.slice(finished.length)) expect((await guest.exec(['getent', 'passwd', n])).code, `${n} was left for the next pass`).toBe(2);
    figures['systemctl stop during a pass'] = `${secs(stopMs)} (TimeoutStopSec=${timeoutStopSec}), exit status 0, ${finished.length} of ${names.length} workloads finished`;

    // The lock is free: a manual pass (no daemon: the socket is stopped too) takes it at once.
    await guest.run(['systemctl', 'stop', 'moor.socket']);
    expect((await guest.exec(['flock', '--nonblock', LOCK_PATH, 'true'])).code, 'the pass lock is free').toBe(0);
    const manual = await guest.exec(['moor', 'reconcile', '--once']);
    expect(manual.code, describeExec(manual)).toBe(0);
    expect(manual.stderr).not.toContain('via the running daemon');
    for (const n of names) expect((await userService(guest, n)).active, n).toBe('active');
  });

  it('on a timer-only host, moor-reconcile.service runs one pass and fails exactly when the pass is partial', async () => {
    await guest.run(['systemctl', 'disable', '--now', 'moor.socket', 'moor.service']);
    expect((await guest.exec(['systemctl', 'is-enabled', 'moor.service'])).stdout.trim()).toBe('disabled');
    expect((await moorShow('ActiveState')).ActiveState).toBe('inactive');

    const ok = await guest.exec(['systemctl', 'start', 'moor-reconcile.service']);
    const okUnit = await show(guest, 'moor-reconcile.service', ['Result', 'ExecMainStatus', 'ActiveState']);
    expect(ok.code, `${describeExec(ok)}\n${await why('moor-reconcile.service')}`).toBe(0);
    expect(okUnit).toMatchObject({ Result: 'success', ExecMainStatus: '0', ActiveState: 'inactive' });

    files = { ...files, 'broken.container': failingSpec() };
    const before = await cursor();
    await guest.pushRepo(files, { message: 'a workload that cannot start' });
    const partial = await guest.exec(['systemctl', 'start', 'moor-reconcile.service']);
    const unit = await show(guest, 'moor-reconcile.service', ['Result', 'ExecMainStatus', 'ActiveState']);
    expect(partial.code, describeExec(partial)).not.toBe(0);
    expect(unit, await why('moor-reconcile.service', before)).toMatchObject({ Result: 'exit-code', ExecMainStatus: '1', ActiveState: 'failed' });
    const log = (await journalEntries(guest, { unit: 'moor-reconcile.service', ...(before ? { afterCursor: before } : {}) })).map((e) => e.message);
    expect(log.some((l) => /: 0 applied, 7 unchanged, 1 failed \(broken\), 0 removed$/.test(l)), log.join('\n')).toBe(true);
    expect((await guest.exec(['systemctl', '--failed', '--no-legend', '--plain'])).stdout).toContain('moor-reconcile.service');
    // The others still run; the daemon never did.
    for (const w of ['hello', ...SLOW]) expect((await userService(guest, w)).active, w).toBe('active');
    expect((await moorShow('ActiveState')).ActiveState).toBe('inactive');
  });

  it('a config error at start fails moor.service once and it stays failed (no restart loop); its lines are tagged moor', async () => {
    const good = await guest.readFile('/etc/moor/config.toml');
    const before = await cursor();
    await guest.writeFile('/etc/moor/config.toml', `${good}no_such_key = true\n`);
    const start = await guest.exec(['systemctl', 'start', 'moor.service']);
    expect(start.code, describeExec(start)).not.toBe(0);
    // Past RestartSec=5s: Restart=on-failure would have started it again by now.
    await sleep(7_000);
    const unit = await moorShow('ActiveState', 'Result', 'ExecMainStatus', 'NRestarts');
    expect(unit, await why('moor.service', before)).toMatchObject({ ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '2', NRestarts: '0' });
    const log = await journalEntries(guest, { unit: 'moor.service', ...(before ? { afterCursor: before } : {}) });
    const error = log.find((e) => /no_such_key/.test(e.message));
    expect(error, log.map((e) => `${e.identifier}: ${e.message}`).join('\n')).toMatchObject({ identifier: 'moor', priority: 3 });
    await guest.writeFile('/etc/moor/config.toml', good);
    await guest.run(['systemctl', 'reset-failed', 'moor.service']);
  });
});
