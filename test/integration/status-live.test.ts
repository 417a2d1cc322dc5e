// `moor status` shows the host as it is (docs/operations.md, "What runs now"): each unit's
// state from systemd beside the last pass's record, drift flagged, one `systemctl
// is-active` for every user manager and one `systemctl --user show` per user, the records
// alone (and why) for a caller that is not root; `moor status WORKLOAD` adds the last lines
// of a unit that failed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatDetail, formatStatus } from '../../daemon/cli/status';
import { liveStatusReport, LIVE_NEEDS_ROOT } from '../../daemon/state/live-status';
import { statusExitCode } from '../../daemon/state/reports';
import { workloadDetail } from '../../daemon/state/workload-detail';
import { runAsUser } from '../../daemon/host/as-user';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

const THREE = {
  'api.container': containerSpec('localhost/api:1'),
  'db.container': containerSpec('localhost/db:1'),
  'web.container': containerSpec('localhost/web:1'),
};

/** The report as root reads it, and the host commands reading it took. */
async function live(root = true) {
  const before = h.fake.calls.length;
  const report = await liveStatusReport(await h.openStore(), h.host(h.fake), { root, now: new Date('2026-01-02T03:04:05Z') });
  return { report, calls: h.fake.callLines().slice(before) };
}

const uidOf = (user: string) => h.fake.passwd.get(user)!.uid;
const row = (text: string, workload: string) => text.split('\n').find((l) => l.startsWith(`${workload} `))!;

describe('moor status, live', () => {
  it('shows each unit active after a pass, with no drift, in one is-active for all managers and one show per user', async () => {
    h.commit(THREE, 'v1');
    await h.pass();
    const { report, calls } = await live();
    expect(report.systemd).toEqual({ readAt: '2026-01-02T03:04:05.000Z' });
    for (const w of report.workloads) {
      expect(w.systemd).toEqual({ manager: 'active', units: [{ unit: `${w.workload}.service`, loadState: 'loaded', activeState: 'active', subState: 'running', result: 'success' }], drift: [] });
    }
    expect(statusExitCode(report)).toBe(0);
    const isActive = calls.filter((c) => c.includes('systemctl is-active'));
    expect(isActive).toHaveLength(1);
    for (const w of ['api', 'db', 'web']) expect(isActive[0]).toContain(`user@${uidOf(w)}.service`);
    const shows = calls.filter((c) => c.includes('systemctl --user show'));
    expect(shows).toHaveLength(3);
    expect(calls).toHaveLength(4);
    expect(row(formatStatus(report), 'web')).toContain('web.service active');
    expect(formatStatus(report)).toContain('no drift');
  });

  it('flags a service stopped by hand as drift before any pass, and exits 1', async () => {
    h.commit(THREE, 'v1');
    await h.pass();
    Object.assign(h.fake.unit('web', 'web.service')!, { activeState: 'inactive', subState: 'dead' });
    const { report } = await live();
    const web = report.workloads.find((w) => w.workload === 'web')!;
    // The last pass's record is unchanged; the host is not.
    expect(web.result).toBe('ok');
    expect(web.systemd).toMatchObject({ units: [{ unit: 'web.service', activeState: 'inactive', subState: 'dead', drift: 'web.service: inactive (Result=success)' }], drift: ['web.service: inactive (Result=success)'] });
    expect(report.workloads.find((w) => w.workload === 'db')!.systemd).toMatchObject({ drift: [] });
    expect(statusExitCode(report)).toBe(1);
    const text = formatStatus(report);
    expect(row(text, 'web')).toContain('DRIFT: web.service inactive (dead)');
    expect(row(text, 'db')).not.toContain('DRIFT');
    expect(text).toContain('DRIFT in web');
  });

  it('flags every unit of a workload whose user manager is down, without asking that manager', async () => {
    h.commit(THREE, 'v1');
    await h.pass();
    const uid = uidOf('db');
    await h.fake.run(['systemctl', 'stop', `user@${uid}.service`], { timeoutMs: 10_000 });
    const { report, calls } = await live();
    expect(report.workloads.find((w) => w.workload === 'db')!.systemd).toMatchObject({ manager: 'inactive', drift: [`user@${uid}.service is inactive`] });
    expect(calls.filter((c) => c.includes('systemctl --user show'))).toHaveLength(2);
    expect(statusExitCode(report)).toBe(1);
  });

  it('for a caller that is not root, shows the records and says live states need root, running nothing', async () => {
    h.commit(THREE, 'v1');
    await h.pass();
    const { report, calls } = await live(false);
    expect(calls).toEqual([]);
    expect(report.systemd).toEqual({ unavailable: LIVE_NEEDS_ROOT });
    expect(report.workloads.every((w) => w.systemd === undefined && w.result === 'ok')).toBe(true);
    expect(statusExitCode(report)).toBe(0);
    expect(formatStatus(report)).toContain('now: not read: live unit states need root');
  });
});

describe('moor status WORKLOAD', () => {
  it('shows its units, generation, commit, last error and the last lines of its failed unit', async () => {
    const c1 = h.commit(THREE, 'v1');
    await h.pass();
    h.fake.setUnitOutput('api', 'api.service', ['api[3]: panic: config missing']);
    h.fake.failUnit('api', 'api.service');
    // Restarted by hand after the pass: it fails now, before any pass records it.
    const restarted = await runAsUser(h.fake, { user: 'api', uid: uidOf('api') }, ['systemctl', '--user', 'restart', 'api.service'], { timeoutMs: 10_000 });
    expect(restarted.exitCode).not.toBe(0); // the start job failed, as systemctl says
    const { report } = await live();
    const detail = (await workloadDetail(report, 'api', h.host(h.fake), { root: true }))!;
    expect(detail.workload).toMatchObject({ workload: 'api', appliedCommit: c1, appliedGeneration: 1, result: 'ok' });
    expect(detail.workload.systemd).toMatchObject({ units: [{ unit: 'api.service', activeState: 'failed', result: 'exit-code' }] });
    expect(detail.journal).toEqual([{ unit: 'api.service', lines: [expect.objectContaining({ unit: 'api.service', message: 'api[3]: panic: config missing' })] }]);
    const text = formatDetail(detail);
    expect(text).toContain(`runs: @${c1.slice(0, 12)} from generation 1`);
    expect(text).toContain('live generation: 1');
    expect(text).toMatch(/api\.service\s+loaded\s+failed\s+failed\s+exit-code\s+api\.service: failed \(Result=exit-code\)/);
    expect(text).toContain('last lines of api.service:');
    expect(text).toContain('api[3]: panic: config missing');
    expect(await workloadDetail(report, 'nope', h.host(h.fake), { root: true })).toBeUndefined();
  });

  it('reads no journal for a workload whose units all run', async () => {
    h.commit(THREE, 'v1');
    await h.pass();
    const { report } = await live();
    const before = h.fake.calls.length;
    const detail = (await workloadDetail(report, 'web', h.host(h.fake), { root: true }))!;
    expect(detail.journal).toEqual([]);
    expect(h.fake.calls.length).toBe(before);
  });
});
