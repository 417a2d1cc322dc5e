// Faults of the world: Podman or its Quadlet generator missing, or Podman installed and
// failing. A pass that would write a workload's files names what is missing and changes
// nothing; `moor doctor` tells not found from failing and shows the failing command's
// stderr (a real `podman` on PATH, or none).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostError } from '../../daemon/core/errors';
import { exitCodeOfError } from '../../daemon/core/exit-codes';
import { runPreflight } from '../../daemon/host/preflight';
import { ExecaRunner } from '../../daemon/host/exec';
import { QUADLET_USER_GENERATOR } from '../../daemon/host/systemd';
import { createPassExecutor } from '../../daemon/service/pass-executor';
import { containerSpec, PassHarness } from '../helpers/pass-harness';

const MUTATING = /useradd|userdel|usermod|groupadd|enable-linger|disable-linger|terminate-user|__write-files|daemon-reload| (re)?start | stop |enable |kill |tar /;

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
});
afterEach(() => h.cleanup());

async function deployed(): Promise<void> {
  h.commit({ 'web.container': containerSpec('localhost/web:1'), 'api.container': containerSpec('localhost/api:1') });
  expect((await h.pass()).result.exitCode).toBe(0);
}

async function failedPass(): Promise<{ err: unknown; calls: string[] }> {
  const before = h.fake.calls.length;
  const err = await h.pass().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, calls: h.fake.callLines().slice(before) };
}

describe("Podman's Quadlet generator is missing", () => {
  it('a pass with a change to apply exits 6 naming the generator, and changes nothing: what runs keeps running', async () => {
    await deployed();
    h.fake.quadletGenerator = false;
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'api.container': containerSpec('localhost/api:1') });
    const { err, calls } = await failedPass();

    expect(err).toBeInstanceOf(HostError);
    expect(exitCodeOfError(err)).toBe(6);
    expect((err as Error).message).toBe(`the Quadlet generator ${QUADLET_USER_GENERATOR} is missing (it comes with Podman): nothing was changed (install or repair Podman; moor doctor checks the host)`);
    expect(calls.filter((c) => MUTATING.test(c))).toEqual([]);
    expect(h.fake.unit('web', 'web.service')).toMatchObject({ loadState: 'loaded', activeState: 'active' });
    expect(h.fake.userFiles('web').get('.config/containers/systemd/web.container')?.content).toContain('localhost/web:1');
    const last = await (await h.openStore()).lastPass.read();
    expect(last).toMatchObject({ exitCode: 6 });
    expect(last!.summary).toContain(`pass failed: HostError: the Quadlet generator ${QUADLET_USER_GENERATOR} is missing`);
  });

  it('nothing is removed because of it: units gone from every user manager (a reboot without the generator) are drift, and the pass stops before acting on it', async () => {
    await deployed();
    h.fake.quadletGenerator = false;
    // A reload elsewhere (a reboot, a package upgrade) ran without the generator: the
    // running units lost their definition.
    for (const user of ['web', 'api']) {
      for (const unit of h.fake.units.get(user)!.values()) Object.assign(unit, { loadState: 'not-found' });
    }
    const { err, calls } = await failedPass();
    expect(exitCodeOfError(err)).toBe(6);
    expect(calls.filter((c) => MUTATING.test(c))).toEqual([]);
    expect(h.fake.passwd.has('web') && h.fake.passwd.has('api')).toBe(true);
    expect(h.fake.unit('web', 'web.service')?.activeState).toBe('active');
    expect(h.fake.unit('api', 'api.service')?.activeState).toBe('active');
  });

  it('a pass with nothing to apply is not held up: an unchanged host stays as it is (exit 0), and a workload that left the repository is still removed', async () => {
    await deployed();
    h.fake.quadletGenerator = false;
    expect((await h.pass()).result.exitCode).toBe(0);
    h.commit({ 'api.container': containerSpec('localhost/api:1') });
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['api', 'unchanged', 'ok'],
      ['web', 'remove', 'ok'],
    ]);
  });

  it('once the generator is back, the next pass applies what waited', async () => {
    await deployed();
    h.fake.quadletGenerator = false;
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'api.container': containerSpec('localhost/api:1') });
    await failedPass();
    h.fake.quadletGenerator = true;
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action])).toEqual([
      ['api', 'unchanged'],
      ['web', 'update'],
    ]);
  });
});

