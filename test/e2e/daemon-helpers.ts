// Helpers for the daemon scenarios (daemon.e2e.test.ts) and the push-to-deploy benchmark run
// in a guest (bench/push-to-deploy-guest.ts): moor installed the way an operator installs
// it, systemd's view of a unit, the journal, the control socket, timed pushes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_MOOR, REPO_ROOT, bootGuest, describeExec, eventually, type BootOptions, type ExecResult, type Guest } from './guest';

/** The sd-notify addon's compiled file, bound beside the bundle as an operator copies the two files. */
export const GUEST_ADDON = GUEST_MOOR.replace(/moor\.mjs$/, 'sd-notify.node');
export const HOST_ADDON = join(REPO_ROOT, 'dist', 'sd-notify.node');

export const BARE_REPO = '/srv/git/desired.git';
export const WORK_TREE = '/srv/git/desired-work';
export const BRANCH = 'main';
export const CONTROL_SOCKET = '/run/moor/moor.sock';
export const LOCK_PATH = '/run/moor/lock';
export const STATE_DIR = '/var/lib/moor';
export const WEBHOOK_SECRET_FILE = '/etc/moor/webhook.secret';
/** Far away: no scheduled pass can explain anything a test sees. */
export const YEARLY = '0 0 1 1 *';

export interface DaemonConfigOptions {
  /** `bare_repo` (watched: a push deploys) or `url` (not watched: only a trigger deploys). */
  source?: 'bare_repo' | 'url';
  cron?: string;
  webhook?: boolean;
  /** Raw TOML appended at the end (a broken key, say). */
  extra?: string;
}

export function daemonConfig(opts: DaemonConfigOptions = {}): string {
  return `transforms_dir = "/etc/moor/transforms"

[source]
${opts.source ?? 'bare_repo'} = "${BARE_REPO}"
branch = "${BRANCH}"

[schedule]
cron = "${opts.cron ?? YEARLY}"
jitter = "0s"
${opts.webhook === false ? '' : `\n[control]\nwebhook_secret_file = "${WEBHOOK_SECRET_FILE}"\n`}${opts.extra ?? ''}`;
}

/** A long-running busybox container; `greeting` changes its content hash, `service` adds [Service] lines. */
export function containerSpec(greeting: string, service: string[] = []): string {
  return `[Unit]
Description=moor daemon end-to-end workload

[Container]
Image=${BUSYBOX_IMAGE}
Exec=${BUSYBOX_SERVE_FOREVER}
Environment=GREETING=${greeting}
${service.length ? `\n[Service]\n${service.join('\n')}\n` : ''}
[Install]
WantedBy=default.target
`;
}

/** A container that exits 1 at once: its service fails, so a pass applying it is partial. */
export function failingSpec(): string {
  return `[Container]
Image=${BUSYBOX_IMAGE}
Exec=/bin/false

[Install]
WantedBy=default.target
`;
}

/** A guest with the bundle and the sd-notify addon side by side under /opt/moor. */
export async function bootDaemonGuest(options: BootOptions = {}): Promise<Guest> {
  if (!existsSync(HOST_ADDON)) throw new Error(`${HOST_ADDON} is missing: run \`npm run build\` on a machine with libsystemd-dev (the addon is what moor.service's Type=notify relies on)`);
  return bootGuest({ ...options, bindReadOnly: { ...(options.bindReadOnly ?? {}), [HOST_ADDON]: GUEST_ADDON } });
}

/**
 * Installs moor as docs/operations.md tells an operator to: `node moor.mjs install-units
 * --bundle`, the printed next steps, a config, the transforms, a bare repository. Leaves
 * the units installed but not started.
 */
export async function installMoor(guest: Guest, config = daemonConfig(), secret = 'e2e-webhook-secret'): Promise<ExecResult> {
  const install = await guest.run(['node', GUEST_MOOR, 'install-units', '--bundle']);
  await guest.run(['systemd-sysusers', '/etc/sysusers.d/moor.conf']);
  await guest.run(['systemd-tmpfiles', '--create', '/etc/tmpfiles.d/moor.conf']);
  await guest.run(['systemctl', 'daemon-reload']);
  await guest.writeFile('/etc/moor/config.toml', config);
  await guest.writeFile(WEBHOOK_SECRET_FILE, `${secret}\n`, { mode: 0o600 });
  await guest.installTestTransforms();
  await guest.initBareRepo(BARE_REPO, BRANCH);
  return install;
}

