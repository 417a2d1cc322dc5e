// `moor load-image` against the fake host: only into an applied workload's user, every
// ownership rule checked first, the archive given as stdin to `podman load` run as the
// user in a scope of its slice; refusals name the workload or file and change nothing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, exitCodeOfError } from '../../daemon/core/exit-codes';
import { loadImage } from '../../daemon/pass/load-image';
import type { PassContext } from '../../daemon/pass/context';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

let h: PassHarness;
let archive: string;
beforeEach(async () => {
  h = new PassHarness();
  h.commit({ 'web.container': containerSpec('localhost/web:1') });
  expect((await h.pass()).result.exitCode).toBe(0);
  archive = join(h.root, 'web-image.tar');
  writeFileSync(archive, 'localhost/web:1\nlocalhost/web:latest\n');
});
afterEach(() => h.cleanup());

async function context(config = h.config): Promise<PassContext> {
  return { config, host: h.host(h.fake, config), store: await h.openStore(), log: h.log };
}

async function refusal(workload: string, path: string, config = h.config): Promise<{ code: ExitCode; message: string; calls: string[] }> {
  const before = h.fake.calls.length;
  const err = await loadImage(await context(config), workload, path).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err, 'refused').toBeDefined();
  return { code: exitCodeOfError(err), message: err!.message, calls: h.fake.callLines().slice(before).filter((c) => c.includes('podman')) };
}

describe('moor load-image', () => {
  it("streams the archive to podman load as the workload's user, in a scope of its slice", async () => {
    const uid = h.fake.passwd.get('web')!.uid;
    const before = h.fake.calls.length;
    const out = await loadImage(await context(), 'web', archive);
    expect(out).toEqual({ workload: 'web', user: 'web', uid, archive, images: ['localhost/web:1', 'localhost/web:latest'] });
    expect([...h.fake.images.get('web')!]).toEqual(['localhost/web:1', 'localhost/web:latest']);
    const load = h.fake.callLines().slice(before).filter((c) => c.endsWith('podman load'));
    expect(load).toEqual([
      `systemd-run --scope --quiet --collect --slice=user-${uid}.slice --uid=web --setenv=XDG_RUNTIME_DIR=/run/user/${uid} --setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${uid}/bus -- podman load`,
    ]);
  });

  it('loads into the user of a workload whose first start failed (the image it lacked)', async () => {
    h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:1') });
    h.fake.failUnit('api', 'api.service');
    expect((await h.pass()).result.items.find((i) => i.workload === 'api')).toMatchObject({ action: 'create', result: 'failed' });
    expect(await (await h.openStore()).applied.read('api')).toBeUndefined();
    const out = await loadImage(await context(), 'api', archive);
    expect(out).toMatchObject({ workload: 'api', user: 'api', images: ['localhost/web:1', 'localhost/web:latest'] });
    expect(h.fake.images.get('api')?.size).toBe(2);
  });

  it('refuses a workload that is not applied and has no user of moor (exit 2), naming it, before any podman', async () => {
    const unknown = await refusal('nope', archive);
    expect(unknown.code).toBe(ExitCode.Invalid);
    expect(unknown.message).toContain('workload nope is not applied on this host');
    expect(unknown.calls).toEqual([]);

    // In the repository but no pass since it was pushed: no user yet.
    h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:1') });
    const pending = await refusal('api', archive);
    expect(pending.code).toBe(ExitCode.Invalid);
    expect(pending.message).toContain('workload api is not applied on this host');
    expect(h.fake.images.size).toBe(0);
  });

  it('refuses an archive that is missing or not a regular file (exit 2)', async () => {
    const missing = await refusal('web', join(h.root, 'none.tar'));
    expect(missing.code).toBe(ExitCode.Invalid);
    expect(missing.message).toBe(`${join(h.root, 'none.tar')}: not found; give the path of an image archive (podman save, docker save)`);
    mkdirSync(join(h.root, 'dir.tar'));
    const dir = await refusal('web', join(h.root, 'dir.tar'));
    expect(dir.code).toBe(ExitCode.Invalid);
    expect(dir.message).toContain('not a regular file');
    expect(missing.calls.concat(dir.calls)).toEqual([]);
  });

  it('refuses a user the ownership rules do not give to moor, before any podman', async () => {
    const r = await refusal('web', archive, h.makeConfig({ protected_users: ['web'] }));
    expect(r.code).toBe(ExitCode.Failed);
    expect(r.message).toBe('refusing to load an image as user web: it is a protected user; nothing was changed');
    expect(r.calls).toEqual([]);
  });

  it("a failed podman load is a host error carrying podman's words", async () => {
    writeFileSync(archive, 'NOT AN IMAGE\n');
    const r = await refusal('web', archive);
    expect(r.code).toBe(ExitCode.Failed);
    expect(r.message).toContain(`loading ${archive} as web failed`);
    expect(r.message).toContain('does not match any of the supported image formats');
  });
});
