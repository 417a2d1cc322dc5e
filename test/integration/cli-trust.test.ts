// The trust commands as an operator and a repository's CI run them: `moor check
// --verify-commit` (exit 0 if a host would accept the commit, 4 with the reason if not),
// and `moor reconcile --once` refusing an unsigned tip at error priority. Every pass here
// is refused before it runs a host command.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { REPO_ROOT, runMoor } from '../helpers/cli';
import { git } from '../helpers/pass-harness';
import { allowedSigners, exportGpgKey, gpgKey, signedCommit, sshKey, stopGpgAgent, type GpgKey, type SshKey } from '../helpers/signing';

let root: string;
let repo: string;
let ops: SshKey;
let stranger: SshKey;
let ann: GpgKey;
let signers: string;
let keyring: string;
const commits: Record<string, string> = {};
let emptyConfig: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'moor-cli-trust-'));
  ops = sshKey(root, 'ops');
  stranger = sshKey(root, 'stranger');
  ann = gpgKey(root, 'Ann <ann@example.org>');
  signers = allowedSigners(join(root, 'allowed_signers'), [['ops@example.org', ops]]);
  keyring = join(root, 'keyring');
  exportGpgKey(ann, keyring);
  repo = join(root, 'repo');
  git(root, 'init', '-q', '--initial-branch=main', repo);
  writeFileSync(join(repo, 'web.container'), '[Container]\nImage=localhost/app:1\n');
  commits.ops = signedCommit(repo, ops, 'by ops');
  commits.stranger = signedCommit(repo, stranger, 'by a stranger');
  commits.ann = signedCommit(repo, ann, 'by ann');
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'unsigned');
  commits.unsigned = git(repo, 'rev-parse', 'HEAD');
  emptyConfig = join(root, 'empty.toml');
  writeFileSync(emptyConfig, '');
}, 60_000);

afterAll(() => {
  stopGpgAgent(ann);
  rmSync(root, { recursive: true, force: true });
});

const check = (...args: string[]) => runMoor(['--config', emptyConfig, 'check', repo, '--transforms', join(root, 'none'), ...args]);

describe('moor check --verify-commit', () => {
  it('exits 0 for a commit signed by an allowed SSH key, naming the signer', () => {
    const r = check('--verify-commit', commits.ops!, '--allowed-signers', signers);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`commit ${commits.ops} (${commits.ops}): signed by ops@example.org (${ops.fingerprint}), an allowed signer`);
  });

  it('exits 4 with the reason for an unsigned commit and one signed by another key', () => {
    const unsigned = check('--verify-commit', 'HEAD', '--allowed-signers', signers);
    expect(unsigned.code).toBe(4);
    expect(unsigned.stdout).toContain(`commit ${commits.unsigned} (HEAD) would be refused: commit ${commits.unsigned!.slice(0, 12)} is not signed`);
    const other = check('--verify-commit', commits.stranger!, '--allowed-signers', signers, '--json');
    expect(other.code).toBe(4);
    expect(JSON.parse(other.stdout).commit).toMatchObject({ accepted: false, reasons: [expect.stringContaining(`${stranger.fingerprint}, which is not an allowed signer`)] });
  });

  it('checks OpenPGP signatures against a keyring directory', () => {
    const r = check('--verify-commit', commits.ann!, '--gpg-keyring', keyring, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).commit).toMatchObject({ accepted: true, signer: { format: 'openpgp', fingerprint: ann.fingerprint, principal: 'Ann <ann@example.org>' } });
    expect(check('--verify-commit', commits.ops!, '--gpg-keyring', keyring).code).toBe(4);
  });

  it('takes the signers from [trust] of the config', () => {
    const config = join(root, 'trust.toml');
    writeFileSync(config, `[trust]\nallowed_signers = ${JSON.stringify(signers)}\n`);
    const r = runMoor(['--config', config, 'check', repo, '--transforms', join(root, 'none'), '--verify-commit', commits.ops!]);
    expect(r.code).toBe(0);
  });

  it('is a usage error without any signer, or with a revision that names no commit', () => {
    expect(check('--verify-commit', 'HEAD').code).toBe(2);
    const r = check('--verify-commit', 'no-such-branch', '--allowed-signers', signers);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no-such-branch does not name a commit');
  });
});

describe('moor reconcile --once in require mode', () => {
  let dir: string;
  let config: string;
  beforeAll(() => {
    dir = join(root, 'host');
    mkdirSync(join(dir, 'transforms'), { recursive: true });
    const bare = join(dir, 'deploy.git');
    git(root, 'clone', '-q', '--bare', repo, bare);
    config = join(dir, 'config.toml');
    writeFileSync(
      config,
      [
        `state_dir = ${JSON.stringify(join(dir, 'state'))}`,
        `lock_path = ${JSON.stringify(join(dir, 'lock'))}`,
        `transforms_dir = ${JSON.stringify(join(dir, 'transforms'))}`,
        '[source]',
        `url = ${JSON.stringify(bare)}`,
        '[control]',
        `socket = ${JSON.stringify(join(dir, 'moor.sock'))}`,
        '[trust]',
        `allowed_signers = ${JSON.stringify(signers)}`,
      ].join('\n'),
    );
  });

  it('refuses an unsigned tip with exit 4, at error priority, naming the commit', () => {
    const r = runMoor(['--config', config, 'reconcile', '--once', '--no-daemon'], { journalStream: true });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`<3>moor: TrustError: refusing commit ${commits.unsigned}: commit ${commits.unsigned!.slice(0, 12)} is not signed; nothing was changed`);
  });
});

describe('--allow-history-rewrite', () => {
  it('keeps the pass in this process: a running daemon is not asked to run it', async () => {
    // A daemon that never answers: a client that asked it would hang, not exit.
    const connections: Socket[] = [];
    const server = createServer((s) => void connections.push(s));
    const socket = join(root, 'host', 'moor.sock');
    await new Promise<void>((r) => server.listen(socket, () => r()));
    try {
      const r = await runMoorAsync(['--config', join(root, 'host', 'config.toml'), 'reconcile', '--once', '--allow-history-rewrite']);
      // The unsigned tip is still refused: the allowance waives the history rule only.
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('is not signed');
      expect(r.stderr).not.toContain('via the running daemon');
      expect(connections).toHaveLength(0);
    } finally {
      for (const c of connections) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

function runMoorAsync(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'daemon/main.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    });
  });
}