/** `systemctl show UNIT -p ...` as a record (system manager, or a user's with `user`). */
export async function show(guest: Guest, unit: string, props: readonly string[], options: { user?: string; timestamps?: 'us+utc' } = {}): Promise<Record<string, string>> {
  const args = ['show', unit, ...props.flatMap((p) => ['-p', p]), ...(options.timestamps ? [`--timestamp=${options.timestamps}`] : [])];
  const r = options.user ? await guest.systemctlUser(options.user, args) : await guest.exec(['systemctl', ...args]);
  if (r.code !== 0) throw new Error(describeExec(r));
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** `Sun 2026-11-22 04:26:31.452357 UTC` (systemctl --timestamp=us+utc) in ms since the epoch. */
export function parseUsUtc(text: string): number | undefined {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))? UTC/.exec(text);
  if (!m) return undefined;
  const whole = Date.parse(`${m[1]}T${m[2]}Z`);
  return whole + Number((m[3] ?? '0').padEnd(6, '0')) / 1000;
}

export interface JournalEntry {
  /** Realtime, ms since the epoch. */
  at: number;
  /** Syslog priority 0..7. */
  priority: number;
  identifier: string;
  message: string;
}

/** Journal entries (JSON), optionally of one system unit, after a cursor, at most a priority. */
export async function journalEntries(guest: Guest, options: { unit?: string; afterCursor?: string; priority?: string; lines?: number } = {}): Promise<JournalEntry[]> {
  const args = [
    'journalctl',
    '--no-pager',
    '-o',
    'json',
    '--output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,__REALTIME_TIMESTAMP',
    ...(options.unit ? ['-u', options.unit] : []),
    ...(options.afterCursor ? [`--after-cursor=${options.afterCursor}`] : []),
    ...(options.priority ? ['-p', options.priority] : []),
    ...(options.lines ? ['-n', String(options.lines)] : []),
  ];
  const r = await guest.exec(args);
  const entries: JournalEntry[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as Record<string, unknown>;
    const message = Array.isArray(e.MESSAGE) ? Buffer.from(e.MESSAGE as number[]).toString('utf8') : String(e.MESSAGE ?? '');
    entries.push({ at: Number(e.__REALTIME_TIMESTAMP) / 1000, priority: Number(e.PRIORITY ?? 6), identifier: String(e.SYSLOG_IDENTIFIER ?? ''), message });
  }
  return entries;
}

/** Waits for a journal entry of `unit` (after the cursor) whose message matches. */
export function waitForJournal(guest: Guest, unit: string, pattern: RegExp, afterCursor: string | undefined, timeoutMs = 30_000): Promise<JournalEntry> {
  return eventually(
    `a journal line of ${unit} matching ${pattern}`,
    async () => (await journalEntries(guest, { unit, ...(afterCursor ? { afterCursor } : {}) })).find((e) => pattern.test(e.message)),
    timeoutMs,
    200,
  );
}

/** Journal lines of a unit since a cursor, for failure messages. */
export async function journalText(guest: Guest, unit: string, afterCursor?: string): Promise<string> {
  return guest.journal({ unit, lines: 150, ...(afterCursor ? { afterCursor } : {}) });
}

export interface HttpAnswer {
  status: number;
  body: string;
}

// Node's http client over the unix socket, run inside the guest (it has no curl).
const HTTP_CLIENT = `
const http = require('node:http');
const [socketPath, method, path, headersJson] = process.argv.slice(1);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const body = Buffer.concat(chunks);
  const headers = { ...JSON.parse(headersJson), 'Content-Length': String(body.length) };
  const req = http.request({ socketPath, method, path, headers, agent: false }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (text += d));
    res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: text })));
  });
  req.on('error', (e) => { process.stderr.write(e.message); process.exit(2); });
  req.end(body);
});
`;

/** One HTTP request to the control socket, from inside the guest. */
export async function controlRequest(guest: Guest, method: string, path: string, options: { body?: string; headers?: Record<string, string>; socket?: string } = {}): Promise<HttpAnswer> {
  const r = await guest.run(['node', '-e', HTTP_CLIENT, options.socket ?? CONTROL_SOCKET, method, path, JSON.stringify(options.headers ?? {})], { input: options.body ?? '', timeoutMs: 120_000 });
  return JSON.parse(r.stdout) as HttpAnswer;
}

