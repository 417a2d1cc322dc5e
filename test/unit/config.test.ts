import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText } from '../../daemon/host/config-load';
import { ConfigError } from '../../daemon/core/errors';
import { findKeyLine } from '../../daemon/core/config/key-line';
import { hostNameOf } from '../../daemon/core/config/resolve';

const dirs: string[] = [];
function configDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'moor-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills every default when no file exists', async () => {
    const dir = configDir({});
    const c = await loadConfig({ file: join(dir, 'config.toml') });
    expect(c).toMatchObject({ userPrefix: '', stateDir: '/var/lib/moor', protectedUsers: ['root'], maxRemovals: { percent: 50 }, maxFileBytes: 1048576 });
    expect(c.timeouts.healthMs).toBe(300_000);
    expect(c.gc).toEqual({ keepMin: 3, keepMax: 10, minAgeMs: 7 * 86_400_000, maxAgeMs: 30 * 86_400_000, maxBytes: 1024 ** 3 });
    expect(c.files).toEqual([]);
  });

  it('requires the file given with --config', async () => {
    const dir = configDir({});
    await expect(loadConfig({ file: join(dir, 'nope.toml'), required: true })).rejects.toThrow(/config file not found/);
  });

  it('merges config.d drop-ins in name order over the main file', async () => {
    const dir = configDir({
      'config.toml': 'user_prefix = "w-"\n[timeouts]\nhealth = "10m"\ncommand = "30s"\n',
      'config.d/20-late.toml': '[timeouts]\nhealth = "2m"\n',
      'config.d/10-early.toml': '[timeouts]\nhealth = "1m"\nfetch = "5s"\n',
      'config.d/ignored.txt': 'not toml',
    });
    const c = await loadConfig({ file: join(dir, 'config.toml') });
    expect(c.userPrefix).toBe('w-');
    expect(c.timeouts).toMatchObject({ healthMs: 120_000, commandMs: 30_000, fetchMs: 5_000 });
    expect(c.files.map((f) => f.slice(dir.length + 1))).toEqual(['config.toml', 'config.d/10-early.toml', 'config.d/20-late.toml']);
  });

  it('rejects an unknown key naming the file, key and line', () => {
    const err = configErrorOf(() => parseConfigText('/etc/moor/config.d/x.toml', 'user_prefix = ""\n\n[timeouts]\nhelth = "5m"\n'));
    expect(err.key).toBe('timeouts.helth');
    expect(err.line).toBe(4);
    expect(err.message).toMatch(/^\/etc\/moor\/config\.d\/x\.toml:4: unknown key "timeouts\.helth"/);
  });

  it('rejects a wrong type naming the key and line', () => {
    const err = configErrorOf(() => parseConfigText('c.toml', '# comment\nmax_file_bytes = "big"\n'));
    expect(err).toMatchObject({ key: 'max_file_bytes', line: 2 });
    // zod's own words say what was wrong, in English, not a bare "Invalid input".
    expect(err.message).toBe('c.toml:2: key "max_file_bytes": Invalid input: expected number, received string');
    expect(configErrorOf(() => parseConfigText('c.toml', '[apply]\nparallel = 33\n')).message).toBe('c.toml:2: key "apply.parallel": Too big: expected number to be <=32');
    const dur = configErrorOf(() => parseConfigText('c.toml', '[gc]\nmin_age = "a week"\n'));
    expect(dur).toMatchObject({ key: 'gc.min_age', line: 2 });
    expect(dur.message).toMatch(/a duration like/);
  });

  it('reports TOML syntax errors with their line', () => {
    const err = configErrorOf(() => parseConfigText('c.toml', 'user_prefix = ""\nstate_dir = \n'));
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/TOML syntax error/);
  });

  it('a drop-in with an error is named, not the main file', async () => {
    const dir = configDir({ 'config.toml': 'user_prefix = "a"\n', 'config.d/50-bad.toml': 'bogus = 1\n' });
    await expect(loadConfig({ file: join(dir, 'config.toml') })).rejects.toThrow(/50-bad\.toml:1: unknown key "bogus"/);
  });

  it('parses max_removals as a percentage or a count, and keeps root protected', () => {
    expect(parseConfigText('c', 'max_removals = "25%"').max_removals).toEqual({ percent: 25 });
    expect(parseConfigText('c', 'max_removals = 3').max_removals).toEqual({ count: 3 });
  });

  it('[metrics]: off unless set; listen as address:port (IPv6 in brackets), textfile an absolute .prom path', async () => {
    expect((await loadConfig({ file: join(configDir({}), 'config.toml') })).metrics).toEqual({});
    expect(parseConfigText('c', '[metrics]\nlisten = "127.0.0.1:9561"').metrics?.listen).toEqual({ host: '127.0.0.1', port: 9561 });
    expect(parseConfigText('c', '[metrics]\nlisten = "[::1]:9561"').metrics?.listen).toEqual({ host: '::1', port: 9561 });
    const dir = configDir({ 'config.toml': '[metrics]\nlisten = "localhost:9100"\ntextfile = "/var/lib/prometheus/node-exporter/moor.prom"\n' });
    expect((await loadConfig({ file: join(dir, 'config.toml') })).metrics).toEqual({ listen: { host: 'localhost', port: 9100 }, textfile: '/var/lib/prometheus/node-exporter/moor.prom' });
    for (const bad of ['9561', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'http://127.0.0.1:9561']) {
      const err = configErrorOf(() => parseConfigText('c.toml', `[metrics]\nlisten = "${bad}"\n`));
      expect(err.key).toBe('metrics.listen');
    }
    expect(configErrorOf(() => parseConfigText('c.toml', '[metrics]\ntextfile = "moor.prom"\n')).key).toBe('metrics.textfile');
    expect(configErrorOf(() => parseConfigText('c.toml', '[metrics]\ntextfile = "/var/lib/moor.txt"\n')).message).toContain('.prom');
  });

  it('[host] and [fleet]: the machine\'s short host name by default, labels, a ring and the ring before it', async () => {
    const defaults = await loadConfig({ file: join(configDir({}), 'config.toml') });
    expect(defaults.host).toEqual({ name: hostNameOf(hostname()), labels: {} });
    expect(defaults.fleet).toEqual({ publish: false, ring: 'default' });
    expect(hostNameOf('Web-01.Example.COM')).toBe('web-01');
    expect(hostNameOf('under_score')).toBe('under-score');
    expect(hostNameOf('')).toBe('localhost');
    const dir = configDir({
      'config.toml': '[host]\nname = "alpha"\nlabels = { zone = "eu-1", tier = "web" }\n[fleet]\npublish = true\nring = "main"\nafter = "canary"\n',
    });
    const c = await loadConfig({ file: join(dir, 'config.toml') });
    expect(c.host).toEqual({ name: 'alpha', labels: { zone: 'eu-1', tier: 'web' } });
    expect(c.fleet).toEqual({ publish: true, ring: 'main', after: 'canary' });
    // A name reaches git ref names and spec values: nothing but plain characters.
    for (const bad of ['Alpha', 'a/b', 'a..b', '-a', 'a\\nb']) expect(configErrorOf(() => parseConfigText('c.toml', `[host]\nname = "${bad}"\n`)).key).toBe('host.name');
    expect(configErrorOf(() => parseConfigText('c.toml', '[host]\nlabels = { zone = "eu\\n[Service]" }\n')).key).toBe('host.labels.zone');
    expect(configErrorOf(() => parseConfigText('c.toml', '[host]\nlabels = { "Bad Key" = "x" }\n')).message).toContain('label key');
    const self = configDir({ 'config.toml': '[fleet]\nring = "canary"\nafter = "canary"\n' });
    await expect(loadConfig({ file: join(self, 'config.toml') })).rejects.toThrow(/own ring/);
  });

  it('refuses a newline or control character in a source key, naming the key and line (git config injection)', () => {
    // The value a TOML escape makes of this would add a [remote] section, and a command, to
    // the git config moor writes for a local source.
    const injected = '[source]\nbranch = "main"\nbare_repo = "/srv/git/deploy.git\\n[remote \\"origin\\"]\\n\\tuploadpack = touch /tmp/pwned; git-upload-pack"\n';
    const err = configErrorOf(() => parseConfigText('/etc/moor/config.toml', injected));
    expect(err.key).toBe('source.bare_repo');
    expect(err.line).toBe(3);
    expect(err.message).toContain('must not contain a newline or any other control character');
    for (const key of ['url', 'branch', 'ssh_key']) {
      const e = configErrorOf(() => parseConfigText('c.toml', `[source]\n${key} = "/x\\ty"\n`));
      expect(e.key).toBe(`source.${key}`);
      expect(e.line).toBe(2);
    }
  });

  it('reads the repository budgets and reserved names, with defaults', async () => {
    const c = await loadConfig({ file: join(configDir({}), 'config.toml') });
    expect(c.repoBudget).toEqual({ maxBytes: 64 * 1024 * 1024, maxFiles: 10_000, maxDepth: 10 });
    expect(c.reservedNames).toEqual([]);
    const dir = configDir({ 'config.toml': 'max_repo_bytes = 1000\nmax_repo_files = 5\nmax_repo_depth = 2\nreserved_names = ["ops", "corp-*"]\n' });
    const d = await loadConfig({ file: join(dir, 'config.toml') });
    expect(d.repoBudget).toEqual({ maxBytes: 1000, maxFiles: 5, maxDepth: 2 });
    expect(d.reservedNames).toEqual(['ops', 'corp-*']);
    expect(configErrorOf(() => parseConfigText('c.toml', 'reserved_names = ["*"]\n')).key).toBe('reserved_names.0');
  });

  it('reads [users] bounds; unset ones are left to login.defs, drop-ins merge key by key', async () => {
    const dir = configDir({
      'config.toml': '[users]\nuid_min = 20000\nuid_max = 29999\n',
      'config.d/10.toml': '[users]\nsubid_count = 1000\n',
    });
    expect((await loadConfig({ file: join(dir, 'config.toml') })).users).toEqual({ uidMin: 20000, uidMax: 29999, subidCount: 1000 });
    expect((await loadConfig({ file: join(configDir({}), 'config.toml') })).users).toEqual({ subidCount: 65536 });
    const err = configErrorOf(() => parseConfigText('c', '[users]\nuid_minimum = 5\n'));
    expect(err.message).toMatch(/uid_minimum/);
    expect(err.line).toBe(2);
  });

  it('reads apply.parallel (default 4), and refuses 0, a fraction or more than 32 at its line', async () => {
    expect((await loadConfig({ file: join(configDir({}), 'config.toml') })).apply).toEqual({ parallel: 4, settleMs: 1000 });
    expect((await loadConfig({ file: join(configDir({ 'config.toml': '[apply]\nparallel = 1\n' }), 'config.toml') })).apply).toEqual({ parallel: 1, settleMs: 1000 });
    for (const bad of ['0', '2.5', '33', '"4"']) {
      const err = configErrorOf(() => parseConfigText('c.toml', `log_level = "info"\n[apply]\nparallel = ${bad}\n`));
      expect(err, bad).toMatchObject({ key: 'apply.parallel', line: 3 });
    }
  });

  it('reads apply.settle (default 1 s; 0s allowed), and refuses what is not a duration at its line', async () => {
    expect((await loadConfig({ file: join(configDir({ 'config.toml': '[apply]\nsettle = "250ms"\n' }), 'config.toml') })).apply).toEqual({ parallel: 4, settleMs: 250 });
    expect((await loadConfig({ file: join(configDir({ 'config.toml': '[apply]\nsettle = "0s"\n' }), 'config.toml') })).apply.settleMs).toBe(0);
    for (const bad of ['1', '"-1s"', '"soon"', '"1.5s"']) {
      const err = configErrorOf(() => parseConfigText('c.toml', `log_level = "info"\n[apply]\nsettle = ${bad}\n`));
      expect(err, bad).toMatchObject({ key: 'apply.settle', line: 3 });
    }
  });

  it('finds dotted keys and keys inside tables', () => {
    const text = 'a = 1\n[source]\nurl = "x"\n[gc]\nkeep_min = 2\nsource.branch = "y"\n';
    expect(findKeyLine(text, ['source', 'url'])).toBe(3);
    expect(findKeyLine(text, ['gc', 'keep_min'])).toBe(5);
    expect(findKeyLine(text, ['gc', 'source', 'branch'])).toBe(6);
    expect(findKeyLine(text, ['gc', 'nope'])).toBeUndefined();
  });
});

