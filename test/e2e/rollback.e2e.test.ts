// The automatic rollback of a failed update on a real host (docs/operations.md, "When an
// update fails"): a running workload gets a version whose container exits 3 at start; the
// pass exits 1, the previous version runs again (its own container, its environment), and
// `moor status` says rolled back from the failing commit with the cause. The next pass with
// no change leaves it alone; a fixed push applies. Every step reads the guest's own state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, leftoverGuests, type Guest, bootMoorGuest } from './guest';

/** The application's own last words when version 2 starts. */
const FATAL = 'FATAL: config version 2 is not supported';

function app(version: string, exec = BUSYBOX_SERVE_FOREVER): string {
  return `[Unit]
Description=the application, version ${version}

[Container]
Image=${BUSYBOX_IMAGE}
Exec=${exec}
Environment=APP_VERSION=${version}

[Service]
Restart=no

[Install]
WantedBy=default.target
`;
}

const OTHER = `[Container]
Image=${BUSYBOX_IMAGE}
Exec=${BUSYBOX_SERVE_FOREVER}

[Install]
WantedBy=default.target
`;

interface PassJson {
  exitCode: number;
  generation?: number;
  summary: string;
  items: Array<{ workload: string; action: string; result: string; error?: string; reason: string }>;
}

interface StatusJson {
  live?: { generation: number; commit: string };
  workloads: Array<{ workload: string; result?: string; error?: string; appliedCommit?: string; rolledBack?: { commit: string; error: string } }>;
}

let guest: Guest;
const figures: Record<string, string> = {};

beforeAll(async () => {
  guest = await bootMoorGuest();
});

afterAll(async () => {
  await guest?.shutdown();
  if (Object.keys(figures).length) console.log(`rollback figures: ${JSON.stringify(figures)}`);
  expect(await leftoverGuests()).toEqual([]);
});

async function reconcile(): Promise<{ pass: PassJson; why: string; code: number | null }> {
  const cursor = await guest.journalCursor();
  const run = await guest.moor(['reconcile', '--once', '--json']);
  const why = `${describeExec(run)}\n--- guest journal ---\n${await guest.journal({ lines: 80, ...(cursor ? { afterCursor: cursor } : {}) })}`;
  return { pass: JSON.parse(run.stdout) as PassJson, why, code: run.code };
}

const invocation = async () => (await guest.userUnit('app', 'app.service', ['InvocationID'])).InvocationID ?? '';
const activeState = async () => (await guest.systemctlUser('app', ['is-active', 'app.service'])).stdout.trim();

