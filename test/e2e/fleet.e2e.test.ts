// Three hosts from one repository (docs/fleet.md): alpha, beta and gamma, each a guest of
// its own, share one bare repository (a directory of this machine bound into each). alpha
// and beta have the role "web", gamma the role "db"; alpha is the canary, and beta and
// gamma deploy only what the canary ring published healthy. Each host runs exactly its
// slice, `{{host}}` and `{{label.zone}}` filled in for it; a workload moved from one role
// to the other moves between hosts; `moor check` reports a broken spec for the one host it
// affects; `moor fleet status` lists the three hosts with their commits; a commit that
// fails on the canary is not deployed by beta, and the fixed one is.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, bootGuest, describeExec, leftoverGuests, prepareMoorHost, type Guest } from './guest';

const SHARED = '/srv/fleet';
const BARE = `${SHARED}/desired.git`;
const HOSTS = ['alpha', 'beta', 'gamma'] as const;
type Host = (typeof HOSTS)[number];

const configOf = (name: Host): string => `transforms_dir = "/etc/moor/transforms"

[source]
url = "${BARE}"
branch = "main"

[host]
name = "${name}"

[fleet]
publish = true
${name === 'alpha' ? 'ring = "canary"' : 'ring = "main"\nafter = "canary"'}
`;

const fleetToml = (web: string[], db: string[]) => `[hosts.alpha]
roles = ["web"]
labels = { zone = "eu-1" }

[hosts.beta]
roles = ["web"]
labels = { zone = "us-1" }

[hosts.gamma]
roles = ["db"]

[roles.web]
workloads = ${JSON.stringify(web)}

[roles.db]
workloads = ${JSON.stringify(db)}
`;

const container = (env: string, exec = BUSYBOX_SERVE_FOREVER) => `[Container]
Image=${BUSYBOX_IMAGE}
Environment=${env}
Exec=${exec}

[Service]
Restart=no

[Install]
WantedBy=default.target
`;

const WEB_V1 = container('HOST={{host}} ZONE={{label.zone}} VERSION=1');
const PLAIN = container('ROLE=db');

let shared: string;
const guests = {} as Record<Host, Guest>;

beforeAll(async () => {
  shared = mkdtempSync(join(tmpdir(), 'moor-fleet-'));
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', join(shared, 'desired.git')]);
  for (const name of HOSTS) guests[name] = await prepareMoorHost(await bootGuest({ bind: { [shared]: SHARED } }), configOf(name));
}, 120_000);

afterAll(async () => {
  for (const g of Object.values(guests)) await g?.shutdown();
  if (shared) rmSync(shared, { recursive: true, force: true });
  expect(await leftoverGuests()).toEqual([]);
});

/** Pushes the repository from alpha's work tree into the shared bare repository. */
const push = (files: Record<string, string>, message: string) => guests.alpha.pushRepo(files, { bare: BARE, message });

async function pass(name: Host): Promise<{ code: number | null; exitCode: number | undefined; describe: string }> {
  const { run, pass } = await guests[name].reconcileJson();
  return { code: run.code, exitCode: pass.exitCode, describe: `${name}: ${describeExec(run)}` };
}

/** Which of these users exist on the host. */
async function usersOn(name: Host, users: readonly string[]): Promise<string[]> {
  const present: string[] = [];
  for (const u of users) if ((await guests[name].exec(['getent', 'passwd', u])).code === 0) present.push(u);
  return present;
}

async function active(name: Host, user: string, unit: string): Promise<string> {
  return (await guests[name].userUnit(user, unit, ['ActiveState'])).ActiveState ?? '';
}

async function liveCommit(name: Host): Promise<string> {
  const r = await guests[name].moor(['status', '--json']);
  return (JSON.parse(r.stdout) as { live?: { commit: string } }).live?.commit ?? '';
}

interface FleetJson {
  schema: number;
  tip: string;
  hosts: { host: string; ring: string; commit: string | null; passCommit: string | null; healthy: boolean; failed: string[] }[];
}

const ALL = ['web', 'db', 'cache', 'queue'];