describe('Podman is missing or failing', () => {
  it('not installed: a pass with a new workload exits 6 saying Podman is not installed, and creates no user', async () => {
    h.fake.podman = 'missing';
    h.commit({ 'web.container': containerSpec() });
    const { err, calls } = await failedPass();
    expect(exitCodeOfError(err)).toBe(6);
    expect((err as Error).message).toMatch(/^Podman is not installed \(podman not found\): nothing was changed/);
    expect(calls.filter((c) => MUTATING.test(c))).toEqual([]);
    expect(h.fake.passwd.has('web')).toBe(false);
  });

  it("installed but failing: the pass quotes podman's own error", async () => {
    await deployed();
    h.fake.podman = { failing: 'Error: database static dir "/var/lib/containers/storage/libpod" does not match our static dir' };
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'api.container': containerSpec('localhost/api:1') });
    const { err } = await failedPass();
    expect(exitCodeOfError(err)).toBe(6);
    expect((err as Error).message).toMatch(/^Podman does not run: `podman --version` failed \(exit 125\): Error: database static dir/);
  });

  it('the daemon logs the pass failure at error priority, naming what is missing', async () => {
    await deployed();
    h.fake.podman = 'missing';
    h.commit({ 'web.container': containerSpec('localhost/web:2'), 'api.container': containerSpec('localhost/api:1') });
    const execute = createPassExecutor({ config: () => h.config, log: h.log, openStore: () => h.openStore(), host: (c) => h.host(h.fake, c) });
    const outcome = await execute({ reasons: ['schedule'], shouldStop: () => false, onItem: () => undefined, progress: () => undefined });
    expect(outcome).toMatchObject({ kind: 'error', exitCode: 6 });
    expect(h.logs.filter((l) => l.startsWith('<3>pass failed: HostError: Podman is not installed'))).toHaveLength(1);
  });
});

describe('moor doctor on Podman', () => {
  let bin: string;
  let savedPath: string | undefined;
  beforeEach(() => {
    bin = mkdtempSync(join(tmpdir(), 'moor-doctor-bin-'));
    savedPath = process.env.PATH;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    rmSync(bin, { recursive: true, force: true });
  });

  /** PATH with `bin` first and no other podman. */
  function pathWithout(): string {
    return [bin, '/usr/bin', '/bin', '/usr/sbin', '/sbin'].join(':');
  }
  const podmanCheck = async () => (await runPreflight(new ExecaRunner(), 5_000)).find((c) => c.name === 'podman')!;

  it('says "podman not found" when it is not installed', async () => {
    process.env.PATH = pathWithout();
    const check = await podmanCheck();
    expect(check).toMatchObject({ ok: false, detail: 'podman not found', hint: 'install Podman >= 4.4 (Quadlet)' });
  });

  it('says podman fails, with its exit code and stderr, when it is installed but failing', async () => {
    writeFileSync(join(bin, 'podman'), '#!/bin/sh\necho "Error: cannot re-exec process to join the existing user namespace" >&2\necho "hint: podman system migrate" >&2\nexit 125\n');
    chmodSync(join(bin, 'podman'), 0o755);
    process.env.PATH = pathWithout();
    const check = await podmanCheck();
    expect(check.ok).toBe(false);
    expect(check.detail).toBe('`podman --version` failed (exit 125): Error: cannot re-exec process to join the existing user namespace | hint: podman system migrate');
    expect(check.hint).toMatch(/installed but does not run/);
  });

  it('passes a podman that answers a version of at least 4.4, and fails an older one by its version', async () => {
    writeFileSync(join(bin, 'podman'), '#!/bin/sh\necho "podman version 5.4.2"\n');
    chmodSync(join(bin, 'podman'), 0o755);
    process.env.PATH = pathWithout();
    expect(await podmanCheck()).toMatchObject({ ok: true, detail: 'podman version 5.4.2' });
    writeFileSync(join(bin, 'podman'), '#!/bin/sh\necho "podman version 4.3.1"\n');
    expect(await podmanCheck()).toMatchObject({ ok: false, detail: 'podman version 4.3.1' });
  });
});