describe('config [policy]', () => {
  it('is absent by default, and resolved when given, a drop-in adding to it', async () => {
    expect((await loadConfig({ file: join(configDir({}), 'config.toml') })).policy).toBeUndefined();
    const dir = configDir({
      'config.toml': '[policy]\nports = [8080, "9000-9099"]\ncapabilities = ["cap_net_bind_service"]\n',
      'config.d/10-paths.toml': '[policy]\nhost_paths = ["%h/data"]\nprivileged = false\n',
    });
    const c = await loadConfig({ file: join(dir, 'config.toml') });
    expect(c.policy).toEqual({ ports: [[8080, 8080], [9000, 9099]], capabilities: ['NET_BIND_SERVICE'], hostPaths: ['%h/data'], privileged: false, programs: [] });
  });
  it('refuses a misspelt rule, a bad range, a relative path, an unknown namespace', () => {
    expect(configErrorOf(() => parseConfigText('c.toml', '[policy]\nport = []\n')).message).toMatch(/port/);
    expect(configErrorOf(() => parseConfigText('c.toml', '[policy]\nports = ["9099-9000"]\n')).message).toMatch(/first <= last/);
    expect(configErrorOf(() => parseConfigText('c.toml', '[policy]\nhost_paths = ["srv"]\n')).message).toMatch(/absolute/);
    expect(configErrorOf(() => parseConfigText('c.toml', '[policy]\nhost_namespaces = ["mount"]\n')).message).toMatch(/host_namespaces/);
  });
});
