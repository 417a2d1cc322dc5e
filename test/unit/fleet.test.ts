// fleet.toml, per-host folders and a host's slice (docs/fleet.md): each problem of the
// manifest with its line, the overlay of hosts/<name>/, which workloads a host is given.
import { describe, expect, it } from 'vitest';
import { discover } from '../../daemon/core/discovery';
import { validateTree } from '../../daemon/core/desired';
import {
  fleetLayoutProblems,
  fleetWorkloads,
  overlayHostFolder,
  parseFleetManifest,
  readFleetManifest,
  sliceFor,
  unassignedWorkloads,
  type FleetManifest,
} from '../../daemon/core/fleet';
import { emptyTransformSet } from '../../daemon/core/transforms';
import type { DiscoveryOptions, TreeEntry } from '../../daemon/core/types';

const opts: DiscoveryOptions = { userPrefix: '', maxFileBytes: 1 << 20 };
const file = (path: string, content = `# ${path}\n`): TreeEntry => ({ path, type: 'file', size: Buffer.byteLength(content), content });
const dir = (path: string): TreeEntry => ({ path, type: 'dir', size: 0 });
const spec = (image: string) => `[Container]\nImage=${image}\n`;

function manifest(text: string): FleetManifest {
  const r = parseFleetManifest(text);
  expect(r.problems).toEqual([]);
  return r.manifest!;
}

const FLEET = `[hosts.alpha]
roles = ["web", "extras"]
labels = { zone = "eu-1" }

[hosts.beta]
roles = ["web"]

[roles.web]
workloads = ["web"]
groups = ["apps"]

[roles.extras]
workloads = ["extra"]

[roles.eu]
workloads = ["cache"]
select = { zone = "eu-1" }
`;

const TREE: TreeEntry[] = [
  file('fleet.toml', FLEET),
  file('web.container', spec('localhost/web:1')),
  file('extra.container', spec('localhost/extra:1')),
  file('cache.container', spec('localhost/cache:1')),
  dir('apps'),
  file('apps/.moor-no-transform', ''),
  file('apps/api.container', spec('localhost/api:1')),
  file('apps/api.env', 'A=shared\n'),
  dir('hosts'),
  dir('hosts/beta'),
  file('hosts/beta/web.container', spec('localhost/web:beta')),
  dir('hosts/beta/apps'),
  file('hosts/beta/apps/api.env', 'A=beta\n'),
  file('hosts/beta/only-beta.container', spec('localhost/only:1')),
];

describe('fleet.toml', () => {
  it('reads hosts, their roles and labels, and roles with workloads, groups and select', () => {
    const m = manifest(FLEET);
    expect(m.hosts).toEqual([
      { name: 'alpha', roles: ['web', 'extras'], labels: { zone: 'eu-1' } },
      { name: 'beta', roles: ['web'], labels: {} },
    ]);
    expect(m.roles.map((r) => [r.name, r.workloads, r.groups, r.select])).toEqual([
      ['web', ['web'], ['apps'], {}],
      ['extras', ['extra'], [], {}],
      ['eu', ['cache'], [], { zone: 'eu-1' }],
    ]);
  });

  it.each([
    ['a syntax error', '[hosts.alpha]\nroles = = ["web"]\n', 'fleet-syntax', 2],
    ['an unknown key of a host', '[hosts.alpha]\nroles = []\nrole = ["web"]\n', 'fleet-unknown-key', 3],
    ['an unknown key of a role', '[roles.web]\nworkload = ["web"]\n', 'fleet-unknown-key', 2],
    ['an unknown top-level table', '[roles.web]\n\n[host.alpha]\nroles = []\n', 'fleet-unknown-key', 3],
    ['roles that are not a list', '[hosts.alpha]\nroles = "web"\n[roles.web]\n', 'fleet-invalid', 2],
    ['a role no [roles.X] defines', '[hosts.alpha]\nlabels = {}\nroles = ["web", "dbb"]\n[roles.web]\n', 'fleet-unknown-role', 3],
    ['a host name that is not one', '[hosts.Alpha_1]\nroles = []\n', 'fleet-bad-name', 1],
    ['a role name that is not one', '[roles."web server"]\n', 'fleet-bad-name', 1],
    ['a label value with a space', '[hosts.alpha]\nlabels = { zone = "eu 1" }\n', 'fleet-bad-label', 2],
    ['a selector key that is no label key', '[roles.web]\n\nselect = { Zone = "eu" }\n', 'fleet-bad-label', 3],
  ])('refuses %s with its line', (_what, text, code, line) => {
    const r = parseFleetManifest(text);
    expect(r.manifest).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ path: 'fleet.toml', code, line });
    expect(r.problems[0]!.workload).toBeUndefined();
    expect(r.problems[0]!.hint).toBeTruthy();
  });

  it('names the missing role and the host that has it', () => {
    const [p] = parseFleetManifest('[hosts.alpha]\nroles = ["dbb"]\n').problems;
    expect(p!.message).toBe('host alpha has role "dbb", which no [roles.dbb] defines');
  });

  it('is absent from a single-host repository, and an unreadable one is a problem', () => {
    expect(readFleetManifest([file('web.container', spec('x'))])).toEqual({ problems: [] });
    expect(readFleetManifest([{ path: 'fleet.toml', type: 'symlink', size: 3 }]).problems[0]).toMatchObject({ code: 'fleet-unreadable' });
  });
});

