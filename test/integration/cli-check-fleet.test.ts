// moor check on a fleet repository (docs/fleet.md#checking-a-fleet): every host fleet.toml
// names, each slice rendered with that host's name and labels; a problem is reported for
// the host it affects; --host checks one.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMoor } from '../helpers/cli';

const root = mkdtempSync(join(tmpdir(), 'moor-cli-check-fleet-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
writeFileSync(join(root, 'config.toml'), '');
const base = ['--config', join(root, 'config.toml')];
const transforms = join(root, 'transforms');
mkdirSync(transforms);

let n = 0;
function repo(files: Record<string, string>): string {
  const dir = join(root, `repo${n++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const container = (image: string, extra = '') => `[Container]\nImage=${image}\n${extra}`;
const FLEET = `[hosts.alpha]
roles = ["web"]
labels = { zone = "eu-1" }

[hosts.beta]
roles = ["web", "db"]
labels = { zone = "us-1" }

[roles.web]
workloads = ["web"]

[roles.db]
workloads = ["db"]
`;
const good = { 'fleet.toml': FLEET, 'web.container': container('localhost/web:1', 'Environment=ZONE={{label.zone}} HOST={{host}}\n'), 'db.container': container('localhost/db:1') };

interface HostOut {
  name: string;
  roles: string[];
  labels: Record<string, string>;
  workloads: { name: string; valid: boolean; files: string[] }[];
  problems: { path: string; line?: number; code: string; message: string }[];
}
interface Out {
  schema: number;
  ok: boolean;
  workloads: { name: string; valid: boolean }[];
  problems: { path: string; code: string }[];
  hosts: HostOut[];
}

function check(dir: string, ...args: string[]): { code: number | null; out: Out; stderr: string } {
  const r = runMoor([...base, 'check', dir, '--transforms', transforms, '--json', ...args]);
  return { code: r.code, out: JSON.parse(r.stdout) as Out, stderr: r.stderr };
}

describe('moor check on a fleet', () => {
  it('checks every host the manifest names, each with its roles, labels and workloads', () => {
    const { code, out } = check(repo(good));
    expect(code).toBe(0);
    expect(Object.keys(out)[0]).toBe('schema');
    expect(out.ok).toBe(true);
    expect(out.hosts.map((h) => [h.name, h.roles, h.labels, h.workloads.map((w) => w.name)])).toEqual([
      ['alpha', ['web'], { zone: 'eu-1' }, ['web']],
      ['beta', ['web', 'db'], { zone: 'us-1' }, ['db', 'web']],
    ]);
    expect(out.workloads.map((w) => w.name)).toEqual(['db', 'web']);
  });

  it('reports a label only one host lacks for that host alone, and exits 2', () => {
    const fleet = FLEET.replace('labels = { zone = "us-1" }\n', '');
    const { code, out } = check(repo({ ...good, 'fleet.toml': fleet }));
    expect(code).toBe(2);
    expect(out.ok).toBe(false);
    expect(out.problems).toEqual([]);
    const [alpha, beta] = out.hosts;
    expect(alpha!.problems).toEqual([]);
    expect(beta!.problems.map((p) => [p.path, p.line, p.code])).toEqual([['web.container', 3, 'missing-label']]);
    expect(beta!.problems[0]!.message).toContain('host beta has no label "zone"');
    expect(beta!.workloads.find((w) => w.name === 'web')!.valid).toBe(false);
  });

  it('reports a broken override in hosts/beta/ for beta alone, by its repository path', () => {
    const { code, out } = check(repo({ ...good, 'hosts/beta/web.container': '[Container]\nPublishPort=80:80\n' }));
    expect(code).toBe(2);
    expect(out.hosts[0]!.problems).toEqual([]);
    expect(out.hosts[1]!.problems.map((p) => [p.path, p.code])).toEqual([['hosts/beta/web.container', 'missing-image']]);
  });

  it('says a problem of the tree once, and a workload no role gives', () => {
    const { code, out } = check(repo({ ...good, 'orphan-x.service': '[Service]\nExecStart=/bin/true\n', 'lost.container': container('localhost/lost:1') }));
    expect(code).toBe(2);
    expect(out.problems.map((p) => [p.path, p.code])).toEqual([
      ['fleet.toml', 'unassigned-workload'],
      ['orphan-x.service', 'orphan'],
    ]);
    expect(out.hosts.map((h) => h.problems)).toEqual([[], []]);
  });

  it('reports a fleet.toml problem with its line, checking no host', () => {
    const { code, out } = check(repo({ ...good, 'fleet.toml': FLEET.replace('roles = ["web", "db"]', 'roles = ["web", "dbb"]') }));
    expect(code).toBe(2);
    expect(out.problems).toEqual([expect.objectContaining({ path: 'fleet.toml', line: 6, code: 'fleet-unknown-role' })]);
    expect(out.hosts).toEqual([]);
  });

  it('checks one host with --host, and a host the manifest does not name with the labels --label gives it', () => {
    const one = check(repo(good), '--host', 'beta');
    expect(one.code).toBe(0);
    expect(one.out.hosts.map((h) => h.name)).toEqual(['beta']);

    const fleet = `${FLEET}\n[roles.eu]\nworkloads = ["cache"]\nselect = { zone = "eu-1" }\n`;
    const dir = repo({ ...good, 'fleet.toml': fleet, 'cache.container': container('localhost/cache:1') });
    const gamma = check(dir, '--host', 'gamma', '--label', 'zone=eu-1');
    expect(gamma.code).toBe(0);
    expect(gamma.out.hosts.map((h) => [h.name, h.roles, h.workloads.map((w) => w.name)])).toEqual([['gamma', ['eu'], ['cache']]]);
    const unknown = check(dir, '--host', 'gamma');
    expect(unknown.code).toBe(2);
    expect(unknown.out.hosts[0]!.problems.map((p) => p.code)).toEqual(['fleet-unknown-host']);
  });

  it('prints each host\'s problems under its name', () => {
    const fleet = FLEET.replace('labels = { zone = "us-1" }\n', '');
    const r = runMoor([...base, 'check', repo({ ...good, 'fleet.toml': fleet }), '--transforms', transforms]);
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('host alpha (roles web): ok, 1 workload');
    expect(lines[2]).toMatch(/^host beta \(roles web, db\): 1 problem; 1 of 2 workloads valid$/);
    expect(lines[3]).toMatch(/^ {2}web\.container:3: Environment= in \[Container\] uses \{\{label\.zone\}\}, but host beta has no label "zone"/);
  });

  it('leaves a repository without fleet.toml as it was: hosts/ is a group, no hosts key', () => {
    const r = runMoor([...base, 'check', repo({ 'web.container': container('localhost/web:1', 'Environment=HOST={{host}}\n'), 'hosts/.moor-no-transform': '', 'hosts/db.container': container('localhost/db:1') }), '--transforms', transforms, '--json', '--host', 'solo']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Out;
    expect(out.hosts).toBeUndefined();
    expect(out.workloads.map((w) => w.name)).toEqual(['db', 'web']);
  });
});

describe('moor render on a fleet', () => {
  const dir = repo({ ...good, 'hosts/beta/db.container': container('localhost/db:beta') });
  const render = (file: string, ...args: string[]) => runMoor([...base, 'render', join(dir, file), '--repo', dir, '--transforms', transforms, ...args]);

  it('renders a shared spec for the host --host names, with its name and the manifest\'s labels', () => {
    const r = render('web.container', '--host', 'alpha');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Environment=ZONE=eu-1 HOST=alpha');
  });

  it('renders a file of hosts/NAME/ for NAME, and says so when a shared file is replaced there', () => {
    const own = render('hosts/beta/db.container', '--json');
    expect(own.code).toBe(0);
    expect(JSON.parse(own.stdout)).toMatchObject({ file: 'hosts/beta/db.container', workload: 'db', identity: { host: 'beta', labels: { zone: 'us-1' } } });
    const shared = render('db.container', '--host', 'beta');
    expect(shared.stdout).toContain('Image=localhost/db:beta');
    expect(shared.stderr).toContain('host beta has its own hosts/beta/db.container');
    expect(render('hosts/beta/db.container', '--host', 'alpha').code).toBe(2);
  });
});
