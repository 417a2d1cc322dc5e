// moor restore (docs/design.md §5): an archive goes back only into a user every ownership
// rule says is moor's, as that user; its services are stopped first and a redeploy is
// requested. Over the fake host.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { restoreArchive } from '../../daemon/pass/restore-archive';
import type { PassContext } from '../../daemon/pass/context';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
afterEach(() => h.cleanup());

const DATA = '.local/share/containers/storage/volumes/systemd-web-data/_data/kept';

/** web deployed with data in its home, removed (archived), then added again. */
async function archivedThenReadded(): Promise<string> {
  h = new PassHarness();
  h.commit({ 'alpha.container': containerSpec('localhost/alpha:1'), 'web.container': containerSpec() });
  expect((await h.pass()).result.exitCode).toBe(0);
  h.fake.files.get('web')!.set(DATA, { content: 'data', mode: 0o644 });
  h.commit({ 'alpha.container': containerSpec('localhost/alpha:1') }, 'web goes');
  expect((await h.pass()).result.exitCode).toBe(0);
  const [archive] = readdirSync(join(h.stateDir, 'archives'));
  h.commit({ 'alpha.container': containerSpec('localhost/alpha:1'), 'web.container': containerSpec() }, 'web is back');
  expect((await h.pass()).result.exitCode).toBe(0);
  return archive!;
}

async function ctx(): Promise<PassContext> {
  return { config: h.config, host: h.host(h.fake), store: await h.openStore(), log: h.log };
}

describe('moor restore', () => {
  it('unpacks into the re-added workload, stops its service first, and asks for a redeploy', async () => {
    const archive = await archivedThenReadded();
    const before = h.fake.calls.length;
    const out = await restoreArchive(await ctx(), archive);
    expect(out).toMatchObject({ workload: 'web', user: 'web', uid: h.fake.passwd.get('web')!.uid });
    expect(h.fake.userFiles('web').get(DATA)?.content).toBe('data');
    const lines = h.fake.callLines().slice(before);
    expect(lines.findIndex((l) => l.endsWith('systemctl --user stop web.service'))).toBeLessThan(lines.findIndex((l) => l.includes('tar --extract')));
    expect((await (await h.openStore()).redeploy.list()).map((r) => r.workload)).toEqual(['web']);
  });

  it('refuses a user moor does not own, naming every rule it breaks, and unpacks nothing', async () => {
    const archive = await archivedThenReadded();
    // Restored "into alpha" as if alpha had been made by hand: out of the registry, no marker.
    const store = await h.openStore();
    await store.ownedUsers.forget('alpha');
    h.fake.passwd.get('alpha')!.gecos = 'alpha';
    const before = h.fake.calls.length;
    await expect(restoreArchive(await ctx(), archive, 'alpha')).rejects.toThrow(
      "refusing to restore into user alpha: it is not in moor's ownership registry, it lacks the moor-managed marker; nothing was changed",
    );
    expect(h.fake.callLines().slice(before).filter((l) => /tar|stop/.test(l))).toEqual([]);
    expect(h.fake.userFiles('alpha').has(DATA)).toBe(false);
  });

  it('refuses a protected user', async () => {
    const archive = await archivedThenReadded();
    h.config = h.makeConfig({ protected_users: ['web'] });
    await expect(restoreArchive(await ctx(), archive)).rejects.toThrow(/refusing to restore into user web: it is a protected user/);
    expect(h.fake.userFiles('web').has(DATA)).toBe(false);
  });
});
