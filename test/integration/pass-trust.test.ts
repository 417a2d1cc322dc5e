// [trust] in a real pass: commits signed by real SSH and OpenPGP keys, verified by git
// against the configured signers alone; a refused tip changes nothing and exits 4; a
// force-push to an older history is refused unless allowed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrustError } from '../../daemon/core/errors';
import { exitCodeOfError } from '../../daemon/core/exit-codes';
import { generationRows, statusReport } from '../../daemon/state/reports';
import { runMoor } from '../helpers/cli';
import { PassHarness, containerSpec, git } from '../helpers/pass-harness';
import { allowedSigners, exportGpgKey, gpgKey, signedCommit, sshKey, stopGpgAgent, tamperedCopy, type SshKey } from '../helpers/signing';

let h: PassHarness;
let keys: string;
let ops: SshKey;
let stranger: SshKey;
let signers: string;

beforeEach(() => {
  h = new PassHarness();
  keys = join(h.root, 'keys');
  mkdirSync(keys);
  ops = sshKey(keys, 'ops');
  stranger = sshKey(keys, 'stranger');
  signers = allowedSigners(join(keys, 'allowed_signers'), [['ops@example.org', ops]]);
  h.config = h.makeConfig({ trust: { allowed_signers: signers } });
});
afterEach(() => h.cleanup());

function write(files: Record<string, string>): void {
  h.files(files);
}

function push(): void {
  git(h.work, 'push', '-q', '--force', 'origin', 'HEAD:refs/heads/main');
}

async function refusal(): Promise<TrustError> {
  const err = await h.pass().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TrustError);
  return err as TrustError;
}

/** The commit the checkout holds: a refused tip must not move it. */
function checkedOut(): string {
  return git(join(h.stateDir, 'checkout'), 'rev-parse', 'HEAD');
}

async function generationCount(): Promise<number> {
  return (await (await h.openStore()).generations.list()).length;
}

