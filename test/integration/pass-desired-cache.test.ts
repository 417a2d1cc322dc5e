// What the daemon's passes keep of step 2 between them (pass/desired-cache.ts): a pass over
// the commit, config and transforms the last one read neither checks the tree out nor
// reads it again; anything else that changed is read in full, and what is judged per pass
// (the fetch, the trust check) still runs every time.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrustError } from '../../daemon/core/errors';
import { desiredFromRepo, type DesiredState } from '../../daemon/pass/desired-source';
import { PassHarness, containerSpec, git } from '../helpers/pass-harness';
import { allowedSigners, signedCommit, sshKey } from '../helpers/signing';

const SPEC = '.config/containers/systemd/web.container';
let h: PassHarness;

beforeEach(() => {
  h = new PassHarness({ desiredCache: true });
});
afterEach(() => h.cleanup());

/** The parts of step 2 a pass ran, in order. */
async function step2(): Promise<{ exitCode: number; parts: string[] }> {
  const { result, profile } = await h.profiledPass();
  return { exitCode: result.exitCode, parts: profile.steps.map((s) => s.name).filter((n) => n.startsWith('desired.')) };
}

describe('the desired-state cache', () => {
  it('reads a commit once: the next pass over it fetches and reads the transforms, nothing else', async () => {
    h.commit({ 'web.container': containerSpec() });
    expect(await step2()).toEqual({ exitCode: 0, parts: ['desired.fetch', 'desired.transforms', 'desired.scan', 'desired.discover', 'desired.validate'] });
    expect(await step2()).toEqual({ exitCode: 0, parts: ['desired.fetch', 'desired.transforms'] });

    // Without the cache (as `moor reconcile --once` runs), every pass reads the tree.
    const once = new PassHarness();
    try {
      once.commit({ 'web.container': containerSpec() });
      await once.pass();
      const { profile } = await once.profiledPass();
      expect(profile.steps.map((s) => s.name)).toContain('desired.scan');
    } finally {
      once.cleanup();
    }
  });

  it('reads a new commit in full and applies it', async () => {
    h.commit({ 'web.container': containerSpec() });
    await h.pass();
    h.commit({ 'web.container': containerSpec('localhost/web:2') });
    expect((await step2()).parts).toContain('desired.scan');
    expect(h.fake.userFiles('web').get(SPEC)?.content).toBe(containerSpec('localhost/web:2'));
  });

  it('reads the tree again when the transforms change, from a checkout made exact first', async () => {
    h.commit({ 'web.container': containerSpec() });
    await h.pass();
    await h.pass();
    // Something wrote into the checkout since it was read (the tree is not read on a hit):
    // a pass that must read it again resets it to the commit first.
    appendFileSync(join(h.stateDir, 'checkout', 'web.container'), 'Environment=STRAY=1\n');
    writeFileSync(join(h.stateDir, 'checkout', 'stray.container'), containerSpec());
    writeFileSync(join(h.transformsDir, '_base.container'), '[Container]\nLabel=a=b\n');
    const { exitCode, parts } = await step2();
    expect(exitCode).toBe(0);
    expect(parts).toEqual(['desired.fetch', 'desired.transforms', 'desired.checkout', 'desired.scan', 'desired.discover', 'desired.validate']);
    const spec = h.fake.userFiles('web').get(SPEC)?.content ?? '';
    expect(spec).toContain('Label=a=b');
    expect(spec).not.toContain('STRAY');
    expect(h.fake.passwd.has('stray')).toBe(false);
  });

  it('reads the tree again under a new config (a reload)', async () => {
    h.commit({ 'web.container': containerSpec() });
    await h.pass();
    h.config = h.makeConfig({ protected_users: ['web'] });
    const { result, profile } = await h.profiledPass();
    expect(profile.steps.map((s) => s.name)).toContain('desired.scan');
    // The new config is the one judged: web is now a protected name.
    expect(JSON.stringify(result.items)).toContain('would run as the protected user web');
  });

  it('still judges the trust of a commit it has read: a signer removed since is refused', async () => {
    const keys = join(h.root, 'keys');
    mkdirSync(keys);
    const ops = sshKey(keys, 'ops');
    const signers = allowedSigners(join(keys, 'allowed_signers'), [['ops@example.org', ops]]);
    h.config = h.makeConfig({ trust: { allowed_signers: signers } });
    h.files({ 'web.container': containerSpec() });
    signedCommit(h.work, ops);
    git(h.work, 'push', '-q', '--force', 'origin', 'HEAD:refs/heads/main');
    expect((await h.pass()).result.exitCode).toBe(0);
    expect((await step2()).parts).toEqual(['desired.fetch', 'desired.transforms']);

    writeFileSync(signers, '');
    await expect(h.pass()).rejects.toBeInstanceOf(TrustError);
  });
});

