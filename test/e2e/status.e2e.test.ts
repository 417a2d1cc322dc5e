// `moor status` shows the host as it is, on a real host: a service stopped by hand is
// inactive and flagged as drift at once, before any pass; `moor status web` shows its
// units, and the last lines of a unit that failed.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, describeExec, type Guest, moorGuestForFile } from './guest';

const WEB = `[Container]
Image=${BUSYBOX_IMAGE}
Exec=/bin/sh -c 'echo web up; trap "exit 0" TERM; while true; do sleep 1; done'

[Install]
WantedBy=default.target
`;

interface LiveUnit {
  unit: string;
  activeState: string;
  subState: string;
  result: string;
  drift?: string;
}

interface StatusJson {
  schema: number;
  systemd: { readAt?: string; unavailable?: string };
  workloads: Array<{ workload: string; result?: string; systemd?: { manager: string; units: LiveUnit[]; drift: string[] } }>;
}

let guest: Guest;

moorGuestForFile((g) => (guest = g));

describe('moor status shows what runs now', () => {
  it('shows web.service active after the pass, with no drift and exit 0', async () => {
    await guest.pushRepo({ 'web.container': WEB }, { message: 'web' });
    const { run, pass } = await guest.reconcileJson();
    expect(pass.exitCode, describeExec(run)).toBe(0);
    const status = await guest.moor(['status', '--json']);
    expect(status.code, describeExec(status)).toBe(0);
    const json = JSON.parse(status.stdout) as StatusJson;
    expect(json.schema).toBe(1);
    expect(json.systemd.readAt).toBeDefined();
    expect(json.workloads.find((w) => w.workload === 'web')?.systemd).toMatchObject({
      manager: 'active',
      units: [{ unit: 'web.service', activeState: 'active', subState: 'running' }],
      drift: [],
    });
  });

  it('a service stopped by hand is inactive and drift at once, before any pass; status exits 1', async () => {
    const stop = await guest.systemctlUser('web', ['stop', 'web.service']);
    expect(stop.code, describeExec(stop)).toBe(0);
    const text = await guest.moor(['status']);
    expect(text.code, describeExec(text)).toBe(1);
    expect(text.stdout).toMatch(/^web +web +\d+ +[0-9a-f]{12} +create +ok +\S+ +DRIFT: web\.service inactive \(dead\)/m);
    expect(text.stdout).toContain('DRIFT in web');
    const json = JSON.parse((await guest.moor(['status', '--json'])).stdout) as StatusJson;
    const web = json.workloads.find((w) => w.workload === 'web')!;
    // The record still says the pass went well; the host says otherwise.
    expect(web.result).toBe('ok');
    expect(web.systemd?.units[0]).toMatchObject({ unit: 'web.service', activeState: 'inactive', subState: 'dead' });
    expect(web.systemd?.drift).toEqual([expect.stringMatching(/^web\.service: inactive/)]);
  });

  it('moor status web shows its units, and the last lines of a unit that failed', async () => {
    // Killed by hand: failed, and what it wrote is in the journal.
    await guest.systemctlUser('web', ['start', 'web.service']);
    const kill = await guest.systemctlUser('web', ['kill', '--signal=SIGKILL', 'web.service']);
    expect(kill.code, describeExec(kill)).toBe(0);
    let detail = await guest.moor(['status', 'web']);
    for (let i = 0; i < 50 && !/web\.service +\S+ +failed/.test(detail.stdout); i++) {
      await new Promise((r) => setTimeout(r, 200));
      detail = await guest.moor(['status', 'web']);
    }
    expect(detail.code, describeExec(detail)).toBe(1);
    expect(detail.stdout).toMatch(/^workload web: user web \(uid \d+\)$/m);
    expect(detail.stdout).toMatch(/^runs: @[0-9a-f]{12} from generation \d+/m);
    expect(detail.stdout).toMatch(/^web\.service +loaded +failed +failed +signal +web\.service: failed \(Result=signal\)$/m);
    expect(detail.stdout).toContain('last lines of web.service:');
    expect(detail.stdout).toContain('web up');
    // The next pass re-applies it: no drift afterwards.
    const { pass } = await guest.reconcileJson();
    expect(pass.exitCode).toBe(0);
    expect((await guest.moor(['status'])).code).toBe(0);
  });

  it('a name that is no workload of the host is a usage error', async () => {
    const r = await guest.moor(['status', 'nope']);
    expect(r.code, describeExec(r)).toBe(2);
    expect(r.stderr).toContain('no workload named "nope"');
  });
});