describe('a fleet of three hosts from one repository', () => {
  let v1: string;
  let v2: string;

  it('each host runs exactly its slice; the canary deploys first and the others take what it ran healthy', async () => {
    v1 = await push({ 'fleet.toml': fleetToml(['web'], ['db', 'cache', 'queue']), 'web.container': WEB_V1, 'db.container': PLAIN, 'cache.container': PLAIN, 'queue.container': PLAIN }, 'v1');
    // beta waits for the canary ring: before alpha published anything, it has nothing to take.
    const early = await pass('beta');
    expect(early.code, early.describe).toBe(4);
    expect(early.describe).toContain('canary');
    expect(await usersOn('beta', ALL)).toEqual([]);

    for (const name of HOSTS) {
      const r = await pass(name);
      expect(r.exitCode, r.describe).toBe(0);
    }
    expect(await usersOn('alpha', ALL)).toEqual(['web']);
    expect(await usersOn('beta', ALL)).toEqual(['web']);
    expect(await usersOn('gamma', ALL)).toEqual(['db', 'cache', 'queue']);
    for (const name of ['alpha', 'beta'] as const) expect(await active(name, 'web', 'web.service')).toBe('active');
    for (const user of ['db', 'cache', 'queue']) expect(await active('gamma', user, `${user}.service`)).toBe('active');
    // One spec, each host's values.
    const unitOf = (name: Host) => guests[name].run(['cat', '/home/web/.config/containers/systemd/web.container']).then((r) => r.stdout);
    expect(await unitOf('alpha')).toContain('Environment=HOST=alpha ZONE=eu-1 VERSION=1');
    expect(await unitOf('beta')).toContain('Environment=HOST=beta ZONE=us-1 VERSION=1');
    for (const name of HOSTS) expect(await liveCommit(name)).toBe(v1);
  });

  it('moor fleet status lists the three hosts with their live commits', async () => {
    const r = await guests.gamma.moor(['fleet', 'status', '--json']);
    expect(r.code, describeExec(r)).toBe(0);
    const view = JSON.parse(r.stdout) as FleetJson;
    expect(view.tip).toBe(v1);
    expect(view.hosts.map((h) => [h.host, h.ring, h.commit, h.healthy])).toEqual([
      ['alpha', 'canary', v1, true],
      ['beta', 'main', v1, true],
      ['gamma', 'main', v1, true],
    ]);
    const text = await guests.beta.moor(['fleet', 'status']);
    expect(text.stdout).toMatch(new RegExp(`^gamma\\s+main\\s+${v1.slice(0, 12)}\\s+\\d+\\s+ok\\s+-`, 'm'));
  });

  it('moor check reports a spec that breaks one host under that host alone', async () => {
    // queue.container asks for a label gamma does not have: broken on gamma only.
    const files = { 'fleet.toml': fleetToml(['web', 'queue'], ['db', 'cache', 'queue']), 'web.container': WEB_V1, 'db.container': PLAIN, 'cache.container': PLAIN, 'queue.container': container('ZONE={{label.zone}}') };
    for (const [path, content] of Object.entries(files)) await guests.alpha.writeFile(`/tmp/candidate/${path}`, content);
    const r = await guests.alpha.moor(['check', '/tmp/candidate', '--json']);
    expect(r.code, describeExec(r)).toBe(2);
    const result = JSON.parse(r.stdout) as { hosts: { name: string; problems: { path: string; code: string; line?: number }[] }[] };
    const problems = Object.fromEntries(result.hosts.map((h) => [h.name, h.problems.map((p) => `${p.path}:${p.line}:${p.code}`)]));
    expect(problems).toEqual({ alpha: [], beta: [], gamma: ['queue.container:3:missing-label'] });
    const text = await guests.alpha.moor(['check', '/tmp/candidate']);
    expect(text.stdout).toMatch(/host gamma/);
    expect(text.stdout).toContain('queue.container:3');
  });

  it('a workload moved from one role to the other moves between hosts after the next passes', async () => {
    v2 = await push({ 'fleet.toml': fleetToml(['web', 'cache'], ['db', 'queue']), 'web.container': WEB_V1, 'db.container': PLAIN, 'cache.container': PLAIN, 'queue.container': PLAIN }, 'v2: cache moves to web');
    // From any machine, before the hosts move: what beta and gamma would do.
    const planBeta = await guests.alpha.moor(['plan', '--host', 'beta', '--repo', `${SHARED}/desired-work`, '--json']);
    expect(planBeta.code, describeExec(planBeta)).toBe(0);
    expect((JSON.parse(planBeta.stdout) as { items: { workload: string; action: string }[] }).items.map((i) => [i.workload, i.action])).toEqual([['cache', 'create'], ['web', 'keep']]);

    for (const name of HOSTS) {
      const r = await pass(name);
      expect(r.exitCode, r.describe).toBe(0);
    }
    expect(await usersOn('alpha', ALL)).toEqual(['web', 'cache']);
    expect(await usersOn('beta', ALL)).toEqual(['web', 'cache']);
    expect(await usersOn('gamma', ALL)).toEqual(['db', 'queue']);
    expect(await active('beta', 'cache', 'cache.service')).toBe('active');
  });

  it('a commit that fails on the canary is not deployed by the others; the fixed one is', async () => {
    const invocation = (await guests.beta.userUnit('web', 'web.service', ['InvocationID'])).InvocationID;
    const broken = await push(
      { 'fleet.toml': fleetToml(['web', 'cache'], ['db', 'queue']), 'web.container': container('HOST={{host}} VERSION=3', '/no/such/binary'), 'db.container': PLAIN, 'cache.container': PLAIN, 'queue.container': PLAIN },
      'v3: web broken',
    );
    const canary = await pass('alpha');
    expect(canary.exitCode, canary.describe).toBe(1);

    const held = await pass('beta');
    expect(held.exitCode, held.describe).toBe(0);
    expect(await liveCommit('beta')).toBe(v2);
    expect((await guests.beta.userUnit('web', 'web.service', ['InvocationID'])).InvocationID).toBe(invocation);
    expect((await guests.beta.run(['cat', '/home/web/.config/containers/systemd/web.container'])).stdout).toContain('VERSION=1');

    const view = await guests.beta.moor(['fleet', 'status', '--json']);
    expect(view.code, describeExec(view)).toBe(1);
    const hosts = (JSON.parse(view.stdout) as FleetJson).hosts;
    expect(hosts.find((h) => h.host === 'alpha')).toMatchObject({ healthy: false, passCommit: broken, failed: ['web'] });
    expect(hosts.find((h) => h.host === 'beta')).toMatchObject({ healthy: true, commit: v2 });

    const fixed = await push(
      { 'fleet.toml': fleetToml(['web', 'cache'], ['db', 'queue']), 'web.container': container('HOST={{host}} ZONE={{label.zone}} VERSION=4'), 'db.container': PLAIN, 'cache.container': PLAIN, 'queue.container': PLAIN },
      'v4: web fixed',
    );
    for (const name of ['alpha', 'beta'] as const) {
      const r = await pass(name);
      expect(r.exitCode, r.describe).toBe(0);
      expect(await liveCommit(name)).toBe(fixed);
    }
    expect((await guests.beta.run(['cat', '/home/web/.config/containers/systemd/web.container'])).stdout).toContain('Environment=HOST=beta ZONE=us-1 VERSION=4');
    expect(await active('beta', 'web', 'web.service')).toBe('active');
  });
});
