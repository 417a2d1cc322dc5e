// Workloads leaving the repository: the removal sequence, its order, and the guard that
// refuses a plan removing everything (or too much).
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GuardError } from '../../daemon/core/errors';
import { MESSAGE_IDS } from '../../daemon/core/journal-entry';
import { decodeJournalEntry } from '../helpers/journal-entry';
import { PassHarness, asUserLine, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
afterEach(() => h.cleanup());

/** A removal's long argv in short: `find ROOT ACTION`, `tar --create HOME -> FILE` (time as *). */
function summarize(call: string): string {
  const words = call.split(' ');
  if (words[0] === 'find') return `find ${words[2]} ${words[words.length - 1]}`;
  if (words[0] === 'tar') {
    const value = (name: string) => words.find((w) => w.startsWith(`--${name}=`))?.slice(name.length + 3);
    return `tar --create ${value('directory')} -> ${value('file')?.replace(/\d{8}T\d{6}Z/, '*')}`;
  }
  return call;
}

const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
const specs = (names: readonly string[]) => Object.fromEntries(names.map((n) => [`${n}.container`, containerSpec(`localhost/${n}:1`)]));
const MUTATING = /useradd|userdel|groupadd|enable-linger|disable-linger|terminate-user|__write-files|daemon-reload| (re)?start | stop |enable /;

async function deploy(names: readonly string[]) {
  h.commit(specs(names));
  const first = await h.pass();
  expect(first.result.exitCode).toBe(0);
  return Object.fromEntries(names.map((n) => [n, h.fake.passwd.get(n)!.uid]));
}

describe('removed workloads', () => {
  beforeEach(() => {
    h = new PassHarness();
  });

  it('stop units → disable-linger → terminate-user → stop user manager and slice → kill → archive → clean → userdel, in reverse sorted order', async () => {
    const uids = await deploy(NAMES);
    h.commit(specs(['alpha', 'charlie', 'echo']), 'drop bravo and delta');
    const { result, calls } = await h.pass();

    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['alpha', 'unchanged', 'ok'],
      ['charlie', 'unchanged', 'ok'],
      ['echo', 'unchanged', 'ok'],
      ['delta', 'remove', 'ok'],
      ['bravo', 'remove', 'ok'],
    ]);
    expect(result.counts).toEqual({ applied: 0, unchanged: 3, failed: 0, rolledBack: 0, removed: 2 });
    const searches = (action: string) => ['/tmp', '/var/tmp', '/dev/shm', '/var/spool/cron', '/var/log/journal'].map((root) => `find ${root} ${action}`);
    const removal = (user: string, uid: number) => [
      `getent passwd ${user}`,
      asUserLine(user, uid, `systemctl --user stop ${user}.service`),
      `loginctl disable-linger ${user}`,
      `loginctl terminate-user ${user}`,
      `systemctl stop user@${uid}.service`,
      `systemctl stop user-${uid}.slice`,
      'ps -e -o pid= -o ruid= -o euid= -o suid=',
      `tar --create /home/${user} -> ${join(h.stateDir, 'archives')}/${user}-${uid}-*.tar.gz.partial`,
      ...searches('-delete'),
      ...searches('-print'),
      `userdel --remove ${user}`,
    ];
    const tail = calls.slice(calls.indexOf('getent passwd delta')).map(summarize);
    expect(tail).toEqual([...removal('delta', uids.delta!), ...removal('bravo', uids.bravo!)]);
    // Nothing else changed anything.
    expect(calls.slice(0, calls.indexOf('getent passwd delta')).filter((c) => MUTATING.test(c))).toEqual([]);

    for (const gone of ['bravo', 'delta']) {
      expect(h.fake.passwd.has(gone)).toBe(false);
      expect(h.fake.linger.has(gone)).toBe(false);
      expect(h.fake.managers.has(uids[gone]!)).toBe(false);
      expect(h.fake.files.has(gone)).toBe(false);
      expect(h.fake.groups.get('moor-managed')?.members).not.toContain(gone);
    }
    const store = await h.openStore();
    expect((await store.applied.list()).map((a) => a.workload)).toEqual(['alpha', 'charlie', 'echo']);
    expect((await store.ownedUsers.list()).map((u) => u.name)).toEqual(['alpha', 'charlie', 'echo']);
    expect(result.generationState).toBe('complete');
    // The state forgets a user only after userdel succeeded.
    const events = (await h.pass()).timeline.events; // a clean pass: nothing left to remove
    expect(events.filter((e) => e.includes('forget') || e.includes('applied.delete'))).toEqual([]);
  });

  it('forgets the user only after userdel, and retries a user that is still busy', async () => {
    const uids = await deploy(['alpha', 'bravo', 'charlie']);
    h.fake.makeUserBusy('bravo', 2);
    h.commit(specs(['alpha', 'charlie']));
    const t0 = h.clock.ms;
    const { result, calls, timeline } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(calls.filter((c) => c === 'userdel --remove bravo')).toHaveLength(3);
    expect(h.clock.ms - t0).toBeGreaterThanOrEqual(2000);
    expect(h.fake.passwd.has('bravo')).toBe(false);
    const e = timeline.events;
    const lastUserdel = e.lastIndexOf('run userdel --remove bravo');
    expect(e.indexOf('state ownedUsers.forget bravo')).toBeGreaterThan(lastUserdel);
    expect(e.indexOf('state applied.delete bravo')).toBeGreaterThan(e.indexOf('state ownedUsers.forget bravo'));
    expect(result.items.find((i) => i.workload === 'bravo')?.uid).toBe(uids.bravo);
  });

  it('a user that stays busy fails its item and is kept in the registry for the next pass', async () => {
    await deploy(['alpha', 'bravo', 'charlie']);
    h.fake.makeUserBusy('bravo', 100);
    h.commit(specs(['alpha', 'charlie']));
    const { result } = await h.pass();
    expect(result.exitCode).toBe(1);
    const bravo = result.items.find((i) => i.workload === 'bravo')!;
    expect(bravo).toMatchObject({ action: 'remove', result: 'failed' });
    expect(bravo.error).toContain('userdel --remove bravo exited 8');
    const store = await h.openStore();
    expect(await store.applied.read('bravo')).toBeDefined();
    expect(await store.ownedUsers.isOwned('bravo')).toBe(true);
    // Once the user is free, the next pass finishes the job.
    h.fake.makeUserBusy('bravo', 0);
    const next = await h.pass();
    expect(next.result.exitCode).toBe(0);
    expect(next.result.items.find((i) => i.workload === 'bravo')).toMatchObject({ action: 'remove', result: 'ok' });
    expect(h.fake.passwd.has('bravo')).toBe(false);
  });

  it('a user already deleted by hand is simply forgotten', async () => {
    await deploy(['alpha', 'bravo', 'charlie']);
    const uid = h.fake.passwd.get('bravo')!.uid;
    await h.fake.run(['loginctl', 'disable-linger', 'bravo'], { timeoutMs: 1000 });
    await h.fake.run(['userdel', '--remove', 'bravo'], { timeoutMs: 1000 });
    h.commit(specs(['alpha', 'charlie']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(calls.filter((c) => c.includes('bravo'))).toEqual(['getent passwd bravo']);
    expect(calls).not.toContain(`systemctl stop user@${uid}.service`);
    const store = await h.openStore();
    expect(await store.applied.read('bravo')).toBeUndefined();
    expect(await store.ownedUsers.isOwned('bravo')).toBe(false);
  });

  it('stops every unit of a multi-unit workload before removing it', async () => {
    h.commit({
      ...specs(['alpha', 'charlie']),
      'web.container': containerSpec(),
      'web-data.volume': '[Volume]\n',
      'web-nightly.service': '[Service]\nType=oneshot\nExecStart=/bin/true\n',
      'web-nightly.timer': '[Timer]\nOnCalendar=daily\n',
    });
    await h.pass();
    const uid = h.fake.passwd.get('web')!.uid;
    h.commit(specs(['alpha', 'charlie']));
    const { result, calls } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(calls).toContain(
      asUserLine('web', uid, 'systemctl --user stop web-data-volume.service web-nightly.service web-nightly.timer web.service'),
    );
    expect(h.fake.passwd.has('web')).toBe(false);
  });
});

describe('the mass-removal guard', () => {
  beforeEach(() => {
    h = new PassHarness();
  });

  async function snapshot() {
    const store = await h.openStore();
    return {
      applied: await store.applied.list(),
      owned: await store.ownedUsers.list(),
      generations: (await store.generations.list()).map((g) => [g.id, g.state]),
      users: [...h.fake.passwd.keys()].sort(),
      active: [...h.fake.units.entries()].map(([u, m]) => [u, [...m.entries()].map(([n, s]) => [n, s.activeState])]),
    };
  }

  it('an empty repo after a populated one: GuardError, nothing changed; with allowMassRemoval: all removed', async () => {
    await deploy(['alpha', 'bravo']);
    const before = await snapshot();
    h.clear().push('oops, empty');

    const callsBefore = h.fake.calls.length;
    const error = await h.pass().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuardError);
    expect((error as GuardError).message).toContain('removes every workload (2)');
    expect([...(error as GuardError).removals].sort()).toEqual(['alpha', 'bravo']);
    // The refusal is one journal record with its MESSAGE_ID, at error priority.
    const refusals = h.entries.map((e) => Object.fromEntries(decodeJournalEntry(e))).filter((e) => e.MESSAGE_ID === MESSAGE_IDS.guardRefused);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ PRIORITY: '3', SYSLOG_IDENTIFIER: 'moor' });
    expect(refusals[0]!.MESSAGE).toContain('removes every workload (2)');
    // Not one host command ran, and no state changed.
    expect(h.fake.callLines().slice(callsBefore)).toEqual([]);
    expect(await snapshot()).toEqual(before);

    // A dry run reports the refusal (exit 5) rather than throwing.
    const dry = await h.pass({ dryRun: true });
    expect(dry.result.exitCode).toBe(5);
    expect(dry.result.refused).toContain('removes every workload');
    expect(dry.result.summary).toContain('REFUSED');
    expect(await snapshot()).toEqual(before);

    const { result } = await h.pass({ allowMassRemoval: true });
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['bravo', 'remove', 'ok'],
      ['alpha', 'remove', 'ok'],
    ]);
    expect(h.fake.passwd.has('alpha')).toBe(false);
    expect(h.fake.passwd.has('bravo')).toBe(false);
    expect(await (await h.openStore()).applied.list()).toEqual([]);
  });

  it('removing more than max_removals (default 50%) is refused; within it passes', async () => {
    await deploy(['alpha', 'bravo', 'charlie', 'delta']);
    const before = await snapshot();
    h.commit(specs(['alpha']));
    const callsBefore = h.fake.calls.length;
    const error = await h.pass().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuardError);
    expect((error as GuardError).message).toContain('removes 3 of 4 workloads, more than max_removals (50% of 4)');
    // Read-only lookups only (the kept workload's user and state).
    expect(h.fake.callLines().slice(callsBefore).filter((c) => MUTATING.test(c))).toEqual([]);
    expect(await snapshot()).toEqual(before);

    h.commit(specs(['alpha', 'bravo']));
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.counts.removed).toBe(2);
  });

  it('a count for max_removals is honoured', async () => {
    h.cleanup();
    h = new PassHarness({ config: { max_removals: { count: 3 } } });
    await deploy(['alpha', 'bravo', 'charlie', 'delta']);
    h.commit(specs(['alpha']));
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.counts.removed).toBe(3);
  });
});