describe('the layout as a whole', () => {
  const m = manifest(FLEET);

  it('holds no problem when every name exists and every folder is a host', () => {
    expect(fleetLayoutProblems(TREE, m, fleetWorkloads(TREE, m, opts))).toEqual([]);
  });

  it('names a role workload or group the tree lacks, at the line of the list', () => {
    const broken = manifest(`${FLEET}\n[roles.more]\nworkloads = ["ghost"]\ngroups = ["nogroup"]\n`);
    const problems = fleetLayoutProblems(TREE, broken, fleetWorkloads(TREE, broken, opts));
    expect(problems.map((p) => [p.code, p.line])).toEqual([
      ['fleet-unknown-workload', 20],
      ['fleet-unknown-group', 21],
    ]);
    expect(problems[0]!.message).toContain('"ghost"');
  });

  it('counts a workload that only a host folder holds as existing', () => {
    const more = manifest(`${FLEET}\n[roles.b]\nworkloads = ["only-beta"]\n`);
    expect(fleetLayoutProblems(TREE, more, fleetWorkloads(TREE, more, opts))).toEqual([]);
  });

  it('reads a folder\'s file beside a shared spec as discovery does: a pod member or a .kube of a container is no workload', () => {
    const tree = [...TREE, file('shop.pod', '[Pod]\n'), file('hosts/beta/shop-web.container', spec('x')), file('hosts/beta/web-extra.kube', '[Kube]\nYaml=x.yaml\n')];
    const m2 = manifest(`${FLEET}\n[roles.x]\nworkloads = ["shop-web", "web-extra", "shop"]\n`);
    const known = fleetWorkloads(tree, m2, opts);
    expect(known.workloads.filter((w) => w.folder === 'beta').map((w) => w.name).sort()).toEqual(['only-beta', 'web']);
    expect(fleetLayoutProblems(tree, m2, known).map((p) => p.message)).toEqual([
      'role x names workload "shop-web", which the repository does not hold',
      'role x names workload "web-extra", which the repository does not hold',
    ]);
  });

  it('refuses a folder of a host the manifest does not name, and a file directly in hosts/', () => {
    const tree = [...TREE, file('hosts/gamma/web.container', spec('x')), file('hosts/notes.txt', 'x'), file('hosts/.gitkeep', ''), file('hosts/README.md', 'x')];
    expect(fleetLayoutProblems(tree, m, fleetWorkloads(tree, m, opts)).map((p) => [p.code, p.path])).toEqual([
      ['fleet-unknown-host-folder', 'hosts/gamma/'],
      ['fleet-hosts-file', 'hosts/notes.txt'],
    ]);
  });

  it('finds a workload no host is given, and not one parked in a role no host has', () => {
    const tree = [...TREE, file('lost.container', spec('x')), file('parked.container', spec('x'))];
    const parked = manifest(`${FLEET}\n[roles.parking]\nworkloads = ["parked"]\n`);
    const problems = unassignedWorkloads(parked, fleetWorkloads(tree, parked, opts));
    expect(problems.map((p) => [p.code, p.workload])).toEqual([['unassigned-workload', 'lost']]);
    // parked runs nowhere too, but on purpose: a role names it.
    expect(problems[0]!.hint).toContain('park');
  });
});

