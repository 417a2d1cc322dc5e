// Metrics of real passes over the fake host: the exposition text, read back by a
// Prometheus text parser, matches the passes that ran (counts by result, exit code, live
// generation, commit age, restarts); a fresh process reads the same from state; the
// node_exporter textfile is written atomically; the TCP listener serves /metrics alone.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GuardError } from '../../daemon/core/errors';
import { metricsText, runMeteredPass } from '../../daemon/pass/pass-metrics';
import { commitTime } from '../../daemon/host/git';
import type { PassOptions } from '../../daemon/pass/context';
import { startMetricsListener, type MetricsListener } from '../../daemon/service/metrics-listener';
import { PassHarness, Timeline, TimelineRunner, containerSpec, git } from '../helpers/pass-harness';
import { family, parseExposition, value } from '../helpers/prometheus-text';

let h: PassHarness;
let listener: MetricsListener | undefined;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(async () => {
  await listener?.close();
  listener = undefined;
  h.cleanup();
});

const TWO = { 'web.container': containerSpec('localhost/web:1'), 'db.container': containerSpec('localhost/db:1') };

/** A pass as the daemon and `reconcile --once` run it: metered, after a lock wait of `lockWaitMs`. */
async function meteredPass(opts: PassOptions = {}, lockWaitMs = 0) {
  const store = await h.openStore();
  return runMeteredPass({ config: h.config, host: h.host(new TimelineRunner(h.fake, new Timeline())), store, log: h.log, timings: { lockWaitMs } }, opts);
}

async function scrape() {
  return parseExposition(await metricsText(await h.openStore(), h.clock.now()));
}