/** The newest generation number in the state dir (0 when none). */
export async function newestGeneration(guest: Guest): Promise<number> {
  const r = await guest.exec(['ls', `${STATE_DIR}/generations`]);
  const nums = r.stdout
    .split('\n')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  return nums.length ? Math.max(...nums) : 0;
}

/** InvocationID and ActiveState of a workload's service, as its user's manager reports them. */
export async function userService(guest: Guest, user: string, unit = `${user}.service`): Promise<{ invocation: string; active: string; activeEnterMs: number | undefined }> {
  const p = await show(guest, unit, ['InvocationID', 'ActiveState', 'ActiveEnterTimestamp'], { user, timestamps: 'us+utc' });
  return { invocation: p.InvocationID ?? '', active: p.ActiveState ?? '', activeEnterMs: parseUsUtc(p.ActiveEnterTimestamp ?? '') };
}

/**
 * Commits exactly `files` in the guest's work tree of the bare repo, without pushing (as
 * guest.pushRepo does, push aside), so that a push can be timed alone.
 */
export async function commitOnly(guest: Guest, files: Record<string, string>, message: string): Promise<string> {
  const git = ['git', '-C', WORK_TREE, '-c', 'user.name=moor e2e', '-c', 'user.email=e2e@moor.invalid'];
  if ((await guest.exec(['test', '-d', `${WORK_TREE}/.git`])).code !== 0) {
    await guest.run(['git', 'init', '--quiet', `--initial-branch=${BRANCH}`, WORK_TREE]);
    await guest.run([...git, 'remote', 'add', 'origin', BARE_REPO]);
  }
  await guest.run(['find', WORK_TREE, '-mindepth', '1', '-maxdepth', '1', '!', '-name', '.git', '-exec', 'rm', '-rf', '{}', '+']);
  for (const [path, content] of Object.entries(files)) await guest.writeFile(`${WORK_TREE}/${path}`, content);
  await guest.run([...git, 'add', '--all']);
  await guest.run([...git, 'commit', '--quiet', '--allow-empty', '-m', message]);
  return (await guest.run([...git, 'rev-parse', 'HEAD'])).stdout.trim();
}

/** `git push` of the work tree's HEAD; returns when it started (guest clock, ms since the epoch). */
export async function timedPush(guest: Guest): Promise<{ startedMs: number; endedMs: number }> {
  const r = await guest.run(['sh', '-c', `date +%s%N; git -C ${WORK_TREE} push --quiet origin HEAD:refs/heads/${BRANCH}; rc=$?; date +%s%N; exit $rc`]);
  const [start, end] = r.stdout.trim().split('\n').map((n) => Number(BigInt(n) / 1000n) / 1000);
  return { startedMs: start!, endedMs: end! };
}

export interface DeployMeasurement {
  commit: string;
  /** When `git push` started (guest clock, ms since the epoch). */
  pushStartedMs: number;
  /** From the start of `git push` until the service's new invocation entered active. */
  ms: number;
  invocationBefore: string;
  invocationAfter: string;
}

/**
 * Pushes a change of `spec` (committed beforehand, untimed) and waits for `user`'s service
 * to run again: a new InvocationID, active. The figure is systemd's own ActiveEnterTimestamp
 * of the new invocation minus the moment `git push` started, both on the guest's clock, so
 * polling adds nothing to it.
 */
export async function measureOneDeploy(guest: Guest, user: string, files: Record<string, string>, message: string, timeoutMs = 60_000): Promise<DeployMeasurement> {
  const before = await userService(guest, user);
  const commit = await commitOnly(guest, files, message);
  const push = await timedPush(guest);
  const after = await eventually(
    `${user}.service to restart after the push of ${commit.slice(0, 7)}`,
    async () => {
      const now = await userService(guest, user);
      return now.active === 'active' && now.invocation !== '' && now.invocation !== before.invocation ? now : undefined;
    },
    timeoutMs,
    100,
  );
  if (after.activeEnterMs === undefined) throw new Error(`no ActiveEnterTimestamp for ${user}.service`);
  return { commit, pushStartedMs: push.startedMs, ms: Math.round(after.activeEnterMs - push.startedMs), invocationBefore: before.invocation, invocationAfter: after.invocation };
}

export function summarize(values: readonly number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)! };
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
