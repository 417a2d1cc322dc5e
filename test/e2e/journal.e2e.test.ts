// moor's records in a real journal: installed as an operator installs it (the bundle with
// its sd-notify and unix-dgram addons), a pass from moor-reconcile.service and one from
// moor.service, then journalctl filtering on moor's own fields (docs/operations.md,
// "Journal fields").
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MESSAGE_IDS } from '../../daemon/core/journal-entry';
import { GUEST_MOOR, REPO_ROOT, describeExec, eventually, leftoverGuests, type Guest } from './guest';
import { bootDaemonGuest, containerSpec, daemonConfig, failingSpec, installMoor } from './daemon-helpers';

const HOST_DGRAM_ADDON = join(REPO_ROOT, 'dist', 'unix-dgram.node');
let guest: Guest;

beforeAll(async () => {
  const setup = inject('e2e');
  if (setup.bundleError) throw new Error(`no moor bundle to test: ${setup.bundleError}`);
  if (!existsSync(HOST_DGRAM_ADDON)) throw new Error(`${HOST_DGRAM_ADDON} is missing: run \`npm run build\` where the unix-dgram addon builds`);
  // Every guest has the addon beside moor.mjs (guest.ts), as install-units --bundle puts it.
  guest = await bootDaemonGuest();
  await installMoor(guest, daemonConfig());
});

afterAll(async () => {
  await guest?.shutdown();
  expect(await leftoverGuests()).toEqual([]);
});

/** `journalctl MATCH... -o json` as records of their string fields. */
async function journal(...matches: string[]): Promise<Array<Record<string, string>>> {
  const r = await guest.exec(['journalctl', '--no-pager', '-o', 'json', ...matches]);
  if (r.code !== 0 && !/No entries/.test(r.stdout + r.stderr)) throw new Error(describeExec(r));
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, Array.isArray(v) ? Buffer.from(v as number[]).toString('utf8') : String(v)])));
}

describe('journal fields', () => {
  it('a pass of moor-reconcile.service: its records carry MOOR_* fields, the identifier moor and the pass MESSAGE_IDs', async () => {
    await guest.pushRepo({ 'web.container': containerSpec('one') }, { message: 'web, one' });
    const run = await guest.exec(['systemctl', 'start', 'moor-reconcile.service']);
    expect(run.code, describeExec(run)).toBe(0);

    const web = await journal('MOOR_WORKLOAD=web');
    expect(web.length, 'journalctl MOOR_WORKLOAD=web lists the workload').toBeGreaterThan(0);
    expect(web[0]).toMatchObject({ SYSLOG_IDENTIFIER: 'moor', MOOR_ACTION: 'create', MOOR_RESULT: 'ok', MOOR_USER: 'web', MOOR_GENERATION: '1', _SYSTEMD_UNIT: 'moor-reconcile.service' });
    expect(web[0]!.MOOR_COMMIT).toMatch(/^[0-9a-f]{12}$/);

    const tagged = await journal('-t', 'moor');
    expect(tagged.some((e) => e.MESSAGE?.startsWith('web: create ok'))).toBe(true);
    expect(tagged.some((e) => e.SYSLOG_IDENTIFIER !== 'moor')).toBe(false);

    const started = await journal(`MESSAGE_ID=${MESSAGE_IDS.passStarted}`);
    const finished = await journal(`MESSAGE_ID=${MESSAGE_IDS.passFinished}`);
    expect(started).toHaveLength(1);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ PRIORITY: '6', MOOR_EXIT_CODE: '0', MOOR_GENERATION: '1' });
    expect(finished[0]!.MESSAGE).toMatch(/^pass done: /);
  });

  it('a failed workload in a daemon pass: MESSAGE_ID workload failed names it, at error priority', async () => {
    await guest.pushRepo({ 'web.container': failingSpec() }, { message: 'web, failing' });
    const start = await guest.exec(['systemctl', 'start', 'moor.service']);
    expect(start.code, describeExec(start)).toBe(0);
    const failed = await eventually('the daemon logs the failed workload', async () => {
      const found = await journal(`MESSAGE_ID=${MESSAGE_IDS.workloadFailed}`, 'MOOR_WORKLOAD=web');
      return found.length > 0 ? found : undefined;
    }, 120_000, 500);
    expect(failed[0]).toMatchObject({ PRIORITY: '3', SYSLOG_IDENTIFIER: 'moor', MOOR_ACTION: 'update', _SYSTEMD_UNIT: 'moor.service' });
    expect(['failed', 'rolled-back']).toContain(failed[0]!.MOOR_RESULT);
    const finished = await eventually('the daemon logs the pass finished', async () => {
      const found = await journal(`MESSAGE_ID=${MESSAGE_IDS.passFinished}`, '_SYSTEMD_UNIT=moor.service');
      return found.length > 0 ? found : undefined;
    });
    expect(finished[0]).toMatchObject({ PRIORITY: '3', MOOR_EXIT_CODE: '1' });
  });
});
