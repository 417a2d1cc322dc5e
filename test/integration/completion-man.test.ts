// `moor completion bash|zsh` and `moor man [moor|moor.toml]`, generated from the program
// itself and the configuration reference: the bash script is valid and completes commands
// and their options in a real bash; the man pages render with man(1) without a warning
// and name every command, option and config key.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configKeyRows } from '../../daemon/core/man-page';
import { REPO_ROOT, runMoor } from '../helpers/cli';

let dir: string;
let bashScript: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'moor-completion-'));
  const r = runMoor(['completion', 'bash']);
  expect(r.code, r.stderr).toBe(0);
  bashScript = join(dir, 'moor.bash');
  writeFileSync(bashScript, r.stdout);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What bash offers after the words typed (the last one being completed). */
function complete(...typed: string[]): string[] {
  const script = `source ${bashScript}
COMP_WORDS=(moor ${typed.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${typed.length}
_moor
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8', cwd: dir, timeout: 10_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('moor completion', () => {
  it('bash: the script parses (bash -n)', () => {
    const r = spawnSync('bash', ['-n', bashScript], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('bash: completes command names, their options, and the global ones', () => {
    expect(complete('re')).toEqual(['reconcile', 'redeploy', 'render', 'restore', 'resume']);
    expect(complete('')).toEqual(expect.arrayContaining(['reconcile', 'status', 'completion', 'man', 'install-units']));
    expect(complete('reconcile', '--dr')).toEqual(['--dry-run']);
    expect(complete('reconcile', '--allow-')).toEqual(['--allow-history-rewrite', '--allow-mass-removal']);
    expect(complete('--config', '/etc/moor/config.toml', 'status', '--j')).toEqual(['--json']);
    expect(complete('--co')).toEqual(['--config']);
    expect(complete('logs', '-')).toEqual(expect.arrayContaining(['-f', '-n', '--json', '--config']));
  });

  it('bash: a command with commands of its own completes them, then their options', () => {
    expect(complete('fl')).toEqual(['fleet']);
    expect(complete('fleet', '')).toEqual(['status']);
    expect(complete('fleet', 'status', '--')).toEqual(expect.arrayContaining(['--json', '--source', '--config']));
    expect(complete('--config', '/etc/moor/config.toml', 'fleet', 'status', '--s')).toEqual(['--source']);
  });

  it('zsh: the script is a #compdef file naming every command and its options', () => {
    const r = runMoor(['completion', 'zsh']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('#compdef moor\n')).toBe(true);
    for (const name of ['reconcile', 'status', 'install-units', 'man', 'fleet']) expect(r.stdout).toContain(`'${name}:`);
    expect(r.stdout).toContain("'1:fleet command:(status)'");
    expect(r.stdout).toContain("'--allow-mass-removal[");
    // zsh and man come with scripts/setup: a machine without them fails here, never skips.
    const file = join(dir, '_moor');
    writeFileSync(file, r.stdout);
    const check = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect(check.error, 'zsh is not installed: run scripts/setup').toBeUndefined();
    expect(check.status, check.stderr).toBe(0);
  });

  it('another shell is a usage error', () => {
    const r = runMoor(['completion', 'fish']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown shell "fish": bash or zsh/);
  });
});

describe('moor man', () => {
  function render(page: string): string {
    const r = runMoor(['man', page], { env: { SOURCE_DATE_EPOCH: '0' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\.TH /);
    const file = join(dir, `${page}.man`);
    writeFileSync(file, r.stdout);
    const shown = spawnSync('man', ['--warnings', '-l', file], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200', MANPAGER: 'cat', PAGER: 'cat' } });
    expect(shown.error, 'man is not installed: run scripts/setup').toBeUndefined();
    expect(shown.status, shown.stderr).toBe(0);
    // groff's warnings (an unknown macro, a bad escape) go to stderr.
    expect(shown.stderr).toBe('');
    return shown.stdout.replace(/.\x08/g, '');
  }

  it('moor(1) names every command and every option --help lists, and the exit codes', () => {
    const text = render('moor');
    for (const [cmd, flags] of [
      ['reconcile', ['--once', '--dry-run', '--allow-history-rewrite', '--no-daemon']],
      ['logs', ['--json']],
      ['install-units', ['--prefix <dir>', '--bundle']],
      ['completion', []],
      ['fleet status', ['--source <url>', '--json']],
    ] as const) {
      expect(text).toContain(`moor ${cmd}`);
      for (const f of flags) expect(text).toContain(f);
    }
    expect(text).toContain('EXIT STATUS');
    expect(text).toContain('lock held by another pass');
    expect(text).toContain('--config <file>');
  });

  it('moor.toml(5) holds every key of the configuration reference', () => {
    const text = render('moor.toml');
    const keys = configKeyRows(readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8')).map((r) => r.key);
    expect(keys).toEqual(expect.arrayContaining(['log_level', 'schedule.cron', 'notify.user', 'trust.mode']));
    expect(keys.length).toBeGreaterThan(40);
    for (const key of keys) expect(text, key).toContain(key);
  });

  it('an unknown page is a usage error', () => {
    const r = runMoor(['man', 'moor.conf']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown page "moor\.conf": moor or moor\.toml/);
  });
});

describe('configKeyRows', () => {
  it('reads the key table, escaped pipes included, and nothing after it', () => {
    const md = ['# x', '| key | default | meaning |', '| --- | --- | --- |', '| `a.b` | `1` | one \\| two |', '| `c` | none | three |', '', '| other | table |', '| --- | --- |', '| z | y |'].join('\n');
    expect(configKeyRows(md)).toEqual([
      { key: 'a.b', default: '`1`', meaning: 'one | two' },
      { key: 'c', default: 'none', meaning: 'three' },
    ]);
  });
});