describe('the metrics of passes', () => {
  it('count passes by result and match the last pass: exit code, time, live generation, commit age, restarts', async () => {
    const commit = h.commit(TWO);
    const first = await meteredPass({}, 250);
    expect(first.exitCode).toBe(0);

    // An update of db whose unit fails: a partial pass; the failed generation does not go live.
    h.commit({ ...TWO, 'db.container': containerSpec('localhost/db:2') });
    h.fake.failUnit('db', 'db.service');
    h.clock.advance(60_000);
    const second = await meteredPass();
    expect(second.exitCode).toBe(1);

    const m = await scrape();
    expect(value(m, 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect(value(m, 'moor_passes_total', { result: 'partial' })).toBe(1);
    expect(value(m, 'moor_last_pass_exit_code')).toBe(1);
    const last = (await (await h.openStore()).lastPass.read())!;
    expect(value(m, 'moor_last_pass_timestamp_seconds')).toBe(Date.parse(last.at) / 1000);
    expect(value(m, 'moor_live_generation')).toBe(first.generation);
    expect(await (await h.openStore()).generations.current()).toBe(first.generation);
    // The live commit is the first one: its committer time, from git.
    const committed = Number(git(h.work, 'show', '-s', '--format=%ct', commit));
    expect(value(m, 'moor_commit_age_seconds')).toBeCloseTo(h.clock.now().getTime() / 1000 - committed, 3);
    expect(value(m, 'moor_workload_restarts_total', { workload: 'web' })).toBe(1);
    expect(value(m, 'moor_workload_restarts_total', { workload: 'db' })).toBe(2);
    const dbResult = second.items.find((i) => i.workload === 'db')!.result;
    expect(dbResult).not.toBe('ok');
    expect(value(m, 'moor_workload_result', { workload: 'db', result: dbResult })).toBe(1);
    expect(value(m, 'moor_workload_result', { workload: 'web', result: 'ok' })).toBe(1);
    expect(value(m, 'moor_guard_refusals_total')).toBe(0);
    // Two lock waits (0.25 s and none) and two fetches.
    expect(family(m, 'moor_lock_wait_seconds').metrics[0]).toMatchObject({ count: '2', sum: '0.25' });
    expect(family(m, 'moor_fetch_duration_seconds').metrics[0]).toMatchObject({ count: '2' });
  });

  it('a dry run counts for nothing; a pass the guard refuses counts as refused and as a guard refusal', async () => {
    h.commit(TWO);
    await meteredPass();
    await meteredPass({ dryRun: true });
    h.clear().push('everything gone');
    await expect(meteredPass()).rejects.toBeInstanceOf(GuardError);

    const m = await scrape();
    expect(value(m, 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect(value(m, 'moor_passes_total', { result: 'refused' })).toBe(1);
    expect(family(m, 'moor_passes_total').metrics).toHaveLength(2);
    expect(value(m, 'moor_guard_refusals_total')).toBe(1);
    expect(value(m, 'moor_last_pass_exit_code')).toBe(5);
    // The refused pass changed nothing: the workloads' results stand.
    expect(value(m, 'moor_workload_result', { workload: 'web', result: 'ok' })).toBe(1);
  });

  it('a restarted daemon (a fresh store) reports the same; a host with no pass has no last-pass gauges', async () => {
    expect(family(await scrape(), 'moor_guard_refusals_total').metrics[0]!.value).toBe('0');
    expect((await scrape()).map((f) => f.name)).not.toContain('moor_last_pass_exit_code');
    h.commit(TWO);
    await meteredPass();
    const before = await metricsText(await h.openStore(), h.clock.now());
    expect(await metricsText(await h.openStore(), h.clock.now())).toBe(before);
    expect(value(parseExposition(before), 'moor_live_generation')).toBe(1);
  });
});

describe('commitTime', () => {
  it("reads a commit's committer time from git; an unknown commit or a missing checkout is no time, not an error", async () => {
    const commit = h.commit(TWO);
    expect(await commitTime(h.work, commit, 10_000)).toBe(Number(git(h.work, 'show', '-s', '--format=%ct', commit)));
    expect(await commitTime(h.work, 'f'.repeat(40), 10_000)).toBeUndefined();
    expect(await commitTime(join(h.root, 'no-checkout'), commit, 10_000)).toBeUndefined();
    expect(await commitTime(h.work, '--help', 10_000)).toBeUndefined();
  });
});

describe('[metrics] textfile', () => {
  it('is written after each pass, atomically, readable by node_exporter, equal to the scrape', async () => {
    const textfile = join(h.root, 'node-exporter', 'moor.prom');
    h.config = h.makeConfig({ metrics: { textfile } });
    h.commit(TWO);
    await meteredPass();
    const first = parseExposition(readFileSync(textfile, 'utf8'));
    expect(value(first, 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect(statSync(textfile).mode & 0o777).toBe(0o644);

    h.fake.failUnit('web', 'web.service');
    h.commit({ ...TWO, 'web.container': containerSpec('localhost/web:2') });
    await meteredPass();
    const text = readFileSync(textfile, 'utf8');
    expect(text).toBe(await metricsText(await h.openStore(), h.clock.now()));
    expect(value(parseExposition(text), 'moor_last_pass_exit_code')).toBe(1);
    // Only the file itself: no temp file left beside it.
    expect(readdirSync(join(h.root, 'node-exporter'))).toEqual(['moor.prom']);
  });

  it('a textfile that cannot be written is a warning: the pass and its totals stand', async () => {
    const blocker = join(h.root, 'not-a-dir');
    writeFileSync(blocker, '');
    h.config = h.makeConfig({ metrics: { textfile: join(blocker, 'moor.prom') } });
    h.commit(TWO);
    expect((await meteredPass()).exitCode).toBe(0);
    expect(h.logs.some((l) => l.startsWith('<4>could not record the pass in the metrics'))).toBe(true);
    expect(value(await scrape(), 'moor_passes_total', { result: 'ok' })).toBe(1);
  });
});

describe('[metrics] listen', () => {
  function get(port: number, method: string, path: string): Promise<{ status: number; body: string; type?: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers['content-type'] ? { type: res.headers['content-type'] } : {}) }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves GET /metrics and nothing of the control API', async () => {
    h.commit(TWO);
    await meteredPass();
    listener = await startMetricsListener({ host: '127.0.0.1', port: 0, metrics: async () => metricsText(await h.openStore(), h.clock.now()), log: h.log });
    const r = await get(listener.port, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(value(parseExposition(r.body), 'moor_passes_total', { result: 'ok' })).toBe(1);
    expect((await get(listener.port, 'GET', '/v1/status')).status).toBe(404);
    expect((await get(listener.port, 'POST', '/v1/reconcile')).status).toBe(404);
    expect((await get(listener.port, 'POST', '/metrics')).status).toBe(405);
  });

  it('an address it cannot bind is a host error naming metrics.listen', async () => {
    listener = await startMetricsListener({ host: '127.0.0.1', port: 0, metrics: async () => '', log: h.log });
    await expect(startMetricsListener({ host: '127.0.0.1', port: listener.port, metrics: async () => '', log: h.log })).rejects.toThrow(/metrics\.listen: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });
});
