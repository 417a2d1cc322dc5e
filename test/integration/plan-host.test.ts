// moor plan --host NAME: what a host of a fleet would do with a checkout, from another
// machine, against the status it published (real git, hosts on fake systems).
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../daemon/core/config/schema';
import { exitCodeOfError } from '../../daemon/core/exit-codes';
import { publishStatus } from '../../daemon/pass/fleet-publish';
import { homesOf } from '../../daemon/service/status-publish';
import { runMoor } from '../helpers/cli';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

const harnesses: PassHarness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.cleanup();
});

function host(config: ConfigFile, source?: PassHarness): PassHarness {
  const h = new PassHarness({ config: source ? { ...config, source: { url: source.bare, branch: 'main' } } : config });
  harnesses.push(h);
  return h;
}

async function passAndPublish(h: PassHarness): Promise<number> {
  let exitCode: number;
  try {
    const { result } = await h.pass();
    exitCode = result.exitCode;
    await publishStatus(h.config, result, { log: h.log, homes: (users) => homesOf(h.host(h.fake), users), clock: h.clock });
  } catch (err) {
    exitCode = exitCodeOfError(err);
  }
  return exitCode;
}

const FLEET = (webRole: string[], dbRole: string[]) =>
  `[hosts.alpha]\nroles = ["web"]\n\n[hosts.gamma]\nroles = ["db"]\n\n[roles.web]\nworkloads = ${JSON.stringify(webRole)}\n\n[roles.db]\nworkloads = ${JSON.stringify(dbRole)}\n`;

interface PlanJson {
  schema: number;
  host: string;
  published: { commit: string } | null;
  items: { workload: string; action: string; user: string }[];
  problems: { path: string; code: string }[];
}

function plan(origin: PassHarness, name: string): { code: number | null; json: PlanJson; stderr: string } {
  const r = runMoor(['plan', '--host', name, '--repo', origin.work, '--source', origin.bare, '--transforms', origin.transformsDir, '--json']);
  return { code: r.code, json: r.stdout ? (JSON.parse(r.stdout) as PlanJson) : ({} as PlanJson), stderr: r.stderr };
}

describe('moor plan --host', () => {
  it("compares each workload of the host's slice with what the host published: keep, update, create, remove", async () => {
    const alpha = host({ host: { name: 'alpha' }, fleet: { publish: true, ring: 'canary' } });
    const gamma = host({ host: { name: 'gamma' }, fleet: { publish: true } }, alpha);
    const v1 = alpha.commit({
      'fleet.toml': FLEET(['web', 'api'], ['db', 'cache']),
      'web.container': containerSpec('localhost/web:1'),
      'api.container': containerSpec('localhost/api:1'),
      'db.container': containerSpec('localhost/db:1'),
      'cache.container': containerSpec('localhost/cache:1'),
    });
    expect(await passAndPublish(alpha)).toBe(0);
    expect(await passAndPublish(gamma)).toBe(0);

    // Nothing changed since: every workload of each slice is kept, by hash alone.
    const same = plan(alpha, 'alpha');
    expect(same.code, same.stderr).toBe(0);
    expect(same.json).toMatchObject({ schema: 1, host: 'alpha', published: { commit: v1 }, problems: [] });
    expect(same.json.items.map((i) => [i.workload, i.action])).toEqual([['api', 'keep'], ['web', 'keep']]);

    // The checkout moves on: web changes, db moves from gamma's role to alpha's, and a new
    // workload joins alpha's role. Neither host has run a pass since.
    alpha.files({
      'fleet.toml': FLEET(['web', 'api', 'db', 'queue'], ['cache']),
      'web.container': containerSpec('localhost/web:2'),
      'queue.container': containerSpec('localhost/queue:1'),
    });
    const forAlpha = plan(alpha, 'alpha');
    expect(forAlpha.code, forAlpha.stderr).toBe(0);
    expect(forAlpha.json.items.map((i) => [i.workload, i.action])).toEqual([['api', 'keep'], ['db', 'create'], ['queue', 'create'], ['web', 'update']]);
    const forGamma = plan(alpha, 'gamma');
    expect(forGamma.json.items.map((i) => [i.workload, i.action])).toEqual([['cache', 'keep'], ['db', 'remove']]);
    // People read a table.
    const text = runMoor(['plan', '--host', 'gamma', '--repo', alpha.work, '--source', alpha.bare, '--transforms', alpha.transformsDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^host gamma \(roles db\): published ok at .*, commit [0-9a-f]{12}, generation 1$/m);
    expect(text.stdout).toMatch(/^db\s+remove\s+db\s+-$/m);
  });

  it('a host that never published gets every workload as a create; one fleet.toml does not know has a problem, exit 2', async () => {
    const alpha = host({ host: { name: 'alpha' }, fleet: { publish: true } });
    alpha.files({ 'fleet.toml': FLEET(['web'], ['db']), 'web.container': containerSpec(), 'db.container': containerSpec() });
    const fresh = plan(alpha, 'gamma');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.json.published).toBeNull();
    expect(fresh.json.items.map((i) => [i.workload, i.action])).toEqual([['db', 'create']]);
    const stranger = plan(alpha, 'zeta');
    expect(stranger.code).toBe(2);
    expect(stranger.json.problems.map((p) => [p.path, p.code])).toEqual([['fleet.toml', 'fleet-unknown-host']]);
    expect(stranger.json.items).toEqual([]);
  });

  it("a status branch of the host that cannot be read is a source problem: exit 4, naming the branch", () => {
    const alpha = host({ host: { name: 'alpha' } });
    alpha.commit({ 'fleet.toml': FLEET(['web'], ['db']), 'web.container': containerSpec(), 'db.container': containerSpec() });
    alpha.pushStatusBranch('gamma', '{"schema": 1, "host": "gamma"');
    const r = runMoor(['plan', '--host', 'gamma', '--repo', alpha.work, '--source', alpha.bare, '--transforms', alpha.transformsDir]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('moor-status/gamma: status.json is not JSON');
  });

  it('--repo, --source and --transforms go with --host only; a bad host name is a usage error', () => {
    expect(runMoor(['plan', '--repo', '.']).code).toBe(2);
    const bad = runMoor(['plan', '--host', '../x', '--source', '/nonexistent']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a host name');
  });
});