describe('trust.mode require (the default once signers are configured)', () => {
  it('deploys a tip signed by an allowed key and records the signer in the generation, status and generations', async () => {
    expect(h.config.trust.mode).toBe('require');
    write({ 'web.container': containerSpec() });
    const commit = signedCommit(h.work, ops);
    push();
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.commit).toBe(commit);
    const signer = { format: 'ssh', fingerprint: ops.fingerprint, principal: 'ops@example.org' };
    const store = await h.openStore();
    expect((await generationRows(store)).at(-1)).toMatchObject({ commit, signer });
    expect((await statusReport(store)).live).toMatchObject({ commit, signer });

    // As people and scripts read it.
    const config = join(h.root, 'config.toml');
    writeFileSync(config, `state_dir = ${JSON.stringify(h.stateDir)}\n[control]\nsocket = ${JSON.stringify(join(h.root, 'none.sock'))}\n`);
    const generations = runMoor(['--config', config, 'generations']);
    expect(generations.stdout).toMatch(/SIGNED BY/);
    expect(generations.stdout).toContain(`ops@example.org ${ops.fingerprint}`);
    expect(JSON.parse(runMoor(['--config', config, 'generations', '--json']).stdout).generations.at(-1).signer).toEqual(signer);
    const status = runMoor(['--config', config, 'status', '--no-daemon']);
    expect(status.stdout).toContain(`@${commit.slice(0, 12)} (pass) from ${h.bare}, signed by ops@example.org (${ops.fingerprint})`);
    expect(JSON.parse(runMoor(['--config', config, 'status', '--no-daemon', '--json']).stdout).live.signer).toEqual(signer);
  });

  it('refuses an unsigned tip: nothing changes, exit 4, the commit and reason named', async () => {
    write({ 'web.container': containerSpec() });
    const signed = signedCommit(h.work, ops);
    push();
    await h.pass();
    const before = { generations: await generationCount(), users: [...h.fake.passwd.keys()] };

    // An unsigned change that would remove the workload: not even removals happen.
    h.clear();
    write({ 'other.container': containerSpec() });
    const unsigned = h.push('unsigned');
    const err = await refusal();
    expect(exitCodeOfError(err)).toBe(4);
    expect(err.message).toBe(`refusing commit ${unsigned}: commit ${unsigned.slice(0, 12)} is not signed; nothing was changed`);
    expect(await generationCount()).toBe(before.generations);
    expect([...h.fake.passwd.keys()]).toEqual(before.users);
    expect(checkedOut()).toBe(signed);
    // status says why the latest pass did nothing.
    const last = (await statusReport(await h.openStore())).lastPass;
    expect(last?.exitCode).toBe(4);
    expect(last?.summary).toContain(`TrustError: refusing commit ${unsigned}`);
  });

  it('refuses a tip signed by a key that is not an allowed signer', async () => {
    write({ 'web.container': containerSpec() });
    const commit = signedCommit(h.work, stranger);
    push();
    const err = await refusal();
    expect(err.reasons).toEqual([`commit ${commit.slice(0, 12)} is signed by ${stranger.fingerprint}, which is not an allowed signer`]);
    expect(h.fake.passwd.has('web')).toBe(false);
  });

  it('names ssh-keygen when git cannot run it, rather than calling the signature bad', async () => {
    write({ 'web.container': containerSpec() });
    signedCommit(h.work, ops);
    push();
    // A PATH with git alone.
    const bin = join(h.root, 'bin');
    mkdirSync(bin);
    symlinkSync(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), join(bin, 'git'));
    const saved = process.env.PATH;
    process.env.PATH = bin;
    try {
      const err = await h.pass().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.name).toBe('SourceError');
      expect(err?.message).toMatch(/needs ssh-keygen, which git cannot run .*install it \(ssh-keygen: openssh-client/);
    } finally {
      process.env.PATH = saved;
    }
    expect(h.fake.passwd.has('web')).toBe(false);

    // warn deploys it, saying the check could not be made.
    h.config = h.makeConfig({ trust: { allowed_signers: signers, mode: 'warn' } });
    process.env.PATH = bin;
    try {
      expect((await h.pass()).result.exitCode).toBe(0);
    } finally {
      process.env.PATH = saved;
    }
    expect(h.logs.some((l) => l.startsWith('<4>') && /could not be checked: .*needs ssh-keygen/.test(l))).toBe(true);
  });

  it('names an allowed-signers file that cannot be read, rather than refusing every key as not allowed', async () => {
    h.config = h.makeConfig({ trust: { allowed_signers: join(keys, 'no-such-file') } });
    write({ 'web.container': containerSpec() });
    signedCommit(h.work, ops);
    push();
    const err = await h.pass().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe('SourceError');
    expect(err?.message).toBe(`trust.allowed_signers ${join(keys, 'no-such-file')} cannot be read (ENOENT): no commit can be checked against it; fix the path in [trust]`);
  });

  it('refuses a signed commit altered after signing', async () => {
    write({ 'web.container': containerSpec() });
    const commit = signedCommit(h.work, ops);
    const altered = tamperedCopy(h.work, commit);
    git(h.work, 'push', '-q', '--force', 'origin', `${altered}:refs/heads/main`);
    const err = await refusal();
    expect(err.reasons[0]).toMatch(new RegExp(`commit ${altered.slice(0, 12)} has a bad signature`));
  });

  it('does not consult the HOME of the user running moor: a ~/.gitconfig that would accept the key changes nothing', async () => {
    // Only OpenPGP signers configured: nothing of moor's names an SSH allowed-signers file,
    // so a git that read root's ~/.gitconfig would take the one named there.
    const emptyKeyring = join(keys, 'empty-keyring');
    mkdirSync(emptyKeyring);
    h.config = h.makeConfig({ trust: { gpg_keyring: emptyKeyring } });
    const home = join(h.root, 'home');
    mkdirSync(home);
    const lenient = allowedSigners(join(home, 'lenient_signers'), [['stranger@example.org', stranger]]);
    writeFileSync(join(home, '.gitconfig'), `[gpg "ssh"]\n\tallowedSignersFile = ${lenient}\n`);
    // The same file would make git accept the commit when it reads that HOME.
    write({ 'web.container': containerSpec() });
    const commit = signedCommit(h.work, stranger);
    push();
    expect(
      git(h.work, '-c', `include.path=${join(home, '.gitconfig')}`, 'log', '-1', '--format=%G?', commit),
    ).toBe('G');
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      const err = await refusal();
      expect(err.reasons[0]).toMatch(/which is not an allowed signer/);
    } finally {
      process.env.HOME = saved;
    }
  });

  it("does not consult root's GnuPG keyring: a key trusted there is still no allowed signer", async () => {
    const bob = gpgKey(keys, 'Bob <bob@example.org>');
    try {
      const keyring = join(keys, 'keyring');
      exportGpgKey(gpgKey(keys, 'Ann <ann@example.org>'), keyring);
      h.config = h.makeConfig({ trust: { gpg_keyring: keyring } });
      write({ 'web.container': containerSpec() });
      signedCommit(h.work, bob);
      push();
      // Bob's own home trusts his key ultimately: as GNUPGHOME, or as ~/.gnupg, it would verify.
      const home = join(h.root, 'home-gpg');
      mkdirSync(home);
      symlinkSync(bob.home, join(home, '.gnupg'));
      const saved = { HOME: process.env.HOME, GNUPGHOME: process.env.GNUPGHOME };
      process.env.HOME = home;
      process.env.GNUPGHOME = bob.home;
      try {
        const err = await refusal();
        expect(err.reasons[0]).toMatch(/signature cannot be checked/);
      } finally {
        process.env.HOME = saved.HOME;
        if (saved.GNUPGHOME === undefined) delete process.env.GNUPGHOME;
        else process.env.GNUPGHOME = saved.GNUPGHOME;
      }
    } finally {
      stopGpgAgent(bob);
    }
  });

  it('refuses a force-push back to an older signed commit unless the history rewrite is allowed', async () => {
    write({ 'web.container': containerSpec('localhost/app:1') });
    const old = signedCommit(h.work, ops, 'v1');
    push();
    await h.pass();
    write({ 'web.container': containerSpec('localhost/app:2') });
    const current = signedCommit(h.work, ops, 'v2');
    push();
    expect((await h.pass()).result.exitCode).toBe(0);
    const generations = await generationCount();

    // The attacker replays v1, a signed commit with a known hole.
    git(h.work, 'push', '-q', '--force', 'origin', `${old}:refs/heads/main`);
    const err = await refusal();
    expect(exitCodeOfError(err)).toBe(4);
    expect(err.message).toContain(`commit ${old.slice(0, 12)} rewrites the branch's history: it does not descend from commit ${current.slice(0, 12)} of the live generation`);
    expect(err.message).toContain('--allow-history-rewrite');
    expect(await generationCount()).toBe(generations);
    expect(checkedOut()).toBe(current);

    // The operator means it: one pass with the flag deploys it.
    const { result } = await h.pass({ allowHistoryRewrite: true });
    expect(result.exitCode).toBe(0);
    expect(result.commit).toBe(old);
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toContain('localhost/app:1');
  });

  it('trust.allow_history_rewrite = true allows it for every pass', async () => {
    h.config = h.makeConfig({ trust: { allowed_signers: signers, allow_history_rewrite: true } });
    write({ 'web.container': containerSpec('localhost/app:1') });
    const old = signedCommit(h.work, ops, 'v1');
    push();
    await h.pass();
    write({ 'web.container': containerSpec('localhost/app:2') });
    signedCommit(h.work, ops, 'v2');
    push();
    await h.pass();
    git(h.work, 'push', '-q', '--force', 'origin', `${old}:refs/heads/main`);
    expect((await h.pass()).result.commit).toBe(old);
  });

  it('a pinned rollback is not affected, and the rollback keeps the signer', async () => {
    write({ 'web.container': containerSpec('localhost/app:1') });
    signedCommit(h.work, ops, 'v1');
    push();
    const first = (await h.pass()).result.generation!;
    write({ 'web.container': containerSpec('localhost/app:2') });
    signedCommit(h.work, ops, 'v2');
    push();
    await h.pass();
    await (await h.openStore()).pin.pin(first);
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.kind).toBe('rollback');
    const rows = await generationRows(await h.openStore());
    expect(rows.at(-1)?.signer?.fingerprint).toBe(ops.fingerprint);
  });
});

