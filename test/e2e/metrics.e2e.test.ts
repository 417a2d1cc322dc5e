// Prometheus metrics in a real systemd guest: moor installed as an operator installs it,
// with `[metrics] listen` and `textfile` set. After a partial pass (one workload fails to
// start), `GET /metrics` on the control socket parses with a Prometheus text parser and its
// values match the pass (`moor status --json`, last-pass.json); the TCP listener serves the
// same and nothing of the control API; on a timer-only host, moor-reconcile.service writes
// the node_exporter textfile, counting on from the daemon's passes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { leftoverGuests, type Guest } from './guest';
import { bootDaemonGuest, containerSpec, controlRequest, daemonConfig, failingSpec, installMoor, journalText, waitForJournal } from './daemon-helpers';
import { parseExposition, value, type ParsedFamily } from '../helpers/prometheus-text';

const TEXTFILE = '/var/lib/prometheus/node-exporter/moor.prom';
const METRICS_CONFIG = `\n[metrics]\nlisten = "127.0.0.1:9561"\ntextfile = "${TEXTFILE}"\n`;
let guest: Guest;

beforeAll(async () => {
  const setup = inject('e2e');
  if (setup.bundleError) throw new Error(`no moor bundle to test: ${setup.bundleError}`);
  guest = await bootDaemonGuest();
  await installMoor(guest, daemonConfig({ extra: METRICS_CONFIG }));
  await guest.pushRepo({ 'hello.container': containerSpec('one'), 'broken.container': failingSpec() }, { message: 'one good, one broken' });
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

/** GET /metrics over TCP from inside the guest (it has no curl). */
async function tcpGet(path: string): Promise<{ status: number; body: string }> {
  const script = `require('node:http').get({ host: '127.0.0.1', port: 9561, path: process.argv[1] }, (res) => { let t = ''; res.setEncoding('utf8'); res.on('data', (d) => (t += d)); res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: t }))); }).on('error', (e) => { process.stderr.write(e.message); process.exit(2); });`;
  return JSON.parse((await guest.run(['node', '-e', script, path])).stdout) as { status: number; body: string };
}

describe('moor metrics', () => {
  let scraped: ParsedFamily[];

  it('GET /metrics on the control socket parses and matches the partial pass the daemon ran', async () => {
    const before = await guest.journalCursor();
    await guest.run(['systemctl', 'enable', '--now', 'moor.socket', 'moor.service']);
    await waitForJournal(guest, 'moor.service', /^pass (done|ended with exit \d+|failed)/, before, 240_000);

    const answer = await controlRequest(guest, 'GET', '/metrics');
    expect(answer.status, await journalText(guest, 'moor.service', before)).toBe(200);
    scraped = parseExposition(answer.body);
    const last = JSON.parse(await guest.readFile('/var/lib/moor/last-pass.json')) as { at: string; exitCode: number };
    // Exit 1: a workload failed.
    const status = JSON.parse((await guest.exec(['moor', 'status', '--json'])).stdout) as { live?: { generation: number } };
    expect(last.exitCode).toBe(1);
    expect(value(scraped, 'moor_passes_total', { result: 'partial' })).toBe(1);
    expect(value(scraped, 'moor_last_pass_exit_code')).toBe(1);
    expect(value(scraped, 'moor_last_pass_timestamp_seconds')).toBe(Date.parse(last.at) / 1000);
    // A failed generation does not go live: the gauge follows what `moor status` calls live.
    if (status.live) expect(value(scraped, 'moor_live_generation')).toBe(status.live.generation);
    else expect(scraped.map((f) => f.name)).not.toContain('moor_live_generation');
    expect(value(scraped, 'moor_workload_result', { workload: 'hello', result: 'ok' })).toBe(1);
    expect(value(scraped, 'moor_workload_result', { workload: 'broken', result: 'failed' })).toBe(1);
    expect(value(scraped, 'moor_workload_restarts_total', { workload: 'hello' })).toBe(1);
    expect(value(scraped, 'moor_fetch_duration_seconds')).toBe(1);
  });

  it('[metrics] listen serves the same on TCP, and nothing of the control API', async () => {
    const r = await tcpGet('/metrics');
    expect(r.status).toBe(200);
    expect(value(parseExposition(r.body), 'moor_passes_total', { result: 'partial' })).toBe(1);
    expect((await tcpGet('/v1/status')).status).toBe(404);
  });

  it('on a timer-only host, moor-reconcile.service writes the textfile, counting on from the daemon', async () => {
    await guest.run(['systemctl', 'disable', '--now', 'moor.socket', 'moor.service']);
    await guest.pushRepo({ 'hello.container': containerSpec('one') }, { message: 'broken removed' });
    const run = await guest.exec(['systemctl', 'start', 'moor-reconcile.service']);
    expect(run.code, await journalText(guest, 'moor-reconcile.service')).toBe(0);
    const text = await guest.readFile(TEXTFILE);
    const m = parseExposition(text);
    expect(value(m, 'moor_passes_total', { result: 'partial' })).toBe(1);
    expect(value(m, 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect(value(m, 'moor_last_pass_exit_code')).toBe(0);
    const live = (JSON.parse((await guest.run(['moor', 'status', '--json'])).stdout) as { live: { generation: number } }).live.generation;
    expect(value(m, 'moor_live_generation')).toBe(live);
    expect(value(m, 'moor_commit_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value(m, 'moor_commit_age_seconds')).toBeLessThan(600);
    expect((await guest.run(['stat', '-c', '%a', TEXTFILE])).stdout.trim()).toBe('644');
  });
});
