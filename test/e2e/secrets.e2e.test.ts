// Secrets on a real host (docs/operations.md#secrets): the repository holds `.age` files
// encrypted to the host's key; a pass decrypts them with [secrets] identity_file and gives
// each to the workload user's Podman, and the container gets them through Quadlet's
// Secret= (as an environment variable and as a file). The container prints only the
// sha256 of what it received. The plaintext is then in no file under /var/lib/moor, not in
// the journal, not in moor's output; rotating a ciphertext restarts that workload alone; a
// secret the host's key cannot open fails its workload alone; one the repo drops leaves
// the user's store.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armor, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_MOOR_CONFIG, bootMoorGuest, describeExec, eventually, leftoverGuests, type ExecResult, type Guest } from './guest';

const IDENTITY_FILE = '/etc/moor/age.key';
const PASSWORD = 'e2e-plaintext-password-5u8Qz';
const CERT = 'e2e-plaintext-certificate-Lm3Xw';
const ROTATED = 'e2e-plaintext-rotated-9TkPa';

let guest: Guest;
let recipient: string;
const outputs: ExecResult[] = [];

const sha = (v: string) => createHash('sha256').update(v).digest('hex');

async function encrypt(value: string, to = recipient): Promise<Buffer> {
  const e = new Encrypter();
  e.addRecipient(to);
  return Buffer.from(await e.encrypt(value));
}

// No `$` in the line: systemd would expand it. The container reads the secret from its
// environment and from the file Podman mounts, and prints their hashes only.
const VAULT = `[Container]
Image=${BUSYBOX_IMAGE}
Secret=vault-pw,type=env,target=PW
Secret=vault-cert,type=mount,target=cert
Exec=/bin/sh -c 'echo pw-sha256 \`env | grep ^PW= | cut -d= -f2- | tr -d "\\n" | sha256sum\`; echo cert-sha256 \`sha256sum < /run/secrets/cert\`; trap "exit 0" TERM; while true; do sleep 1; done'

[Install]
WantedBy=default.target
`;
const OTHER = `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\n\n[Install]\nWantedBy=default.target\n`;

async function reconcile() {
  const r = await guest.reconcileJson();
  outputs.push(r.run);
  return r;
}

/** The hashes the vault container printed last, from its unit's journal (read as root: _UID and the unit). */
async function printed(): Promise<{ pw?: string; cert?: string }> {
  const uid = await guest.uid('vault');
  const r = await guest.run(['journalctl', '--no-pager', '-o', 'cat', `_UID=${uid}`, '_SYSTEMD_USER_UNIT=vault.service']);
  const last = (re: RegExp) => [...r.stdout.matchAll(re)].pop()?.[1];
  return { pw: last(/^pw-sha256 ([0-9a-f]{64})/gm), cert: last(/^cert-sha256 ([0-9a-f]{64})/gm) };
}

const invocationOf = async (user: string) => (await guest.userUnit(user, `${user}.service`, ['InvocationID'])).InvocationID!;