describe('trust.mode warn and off', () => {
  it('warn deploys an unsigned tip and logs the reason as a warning', async () => {
    h.config = h.makeConfig({ trust: { allowed_signers: signers, mode: 'warn' } });
    write({ 'web.container': containerSpec() });
    const commit = h.push('unsigned');
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    const warning = h.logs.find((l) => l.includes('is not signed'));
    expect(warning).toMatch(/^<4>/);
    expect(warning).toContain(`trust: commit ${commit.slice(0, 12)} is not signed (deployed: trust.mode is "warn")`);
  });

  it('off checks neither signatures nor history', async () => {
    h.config = h.makeConfig({});
    expect(h.config.trust.mode).toBe('off');
    write({ 'web.container': containerSpec('localhost/app:1') });
    const old = h.push('v1');
    await h.pass();
    write({ 'web.container': containerSpec('localhost/app:2') });
    h.push('v2');
    await h.pass();
    git(h.work, 'push', '-q', '--force', 'origin', `${old}:refs/heads/main`);
    expect((await h.pass()).result.commit).toBe(old);
  });
});

describe('OpenPGP signers (trust.gpg_keyring)', () => {
  it('deploys a commit signed by a key of the keyring directory; refuses one signed by another key', async () => {
    const ann = gpgKey(keys, 'Ann <ann@example.org>');
    const bob = gpgKey(keys, 'Bob <bob@example.org>');
    try {
      const keyring = join(keys, 'keyring');
      exportGpgKey(ann, keyring);
      h.config = h.makeConfig({ trust: { gpg_keyring: keyring } });

      write({ 'web.container': containerSpec() });
      const byBob = signedCommit(h.work, bob);
      push();
      const err = await refusal();
      expect(err.reasons[0]).toMatch(new RegExp(`commit ${byBob.slice(0, 12)}'s signature cannot be checked`));

      write({ 'web.container': containerSpec('localhost/app:2') });
      const byAnn = signedCommit(h.work, ann);
      push();
      const { result } = await h.pass();
      expect(result.commit).toBe(byAnn);
      const rows = await generationRows(await h.openStore());
      expect(rows.at(-1)?.signer).toEqual({ format: 'openpgp', fingerprint: ann.fingerprint, principal: 'Ann <ann@example.org>' });

      // Checks in quick succession each rebuild moor's GnuPG home, and none starts a gpg-agent
      // (one left per check by the daemon; one of a deleted home failed the next import).
      for (let i = 0; i < 3; i++) expect((await h.pass()).result.exitCode).toBe(0);
      const agents = spawnSync('pgrep', ['-f', `--homedir ${join(h.stateDir, 'trust', 'gnupg')}`], { encoding: 'utf8' });
      expect(agents.stdout).toBe('');
    } finally {
      stopGpgAgent(ann);
      stopGpgAgent(bob);
    }
  });
});