describe('a new commit read with the last one in memory', () => {
  const account = (name: string) => ({ name, user: name, uid: '1500', home: `/home/${name}` });
  const renderOf = (d: DesiredState, name: string) => d.workloads.find((w) => w.name === name)!.render(account(name));
  const read = () => desiredFromRepo(h.config, undefined, undefined, undefined, h.desiredCache);

  it('renders again only the workloads whose files changed: the others keep the render of the last commit', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    const first = await read();
    const [web, api] = [renderOf(first, 'web'), renderOf(first, 'api')];
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:2') });
    const second = await read();
    expect(second.commit).not.toBe(first.commit);
    expect(renderOf(second, 'web')).toBe(web);
    expect(renderOf(second, 'api')).not.toBe(api);
    expect(renderOf(second, 'api').files[0]?.content).toContain('Image=localhost/api:2');
    // The same key under another account is rendered for that account.
    expect(second.workloads.find((w) => w.name === 'web')!.render({ ...account('web'), uid: '1600' })).not.toBe(web);
  });

  it('judges a workload whose spec turned invalid in the new commit, and applies the one kept', async () => {
    h.commit({ 'web.container': containerSpec(), 'api.container': containerSpec('localhost/api:1') });
    expect((await h.pass()).result.exitCode).toBe(0);
    h.commit({ 'web.container': '[Container]\nExec=/bin/web\n', 'api.container': containerSpec('localhost/api:2') });
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'update', 'ok'],
      ['web', 'skip', 'failed'],
    ]);
    expect(result.items[1]?.error).toContain('web.container has no Image= or Rootfs= in [Container]');
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'api.container': containerSpec('localhost/api:2') });
    expect((await h.pass()).result.exitCode).toBe(0);
    expect(h.fake.userFiles('web').get(SPEC)?.content).toBe(containerSpec('localhost/web:2'));
  });

  it('sees a change to a companion file alone, its spec unchanged', async () => {
    h.commit({ 'web.container': containerSpec(), 'web.env': 'A=1\n' });
    await h.pass();
    h.commit({ 'web.container': containerSpec(), 'web.env': 'A=2\n' });
    const { result } = await h.pass();
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([['web', 'update', 'ok']]);
    expect([...h.fake.userFiles('web').values()].map((f) => f.content)).toContain('A=2\n');
  });

  it('sees an unchanged spec moved into a group: rendered with the group\'s transform', async () => {
    writeFileSync(join(h.transformsDir, 'apps.container'), '[Container]\nLabel=group=apps\n');
    h.commit({ 'web.container': containerSpec() });
    expect((await h.pass()).result.exitCode).toBe(0);
    expect(h.fake.userFiles('web').get(SPEC)?.content).not.toContain('group=apps');
    h.commit({ 'apps/web.container': containerSpec() });
    const { result } = await h.pass();
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([['web', 'update', 'ok']]);
    expect(h.fake.userFiles('web').get(SPEC)?.content).toContain('Label=group=apps');
  });

  it('renders an unchanged spec again when the host it is rendered for changed: a label in fleet.toml', async () => {
    h.config = h.makeConfig({ host: { name: 'alpha' } });
    writeFileSync(join(h.transformsDir, '_base.container'), '[Container]\nEnvironment=ZONE={{label.zone}}\n');
    const fleet = (zone: string) => `[hosts.alpha]\nroles = ["all"]\nlabels = { zone = "${zone}" }\n\n[roles.all]\nworkloads = ["web"]\n`;
    h.commit({ 'fleet.toml': fleet('eu-1'), 'web.container': containerSpec() });
    expect((await h.pass()).result.exitCode).toBe(0);
    expect(h.fake.userFiles('web').get(SPEC)?.content).toContain('ZONE=eu-1');
    h.commit({ 'fleet.toml': fleet('eu-2'), 'web.container': containerSpec() });
    expect((await h.pass()).result.exitCode).toBe(0);
    expect(h.fake.userFiles('web').get(SPEC)?.content).toContain('ZONE=eu-2');
  });

  it('reuses nothing under a new config: a policy loaded with the new commit judges the unchanged workload too', async () => {
    h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:1') });
    expect((await h.pass()).result.exitCode).toBe(0);
    h.config = h.makeConfig({ policy: { images: ['localhost/api:*'] } });
    h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:2') });
    const { result } = await h.pass();
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'update', 'ok'],
      ['web', 'skip', 'failed'],
    ]);
    expect(result.items[1]?.error).toContain('localhost/web:1');
  });

  it('reuses nothing under new transforms: the unchanged workload gets the new transform', async () => {
    writeFileSync(join(h.transformsDir, '_base.container'), '[Container]\nLabel=a=a\n');
    h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:1') });
    await h.pass();
    writeFileSync(join(h.transformsDir, '_base.container'), '[Container]\nLabel=a=b\n');
    h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:2') });
    expect((await h.pass()).result.exitCode).toBe(0);
    expect(h.fake.userFiles('web').get(SPEC)?.content).toContain('Label=a=b');
  });
});
