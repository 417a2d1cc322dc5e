// Signed commits on a real host (docs/operations.md, "Signed commits"): with an SSH
// allowed-signers file in [trust], an unsigned push changes nothing and the refusal names
// the commit; the same change signed by the allowed key deploys; a force-push back to the
// older signed commit is refused until --allow-history-rewrite. Every key, signature and
// verification is made inside the guest, by its own git, ssh-keygen and moor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_BARE_REPO, GUEST_MOOR_CONFIG, bootMoorGuest, describeExec, leftoverGuests, type Guest } from './guest';

const KEY = '/root/signing/ops';
const SIGNERS = '/etc/moor/allowed_signers';
const UNIT = '/home/app/.config/containers/systemd/app.container';

function app(version: string): string {
  return `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\nEnvironment=APP_VERSION=${version}\n\n[Install]\nWantedBy=default.target\n`;
}

interface StatusJson {
  live?: { generation: number; commit: string; signer?: { format: string; fingerprint: string; principal: string } };
}

let guest: Guest;
let fingerprint: string;
const commits: Record<string, string> = {};

beforeAll(async () => {
  guest = await bootMoorGuest(`${GUEST_MOOR_CONFIG}\n[trust]\nallowed_signers = "${SIGNERS}"\n`);
  await guest.run(['mkdir', '-p', '-m', '0700', '/root/signing']);
  await guest.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'ops@example.org', '-f', KEY]);
  const publicKey = (await guest.readFile(`${KEY}.pub`)).trim();
  await guest.writeFile(SIGNERS, `ops@example.org ${publicKey}\n`);
  fingerprint = (await guest.run(['ssh-keygen', '-l', '-E', 'sha256', '-f', `${KEY}.pub`])).stdout.split(' ')[1]!;
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

const unitFile = () => guest.readFile(UNIT);
const invocation = async () => (await guest.userUnit('app', 'app.service', ['InvocationID'])).InvocationID ?? '';

describe('trust.mode require on a real host', () => {
  it('deploys a commit signed by the allowed key and shows the signer', async () => {
    commits.v1 = await guest.pushRepo({ 'app.container': app('1') }, { signingKey: KEY, message: 'v1' });
    const run = await guest.moor(['reconcile', '--once', '--json']);
    expect(run.code, describeExec(run)).toBe(0);
    expect(await unitFile()).toContain('APP_VERSION=1');
    const status = JSON.parse((await guest.moor(['status', '--json'])).stdout) as StatusJson;
    expect(status.live?.commit).toBe(commits.v1);
    expect(status.live?.signer).toEqual({ format: 'ssh', fingerprint, principal: 'ops@example.org' });
    const generations = await guest.moor(['generations']);
    expect(generations.stdout).toContain(`ops@example.org ${fingerprint}`);
  });

  it('refuses an unsigned push: nothing changes, exit 4, the commit named', async () => {
    const before = await invocation();
    const unsigned = await guest.pushRepo({ 'app.container': app('2') }, { message: 'v2 unsigned' });
    const run = await guest.moor(['reconcile', '--once']);
    expect(run.code, describeExec(run)).toBe(4);
    expect(run.stderr).toContain(`TrustError: refusing commit ${unsigned}: commit ${unsigned.slice(0, 12)} is not signed; nothing was changed`);
    expect(await unitFile()).toContain('APP_VERSION=1');
    expect(await invocation()).toBe(before);
    const status = JSON.parse((await guest.moor(['status', '--json'])).stdout) as StatusJson;
    expect(status.live?.commit).toBe(commits.v1);
  });

  it('deploys the same change signed by the allowed key', async () => {
    commits.v2 = await guest.pushRepo({ 'app.container': app('2') }, { signingKey: KEY, message: 'v2 signed' });
    const run = await guest.moor(['reconcile', '--once', '--json']);
    expect(run.code, describeExec(run)).toBe(0);
    expect(await unitFile()).toContain('APP_VERSION=2');
  });

  it('refuses a force-push back to the older signed commit unless the rewrite is allowed', async () => {
    await guest.run(['git', '-C', `${GUEST_BARE_REPO.replace(/\.git$/, '')}-work`, 'push', '--quiet', '--force', 'origin', `${commits.v1}:refs/heads/main`]);
    const refused = await guest.moor(['reconcile', '--once']);
    expect(refused.code, describeExec(refused)).toBe(4);
    expect(refused.stderr).toContain(`commit ${commits.v1!.slice(0, 12)} rewrites the branch's history: it does not descend from commit ${commits.v2!.slice(0, 12)}`);
    expect(refused.stderr).toContain('--allow-history-rewrite');
    expect(await unitFile()).toContain('APP_VERSION=2');

    const allowed = await guest.moor(['reconcile', '--once', '--allow-history-rewrite', '--json']);
    expect(allowed.code, describeExec(allowed)).toBe(0);
    expect(await unitFile()).toContain('APP_VERSION=1');
    const status = JSON.parse((await guest.moor(['status', '--json'])).stdout) as StatusJson;
    expect(status.live?.commit).toBe(commits.v1);
  });
});
