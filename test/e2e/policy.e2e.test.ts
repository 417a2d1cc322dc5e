// The host policy against a real host (docs/policy.md): Quadlet's real output for a spec
// within the policy is judged and runs; a spec publishing a port the policy forbids,
// through PodmanArgs= or through a plain service running podman, fails with the rule's
// name and no container of it runs. Then the check of what systemd loaded, on its own: a
// rollback to a generation applied before the policy is refused and the running files
// are put back.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, type Guest, GUEST_MOOR_CONFIG, moorGuestForFile } from './guest';

const POLICY = `
[policy]
images = ["localhost/*"]
ports = []
privileged = false
programs = []
`;

const container = (extra = '') => `[Container]\nImage=${BUSYBOX_IMAGE}\nExec=${BUSYBOX_SERVE_FOREVER}\n${extra}\n[Install]\nWantedBy=default.target\n`;

interface PassJson {
  exitCode: number;
  items: Array<{ workload: string; action: string; result: string; error?: string }>;
}

let guest: Guest;

moorGuestForFile((g) => (guest = g), { config: undefined });

async function reconcile(): Promise<{ pass: PassJson; text: string }> {
  const run = await guest.moor(['reconcile', '--once', '--json']);
  try {
    return { pass: JSON.parse(run.stdout) as PassJson, text: describeExec(run) };
  } catch {
    throw new Error(`not a pass: ${describeExec(run)}\n${await guest.journal({ lines: 80 })}`);
  }
}

const item = (pass: PassJson, workload: string) => pass.items.find((i) => i.workload === workload)!;

describe('a host policy in a real systemd guest', () => {
  it('runs a spec within it (Quadlet output judged), refuses PodmanArgs= and a plain service publishing ports; none of them runs', async () => {
    await guest.writeFile('/etc/moor/config.toml', GUEST_MOOR_CONFIG + POLICY);
    await guest.pushRepo({
      'calm.container': container(),
      'sneaky.container': container('PodmanArgs=--publish 8080:80'),
      'side.container': container(),
      'side-run.service': `[Service]\nExecStart=/usr/bin/podman run --rm --name side-published -p 8081:80 ${BUSYBOX_IMAGE} sleep 1000\n\n[Install]\nWantedBy=default.target\n`,
    });
    const { pass, text } = await reconcile();
    expect(pass.exitCode, text).toBe(1);
    expect(item(pass, 'calm'), text).toMatchObject({ result: 'ok' });
    expect(item(pass, 'sneaky').error).toMatch(/^sneaky\.container:\d+: policy rule "ports": sneaky\.service \(sneaky\.container\) publishes host port 8080 \(PodmanArgs=--publish 8080:80\)/);
    expect(item(pass, 'side').error).toMatch(/side-run\.service:2: policy rule "ports": side-run\.service \(side-run\.service\) publishes host port 8081 \(ExecStart: -p 8081:80\)/);

    // The one within the policy runs; the refused ones have no user, so nothing of theirs runs.
    expect((await guest.systemctlUser('calm', ['is-active', 'calm.service'])).stdout.trim()).toBe('active');
    for (const user of ['sneaky', 'side']) expect((await guest.exec(['getent', 'passwd', user])).code, user).toBe(2);
    const containers = await guest.exec(['sh', '-c', 'ps -eo user:20,args | grep -c "[c]onmon" || true']);
    expect(containers.stdout.trim()).toBe('1');
  });

  it('refuses what systemd loaded when no static check ran: a rollback past the policy puts the running files back', async () => {
    await guest.writeFile('/etc/moor/config.toml', GUEST_MOOR_CONFIG);
    // Without a policy, a pull policy said through PodmanArgs= applies and runs.
    await guest.pushRepo({ 'calm.container': container('PodmanArgs=--pull=never') });
    const first = await reconcile();
    expect(first.pass.exitCode, first.text).toBe(0);
    await guest.pushRepo({ 'calm.container': container() });
    const second = await reconcile();
    expect(second.pass.exitCode, second.text).toBe(0);
    const gens = (JSON.parse((await guest.moor(['generations', '--json'])).stdout) as { generations: Array<{ generation: number; state: string }> }).generations;
    const before = gens.filter((g) => g.state === 'complete').map((g) => g.generation).sort((a, b) => a - b).at(-2)!;
    const invocation = (await guest.systemctlUser('calm', ['show', '-p', 'InvocationID', '--value', 'calm.service'])).stdout.trim();
    const running = await guest.readFile('/home/calm/.config/containers/systemd/calm.container');

    await guest.writeFile('/etc/moor/config.toml', `${GUEST_MOOR_CONFIG}${POLICY}pull = ["missing"]\n`);
    const rollback = await guest.moor(['rollback', String(before), '--json']);
    const result = JSON.parse(rollback.stdout) as PassJson;
    expect(result.exitCode, describeExec(rollback)).toBe(1);
    // Refused before anything started, and so rolled back: what ran runs on (below).
    expect(item(result, 'calm').result).toBe('rolled-back');
    expect(item(result, 'calm').error).toMatch(
      /^refused by the host policy, nothing was started: policy rule "pull": calm\.service pulls images with policy "never" \(ExecStart: --pull=never\)/,
    );
    expect(await guest.readFile('/home/calm/.config/containers/systemd/calm.container')).toBe(running);
    expect((await guest.systemctlUser('calm', ['show', '-p', 'InvocationID', '--value', 'calm.service'])).stdout.trim()).toBe(invocation);
    expect((await guest.systemctlUser('calm', ['is-active', 'calm.service'])).stdout.trim()).toBe('active');
  });
});