describe('a host folder laid over the shared tree', () => {
  it('replaces, adds and drops: its files win, other hosts and fleet.toml are gone', () => {
    const { entries, fromFolder } = overlayHostFolder(TREE, 'beta');
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect([...byPath.keys()].sort()).toEqual(['apps', 'apps/.moor-no-transform', 'apps/api.container', 'apps/api.env', 'cache.container', 'extra.container', 'only-beta.container', 'web.container']);
    expect(byPath.get('web.container')!.content).toBe(spec('localhost/web:beta'));
    expect(byPath.get('apps/api.env')!.content).toBe('A=beta\n');
    expect([...fromFolder].sort()).toEqual(['apps/api.env', 'only-beta.container', 'web.container']);
    // alpha has no folder: the shared files alone.
    expect(overlayHostFolder(TREE, 'alpha').entries.find((e) => e.path === 'web.container')!.content).toBe(spec('localhost/web:1'));
  });
});

describe('ignores in a fleet', () => {
  it('apply the root .moorignore to the tree a host sees, its folder\'s files included', () => {
    const m = manifest('[hosts.beta]\nroles = ["web"]\n[roles.web]\nworkloads = ["web"]\n');
    const tree = [file('fleet.toml', m.text), file('.moorignore', '*.bak\n'), file('web.container', spec('x')), file('hosts/beta/web.bak', 'old'), file('hosts/beta/notes.md', 'x')];
    const slice = sliceFor(tree, m, { name: 'beta', labels: {} });
    const d = discover(slice.entries, opts);
    expect(d.problems).toEqual([]);
    expect(d.workloads.map((w) => [w.name, w.companions.length])).toEqual([['web', 0]]);
  });
});

describe('sliceFor', () => {
  const m = manifest(FLEET);
  const names = (host: string, labels: Record<string, string> = {}) => {
    const slice = sliceFor(TREE, m, { name: host, labels });
    return slice.select(discover(slice.entries, opts)).workloads.map((w) => w.name).sort();
  };

  it('gives each host its roles\' workloads, their groups\' workloads and its own folder\'s', () => {
    // alpha: web + apps/api (web), extra (extras), cache (eu, selected by zone=eu-1).
    expect(names('alpha')).toEqual(['api', 'cache', 'extra', 'web']);
    // beta: web + api (web), only-beta from hosts/beta/ whatever the roles say.
    expect(names('beta')).toEqual(['api', 'only-beta', 'web']);
  });

  it('adds the roles a host\'s own labels select, its config\'s labels winning over the manifest\'s', () => {
    expect(names('beta', { zone: 'eu-1' })).toContain('cache');
    expect(names('alpha', { zone: 'us-1' })).not.toContain('cache');
    const slice = sliceFor(TREE, m, { name: 'alpha', labels: { zone: 'us-1', rack: '7' } });
    expect(slice.host.labels).toEqual({ zone: 'us-1', rack: '7' });
    expect(slice.roles).toEqual(['web', 'extras']);
  });

  it('knows a host the manifest neither names nor selects as not in the fleet', () => {
    expect(sliceFor(TREE, m, { name: 'gamma', labels: {} }).inFleet).toBe(false);
    const selected = sliceFor(TREE, m, { name: 'gamma', labels: { zone: 'eu-1' } });
    expect([selected.inFleet, selected.roles]).toEqual([true, ['eu']]);
  });

  it('names a file of the host folder by its repository path', () => {
    const slice = sliceFor(TREE, m, { name: 'beta', labels: {} });
    expect(slice.repoPath('web.container')).toBe('hosts/beta/web.container');
    expect(slice.repoPath('apps/api.container')).toBe('apps/api.container');
  });

  it('is the whole tree, every workload, without a manifest', () => {
    const tree = TREE.filter((e) => e.path !== 'fleet.toml' && !e.path.startsWith('hosts'));
    const slice = sliceFor(tree, undefined, { name: 'any', labels: {} });
    expect(slice.entries).toEqual(tree);
    expect(slice.select(discover(slice.entries, opts)).workloads.map((w) => w.name).sort()).toEqual(['api', 'cache', 'extra', 'web']);
  });

  it('needs no transform for a group the host deploys nothing of', () => {
    const tree = TREE.filter((e) => e.path !== 'apps/.moor-no-transform');
    const bare = manifest('[hosts.alpha]\nroles = ["solo"]\n[hosts.beta]\nroles = ["web"]\n[roles.solo]\nworkloads = ["web"]\n[roles.web]\ngroups = ["apps"]\n');
    const tree1 = tree.map((e) => (e.path === 'fleet.toml' ? file('fleet.toml', bare.text) : e));
    const check = (host: string) => {
      const slice = sliceFor(tree1, bare, { name: host, labels: {} });
      return validateTree(slice.select(discover(slice.entries, opts)), emptyTransformSet(), [], slice.host).tree.map((p) => p.code);
    };
    expect(check('alpha')).toEqual([]);
    expect(check('beta')).toEqual(['unknown-group']);
  });
});
