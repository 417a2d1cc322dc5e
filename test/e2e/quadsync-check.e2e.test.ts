// A quadsync user's repository on a real host: its own files (CI, licence, editor and bot
// settings) apply clean; a [Secrets] value moved into an age file, the documented way
// (docs/repository.md#secrets), reaches the container through Podman, never through a file
// moor writes; and a [Secrets] spec is refused with nothing of it anywhere on the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_MOOR_CONFIG, bootMoorGuest, describeExec, leftoverGuests, type Guest } from './guest';

const SECRET = 'e2e-vault-passw0rd';
const QUADSYNC_SECRET = 'e2e-quadsync-plaintext';

const ordinaryFiles: Record<string, string> = {
  '.github/workflows/ci.yml': 'on: [push]\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n      - run: moor check .\n',
  '.editorconfig': 'root = true\n',
  LICENSE: 'All rights reserved.\n',
  'renovate.json': '{ "extends": ["config:recommended"] }\n',
  'README.md': '# workloads\n',
};

function vault(extra = ''): string {
  return `[Container]
Image=${BUSYBOX_IMAGE}
Pull=never
ContainerName={{name}}-app
Exec=${BUSYBOX_SERVE_FOREVER}
${extra}
[Install]
WantedBy=default.target
`;
}

let guest: Guest;
let recipient: string;

beforeAll(async () => {
  const identity = await generateX25519Identity();
  recipient = await identityToRecipient(identity);
  guest = await bootMoorGuest(`${GUEST_MOOR_CONFIG}\n[secrets]\nidentity_file = "/etc/moor/age.key"\n`);
  await guest.writeFile('/etc/moor/age.key', `${identity}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

const reconcile = () => guest.reconcileJson();

describe('a quadsync-style repository in a real guest', () => {
  it('applies with its .github/, LICENSE, .editorconfig and renovate.json left out, {{name}} filled in', async () => {
    await guest.pushRepo({ ...ordinaryFiles, 'vault.container': vault() }, { message: 'ordinary repo' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('vault')).toMatchObject({ action: 'create', result: 'ok' });
    const ps = await guest.exec(['podman', 'ps', '--format', '{{.Names}}'], { user: 'vault', cwd: '/' });
    expect(ps.stdout.trim().split('\n'), describeExec(ps)).toContain('vault-app');
  });

  it('takes a value moved into an age file as Secret=, the value in no file moor wrote', async () => {
    const e = new Encrypter();
    e.addRecipient(recipient);
    const ciphertext = Buffer.from(await e.encrypt(SECRET));
    await guest.pushRepo({ ...ordinaryFiles, 'vault.container': vault('Secret=vault-db_password,type=env,target=DB_PASSWORD\n'), 'vault-db_password.age': ciphertext }, { message: 'secret' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('vault')).toMatchObject({ action: 'update', result: 'ok' });
    const env = await guest.exec(['podman', 'exec', 'vault-app', 'sh', '-c', 'echo "$DB_PASSWORD"'], { user: 'vault', cwd: '/' });
    expect(env.stdout.trim(), describeExec(env)).toBe(SECRET);
    const written = await guest.exec(['grep', '-rls', SECRET, '/home/vault/.config', '/var/lib/moor']);
    expect(written.stdout.trim(), describeExec(written)).toBe('');
  });

  it('refuses a [Secrets] spec (exit 2): nothing applied, its value nowhere on the host', async () => {
    await guest.pushRepo(
      {
        ...ordinaryFiles,
        'vault.container': vault(),
        'ledger.container': `${vault()}\n[Secrets]\nEnvironment=LEDGER_PASSWORD=${QUADSYNC_SECRET}\n`,
      },
      { message: 'quadsync secrets' },
    );
    const { run } = await reconcile();
    expect(run.code, describeExec(run)).toBe(2);
    expect(run.stdout + run.stderr).toMatch(/ledger\.container:\d+: moor does not read quadsync's \[Secrets\] section;/);
    expect(run.stdout + run.stderr).not.toContain(QUADSYNC_SECRET);
    expect((await guest.exec(['getent', 'passwd', 'ledger'])).code).toBe(2);
    // moor's own checkout holds the repository as committed, and only root can read it.
    const found = await guest.exec(['grep', '-rls', '--exclude-dir=checkout', QUADSYNC_SECRET, '/home', '/var/lib/moor', '/run/user', '/etc']);
    expect(found.stdout.trim(), describeExec(found)).toBe('');
    const readable = await guest.exec(['cat', '/var/lib/moor/checkout/ledger.container'], { user: 'vault', cwd: '/' });
    expect(readable.code, describeExec(readable)).not.toBe(0);
  });
});