beforeAll(async () => {
  const identity = await generateX25519Identity();
  recipient = await identityToRecipient(identity);
  guest = await bootMoorGuest(`${GUEST_MOOR_CONFIG}\n[secrets]\nidentity_file = "${IDENTITY_FILE}"\n`);
  await guest.writeFile(IDENTITY_FILE, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await guest?.shutdown(10_000);
  expect(await leftoverGuests()).toEqual([]);
});

describe('secrets on a real host', () => {
  let otherInvocation: string;

  it('checks clean, and reach the container as an environment variable and a file', async () => {
    await guest.pushRepo({
      'vault.container': VAULT,
      'vault-pw.age': await encrypt(PASSWORD),
      // Armored (age -a) works the same.
      'vault-cert.age': armor.encode(await encrypt(CERT)),
      'other.container': OTHER,
    });
    const check = await guest.moor(['check', '/srv/git/desired-work', '--identity', IDENTITY_FILE]);
    outputs.push(check);
    expect(check.code, describeExec(check)).toBe(0);
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('vault')).toMatchObject({ action: 'create', result: 'ok' });
    const names = await guest.asUser('vault', ['podman', 'secret', 'ls', '--format', '{{.Name}}'], { cwd: '/' });
    expect(names.stdout.trim().split('\n').sort(), describeExec(names)).toEqual(['vault-cert', 'vault-pw']);
    const seen = await eventually('the container printed what it got', async () => {
      const p = await printed();
      return p.pw && p.cert ? p : undefined;
    });
    expect(seen).toEqual({ pw: sha(PASSWORD), cert: sha(CERT) });
    otherInvocation = await invocationOf('other');
  });

  it('rotated, restarts that workload alone with the new value', async () => {
    const before = await invocationOf('vault');
    await guest.pushRepo({ 'vault.container': VAULT, 'vault-pw.age': await encrypt(ROTATED), 'vault-cert.age': armor.encode(await encrypt(CERT)), 'other.container': OTHER });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('vault')).toMatchObject({ action: 'update', result: 'ok' });
    expect(item('other')).toMatchObject({ action: 'unchanged' });
    const after = await invocationOf('vault');
    expect(after).not.toBe(before);
    expect(await invocationOf('other')).toBe(otherInvocation);
    const seen = await eventually('the new container printed what it got', async () => {
      const p = await printed();
      return p.pw !== sha(PASSWORD) ? p : undefined;
    });
    expect(seen).toEqual({ pw: sha(ROTATED), cert: sha(CERT) });
  });

  it('one the host key cannot open fails its workload alone, named, and it keeps running', async () => {
    const running = await invocationOf('vault');
    const stranger = await identityToRecipient(await generateX25519Identity());
    await guest.pushRepo({ 'vault.container': VAULT, 'vault-pw.age': await encrypt(PASSWORD, stranger), 'vault-cert.age': armor.encode(await encrypt(CERT)), 'other.container': OTHER.replace('while true', 'while :') });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(1);
    expect(item('vault')?.result).toBe('failed');
    expect(item('vault')?.error).toMatch(/vault-pw\.age does not decrypt with the identity in \/etc\/moor\/age\.key/);
    expect(item('other')).toMatchObject({ action: 'update', result: 'ok' });
    expect(await invocationOf('vault')).toBe(running);
  });

  it('dropped from the repository, leaves the user store', async () => {
    const vault = VAULT.replace(/^Secret=vault-cert.*\n/m, '').replace(/; echo cert-sha256 [^;]*;/, ';');
    await guest.pushRepo({ 'vault.container': vault, 'vault-pw.age': await encrypt(ROTATED), 'other.container': OTHER });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('vault')).toMatchObject({ action: 'update', result: 'ok' });
    const names = await guest.asUser('vault', ['podman', 'secret', 'ls', '--format', '{{.Name}}'], { cwd: '/' });
    expect(names.stdout.trim().split('\n'), describeExec(names)).toEqual(['vault-pw']);
  });

  it('no plaintext in /var/lib/moor, the journal or moor\'s output', async () => {
    for (const value of [PASSWORD, CERT, ROTATED]) {
      const state = await guest.exec(['grep', '-r', '-a', '-l', '-F', value, '/var/lib/moor']);
      expect(state.code, `${value} in /var/lib/moor: ${state.stdout}`).toBe(1);
      const journal = await guest.exec(['sh', '-c', 'journalctl --no-pager -o export | grep -a -c -F "$1"', 'sh', value]);
      expect(journal.stdout.trim(), `${value} in the journal`).toBe('0');
      const files = await guest.exec(['grep', '-r', '-a', '-l', '-F', value, '/var/log/journal', '/run/log/journal']);
      expect(files.stdout.trim(), `${value} in the journal's files`).toBe('');
      for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(value);
    }
  });
});
