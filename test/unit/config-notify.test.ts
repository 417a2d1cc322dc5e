// [notify]: defaults, and the receivers' needs refused at load with the key named.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../daemon/host/config-load';
import { notifyResultOf, retryDelayMs, shouldNotify } from '../../daemon/core/notify-policy';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function load(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'moor-config-notify-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'config.toml'), text);
  return loadConfig({ file: join(dir, 'config.toml') });
}

describe('[notify] config', () => {
  it('is unset without receivers, and fills its defaults with them', async () => {
    expect((await load('[notify]\non = "always"\n')).notify).toBeUndefined();
    const c = await load('[notify]\ncommands = [["/usr/local/bin/page", "ops"]]\nuser = "moor-notify"\nurls = ["https://hooks.example/moor"]\nsecret_file = "/etc/moor/notify.secret"\n');
    expect(c.notify).toEqual({
      commands: [['/usr/local/bin/page', 'ops']],
      user: 'moor-notify',
      urls: ['https://hooks.example/moor'],
      secretFile: '/etc/moor/notify.secret',
      timeoutMs: 10_000,
      on: 'change',
      retries: 3,
    });
  });

  it('refuses root as the user of the commands', async () => {
    await expect(load('[notify]\ncommands = [["/bin/true"]]\nuser = "root"\n')).rejects.toThrow(/notify\.user.*never run as root|never run as root/);
  });

  it('refuses commands without a user and URLs without a secret file, naming the key', async () => {
    await expect(load('[notify]\ncommands = [["/bin/true"]]\n')).rejects.toThrow(/notify\.commands needs notify\.user/);
    await expect(load('[notify]\nurls = ["https://hooks.example/moor"]\n')).rejects.toThrow(/notify\.urls needs notify\.secret_file/);
  });

  it('refuses a URL that is not http(s), an empty argv and an unknown "on"', async () => {
    await expect(load('[notify]\nurls = ["file:///etc/passwd"]\nsecret_file = "/s"\n')).rejects.toThrow(/http/);
    await expect(load('[notify]\ncommands = [[]]\nuser = "n"\n')).rejects.toThrow(/argv/);
    await expect(load('[notify]\nurls = ["http://h/"]\nsecret_file = "/s"\non = "sometimes"\n')).rejects.toThrow(/notify/);
  });
});

describe('when a pass is announced', () => {
  it('its result is the class of its exit code', () => {
    expect([0, 1, 2, 4, 5, 6].map(notifyResultOf)).toEqual(['ok', 'failed', 'failed', 'failed', 'failed', 'failed']);
  });

  it('on change: ok → failed and failed → ok; nothing recorded counts as ok', () => {
    expect(shouldNotify('change', undefined, 'ok')).toBe(false);
    expect(shouldNotify('change', undefined, 'failed')).toBe(true);
    expect(shouldNotify('change', 'failed', 'failed')).toBe(false);
    expect(shouldNotify('change', 'failed', 'ok')).toBe(true);
    expect(shouldNotify('always', 'ok', 'ok')).toBe(true);
  });

  it('retries wait twice as long each time, capped', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, 1_000))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(20, 1_000)).toBe(60_000);
  });
});
