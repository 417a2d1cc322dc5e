// One repository, many hosts (docs/fleet.md): each host's pass deploys its slice; moving
// a workload between roles moves it between hosts; the removal machinery and its guard
// apply to what leaves a host's slice; a host the manifest does not know applies nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { GuardError, ValidationError } from '../../daemon/core/errors';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let hosts: PassHarness[] = [];
afterEach(() => {
  for (const h of hosts) h.cleanup();
  hosts = [];
});

/** A host of the fleet: its own harness (state, fake system) over its own copy of the repository. */
function host(name: string, labels: Record<string, string> = {}): PassHarness {
  const h = new PassHarness({ config: { host: { name, labels } }, memoryTmp: true });
  hosts.push(h);
  return h;
}

const fleet = (web: readonly string[], db: readonly string[]) => `[hosts.alpha]
roles = ["web"]

[hosts.beta]
roles = ["db"]
labels = { zone = "eu-1" }

[roles.web]
workloads = [${web.map((w) => JSON.stringify(w)).join(', ')}]

[roles.db]
workloads = [${db.map((w) => JSON.stringify(w)).join(', ')}]
`;

const tree = (web: readonly string[], db: readonly string[], extra: Record<string, string> = {}) => ({
  'fleet.toml': fleet(web, db),
  'web.container': containerSpec('localhost/web:1', 'Environment=AT={{host}}'),
  'api.container': containerSpec('localhost/api:1'),
  'db.container': containerSpec('localhost/db:1'),
  'cache.container': containerSpec('localhost/cache:1'),
  ...extra,
});

const deployed = (h: PassHarness) => [...h.fake.passwd.keys()].filter((u) => ['web', 'api', 'db', 'cache'].includes(u)).sort();
const quadlet = (h: PassHarness, user: string) => h.fake.files.get(user)?.get(`.config/containers/systemd/${user}.container`)?.content;

describe('a fleet repository', () => {
  it('gives each host exactly its slice, rendered with its name', async () => {
    const [alpha, beta] = [host('alpha'), host('beta')];
    for (const h of [alpha, beta]) h.commit(tree(['web', 'api'], ['db', 'cache']));
    expect((await alpha.pass()).result.exitCode).toBe(0);
    expect((await beta.pass()).result.exitCode).toBe(0);
    expect(deployed(alpha)).toEqual(['api', 'web']);
    expect(deployed(beta)).toEqual(['cache', 'db']);
    expect(quadlet(alpha, 'web')).toContain('Environment=AT=alpha');
  });

  it('moves a workload from one role to another: removed on the host of the first, created on the host of the second', async () => {
    const [alpha, beta] = [host('alpha'), host('beta')];
    for (const h of [alpha, beta]) h.commit(tree(['web', 'api', 'cache'], ['db']));
    await alpha.pass();
    await beta.pass();
    expect([deployed(alpha), deployed(beta)]).toEqual([['api', 'cache', 'web'], ['db']]);

    for (const h of [alpha, beta]) h.commit(tree(['web', 'api'], ['db', 'cache']), 'cache moves to the db role');
    const a = await alpha.pass();
    const b = await beta.pass();
    expect(a.result.items.filter((i) => i.action !== 'unchanged').map((i) => [i.workload, i.action, i.result])).toEqual([['cache', 'remove', 'ok']]);
    expect(b.result.items.filter((i) => i.action !== 'unchanged').map((i) => [i.workload, i.action, i.result])).toEqual([['cache', 'create', 'ok']]);
    expect([deployed(alpha), deployed(beta)]).toEqual([['api', 'web'], ['cache', 'db']]);
  });

  it('lays the host folder over the shared files: its own spec for it alone, and its own workload', async () => {
    const [alpha, beta] = [host('alpha'), host('beta')];
    const files = tree(['web'], ['db'], { 'hosts/beta/db.container': containerSpec('localhost/db:beta'), 'hosts/beta/api.container': containerSpec('localhost/api:beta') });
    for (const h of [alpha, beta]) h.commit(files);
    await alpha.pass();
    const b = await beta.pass();
    expect(b.result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'create', 'ok'],
      ['db', 'create', 'ok'],
    ]);
    expect(deployed(alpha)).toEqual(['web']);
    // api is no role's, but its spec is in hosts/beta/: beta's whatever the roles say.
    expect(deployed(beta)).toEqual(['api', 'db']);
    expect(quadlet(beta, 'db')).toContain('Image=localhost/db:beta');
    expect(quadlet(beta, 'api')).toContain('Image=localhost/api:beta');
  });

  it('refuses, through the mass-removal guard, a manifest change that drops most of a host\'s workloads', async () => {
    const alpha = host('alpha');
    alpha.commit(tree(['web', 'api', 'cache'], ['db']));
    await alpha.pass();
    const before = deployed(alpha);
    alpha.commit(tree(['web'], ['db', 'api', 'cache']), 'most of alpha to beta');
    const error = await alpha.pass().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuardError);
    expect((error as GuardError).message).toContain('removes 2 of 3 workloads');
    expect(deployed(alpha)).toEqual(before);
  });

  it('fails a host the manifest neither names nor selects before changing anything, naming it and the fix', async () => {
    const gamma = host('gamma');
    gamma.commit(tree(['web'], ['db']));
    const before = gamma.fake.calls.length;
    const error = await gamma.pass().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const [problem] = (error as ValidationError).problems;
    expect(problem).toMatchObject({ path: 'fleet.toml', code: 'fleet-unknown-host' });
    expect(problem!.message).toContain('host gamma is not named in fleet.toml');
    expect(problem!.hint).toContain('[hosts.gamma]');
    expect(problem!.hint).toContain('[host] name');
    expect(gamma.fake.callLines().slice(before)).toEqual([]);
  });

  it('gives a host the roles its labels select, its configuration\'s labels included', async () => {
    const gamma = host('gamma', { zone: 'eu-1' });
    gamma.commit(tree(['web'], ['db'], { 'fleet.toml': `${fleet(['web'], ['db'])}\n[roles.eu]\nworkloads = ["cache"]\nselect = { zone = "eu-1" }\n` }));
    expect((await gamma.pass()).result.exitCode).toBe(0);
    expect(deployed(gamma)).toEqual(['cache']);
  });

  it('fails every host on a broken manifest, applying nothing', async () => {
    const alpha = host('alpha');
    alpha.commit(tree(['web', 'ghost'], ['db']));
    const error = await alpha.pass().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).problems.map((p) => [p.path, p.code, p.line])).toEqual([['fleet.toml', 'fleet-unknown-workload', 9]]);
    expect(deployed(alpha)).toEqual([]);
  });

  it('names a problem in the host folder by its repository path', async () => {
    const beta = host('beta');
    beta.commit(tree(['web'], ['db'], { 'hosts/beta/db.container': '[Container]\nPublishPort=80:80\n' }));
    const { result } = await beta.pass();
    expect(result.exitCode).toBe(1);
    const db = result.items.find((i) => i.workload === 'db');
    expect(JSON.stringify(db)).toContain('hosts/beta/db.container');
  });
});
