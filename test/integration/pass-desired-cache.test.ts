// What the daemon's passes keep of step 2 between them (pass/desired-cache.ts): a pass over
// the commit, config and transforms the last one read neither checks the tree out nor
// reads it again; anything else that changed is read in full, and what is judged per pass
// (the fetch, the trust check) still runs every time.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrustError } from '../../daemon/core/errors';
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