/** The running container's environment, as Podman reports it. */
async function containerEnv(): Promise<string> {
  const r = await guest.asUser('app', ['podman', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', 'systemd-app'], { cwd: '/' });
  expect(r.code, describeExec(r)).toBe(0);
  return r.stdout;
}

async function containerId(): Promise<string> {
  return (await guest.asUser('app', ['podman', 'ps', '--filter', 'name=^systemd-app$', '--format', '{{.ID}}'], { cwd: '/' })).stdout.trim();
}

describe('an update whose container exits 3 at start', () => {
  let c1 = '';
  let c2 = '';
  let before = { invocation: '', container: '' };

  it('version 1 runs', async () => {
    c1 = await guest.pushRepo({ 'app.container': app('1'), 'other.container': OTHER }, { message: 'app v1' });
    const { pass, why, code } = await reconcile();
    expect(code, why).toBe(0);
    expect(pass.items.map((i) => [i.workload, i.result])).toEqual([
      ['app', 'ok'],
      ['other', 'ok'],
    ]);
    expect(await containerEnv()).toContain('APP_VERSION=1');
    before = { invocation: await invocation(), container: await containerId() };
  });

  it('is rolled back: the pass exits 1, version 1 runs again, and status says rolled back from the failing commit', async () => {
    c2 = await guest.pushRepo({ 'app.container': app('2', `/bin/sh -c 'echo "${FATAL}" >&2; exit 3'`), 'other.container': OTHER }, { message: 'app v2' });
    const t0 = Date.now();
    const { pass, why, code } = await reconcile();
    figures['failed update + rollback pass'] = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    expect(code, why).toBe(1);
    const item = pass.items.find((i) => i.workload === 'app')!;
    expect(item, why).toMatchObject({ action: 'update', result: 'rolled-back' });
    expect(item.error, why).toMatch(/app\.service (failed|inactive|keeps failing)/);
    // The cause is the application's own line and how it ended, not the manager's or Podman's noise.
    expect(item.error, why).toContain(FATAL);
    expect(item.error, why).toContain('main process exited with status 3');
    expect(item.error, why).not.toMatch(/Killing process|podman pause|container died/);
    expect(pass.summary).toContain('1 rolled back (app)');
    expect(pass.items.find((i) => i.workload === 'other')).toMatchObject({ action: 'unchanged', result: 'ok' });

    // The guest runs version 1 again: a new start of the unit, a new container, its environment.
    expect(await activeState()).toBe('active');
    expect(await invocation()).not.toBe(before.invocation);
    const env = await containerEnv();
    expect(env).toContain('APP_VERSION=1');
    expect(env).not.toContain('APP_VERSION=2');
    expect(await containerId()).not.toBe(before.container);
    expect(await guest.readFile('/home/app/.config/containers/systemd/app.container')).toContain('Environment=APP_VERSION=1');

    const json = await guest.moor(['status', '--json']);
    expect(json.code, describeExec(json)).toBe(1);
    const status = JSON.parse(json.stdout) as StatusJson;
    const row = status.workloads.find((w) => w.workload === 'app')!;
    expect(row, json.stdout).toMatchObject({ result: 'rolled-back', appliedCommit: c1, rolledBack: { commit: c2 } });
    expect(row.error, json.stdout).toContain(FATAL);
    const text = await guest.moor(['status']);
    expect(text.code, describeExec(text)).toBe(1);
    const line = text.stdout.split('\n').find((l) => l.startsWith('app '));
    expect(line, text.stdout).toContain(`rolled-back from ${c2.slice(0, 12)}`);
    expect(line, text.stdout).toContain(c1.slice(0, 12));
    expect(text.stdout).toContain(FATAL);
  });

  it('a pass with no change leaves it as it runs: exit 1, kept, no restart', async () => {
    const running = { invocation: await invocation(), container: await containerId() };
    const { pass, why, code } = await reconcile();
    expect(code, why).toBe(1);
    expect(pass.generation, why).toBeUndefined();
    expect(pass.items.find((i) => i.workload === 'app'), why).toMatchObject({ action: 'keep', result: 'rolled-back' });
    expect(pass.items.find((i) => i.workload === 'app')!.reason).toContain(`rolled back from ${c2.slice(0, 12)}`);
    expect(await invocation()).toBe(running.invocation);
    expect(await containerId()).toBe(running.container);
    expect(await activeState()).toBe('active');
  });

  it('a fixed push applies, and status exits 0 again', async () => {
    const c3 = await guest.pushRepo({ 'app.container': app('3'), 'other.container': OTHER }, { message: 'app v3' });
    const { pass, why, code } = await reconcile();
    expect(code, why).toBe(0);
    expect(pass.items.find((i) => i.workload === 'app')).toMatchObject({ action: 'update', result: 'ok' });
    expect(await containerEnv()).toContain('APP_VERSION=3');
    const json = await guest.moor(['status', '--json']);
    expect(json.code, describeExec(json)).toBe(0);
    const row = (JSON.parse(json.stdout) as StatusJson).workloads.find((w) => w.workload === 'app')!;
    expect(row).toMatchObject({ result: 'ok', appliedCommit: c3 });
    expect(row.rolledBack).toBeUndefined();
  });
});
