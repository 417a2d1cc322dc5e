// Output that cannot lie to the operator (docs/design.md §10): escape sequences, carriage
// returns and bidi controls planted in a repo's specs, or in a workload's failure (the
// Quadlet generator's messages), reach people escaped through `moor check`, `render`,
// `plan`, `status` and moor's stderr; `--json` keeps the exact values.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStateStore } from '../../daemon/state/store';
import { runMoor } from '../helpers/cli';
import { git } from '../helpers/pass-harness';

const root = mkdtempSync(join(tmpdir(), 'moor-cli-output-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Raw control, bidi and invisible characters a terminal would act on (tab and newline allowed). */
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

// Erase the line and move up one (a previous line of a diff disappears), then reverse
// what follows.
const ATTACK = '\x1b[2K\x1b[1A\u202Eevil';
const ATTACK_SHOWN = '\\x1b[2K\\x1b[1A\\u{202E}evil';

function write(dir: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function config(name: string, lines: string[]): string {
  const file = join(root, `${name}.toml`);
  writeFileSync(file, [`transforms_dir = ${JSON.stringify(join(root, 'no-transforms'))}`, ...lines, ''].join('\n'));
  return file;
}

const spec = (description: string) => `[Unit]\nDescription=${description}\n\n[Container]\nImage=localhost/app:1\n`;

describe('moor check', () => {
  const repo = write(join(root, 'check'), {
    'moortestesca.container': `${spec('ok')}${ATTACK}\n`,
    'moortestescb\r\x1b[2K.container': spec('ok'),
  });
  const cfg = config('check', []);

  it('shows problems and paths with their escape bytes and bidi controls escaped', () => {
    const r = runMoor(['--config', cfg, 'check', repo]);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain(`moortestesca.container:6: line '${ATTACK_SHOWN}' has no '='`);
    // discovery names a hostile file name by its escaped form already
    expect(r.stdout).toContain('moortestescb\\u000d\\u001b[2K.container');
  });

  it('--json keeps the exact values, and no raw bidi control', () => {
    const r = runMoor(['--config', cfg, 'check', repo, '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toMatch(RAW);
    const out = JSON.parse(r.stdout) as { problems: { path: string; message: string }[] };
    expect(out.problems.some((p) => p.message.includes(ATTACK))).toBe(true);
  });
});

describe('moor render', () => {
  const repo = write(join(root, 'render'), {
    'moortestescr.container': `# ${ATTACK}\n${spec(ATTACK)}`,
    'x\x1b[2K\u202Ey.container': spec('ok'),
  });
  const cfg = config('render', []);

  it('shows the unit with escape bytes and bidi controls escaped, and says so', () => {
    const r = runMoor(['--config', cfg, 'render', join(repo, 'moortestescr.container'), '--repo', repo]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain(`# ${ATTACK_SHOWN}\n`);
    expect(r.stdout).toContain(`Description=${ATTACK_SHOWN}\n`);
    expect(r.stderr).toContain('shown escaped');
  });

  it('--json carries the exact content', () => {
    const r = runMoor(['--config', cfg, 'render', join(repo, 'moortestescr.container'), '--repo', repo, '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect((JSON.parse(r.stdout) as { content: string }).content).toContain(`Description=${ATTACK}\n`);
  });

  it("moor's error lines on stderr show a hostile file name escaped, each line with the error priority", () => {
    // Its stderr is the journal (JOURNAL_STREAM names it), as under systemd.
    const r = runMoor(['--config', cfg, 'render', join(repo, 'x\x1b[2K\u202Ey.container'), '--repo', repo], { journalStream: true });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toContain('x\\x1b[2K\\u{202E}y.container');
    for (const line of r.stderr.trimEnd().split('\n')) expect(line).toMatch(/^<3>/);
  });
});

describe('moor plan', () => {
  it('shows diffs with escape bytes and bidi controls escaped; --json keeps them exact', () => {
    const bare = join(root, 'plan.git');
    const work = join(root, 'plan-work');
    git(root, 'init', '-q', '--bare', '--initial-branch=main', bare);
    git(root, 'clone', '-q', bare, work);
    git(work, 'checkout', '-q', '-B', 'main');
    write(work, { 'moortestescp.container': spec(ATTACK) });
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', 'spec');
    git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
    // No workload of this repo is applied here: the plan creates it, reading only getent.
    const cfg = config('plan', [
      `state_dir = ${JSON.stringify(join(root, 'plan-state'))}`,
      `lock_path = ${JSON.stringify(join(root, 'plan-run', 'lock'))}`,
      '[source]',
      `url = ${JSON.stringify(bare)}`,
    ]);

    const r = runMoor(['--config', cfg, 'plan']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain(`+Description=${ATTACK_SHOWN}\n`);

    const json = runMoor(['--config', cfg, 'plan', '--json']);
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(RAW);
    const out = JSON.parse(json.stdout) as { items: { diff?: string }[] };
    expect(out.items[0]!.diff).toContain(`+Description=${ATTACK}\n`);
  });
});

describe('moor status', () => {
  it("shows a failed item's error (the generator's words) and the last pass's summary escaped, one line each", async () => {
    const stateDir = join(root, 'status-state');
    const store = await openStateStore(stateDir);
    const forged = `not loaded after daemon-reload: moortestescs.service — generator says: ${ATTACK}\r\x1b[2Kall good\n<0>moortestescs ok`;
    const id = await store.generations.begin({
      kind: 'pass',
      commit: 'c'.repeat(40),
      source: 'origin',
      workloads: { moortestescs: { user: 'moortestescs', hash: 'a'.repeat(64), files: {} } },
    });
    await store.generations.finish(id, [
      { workload: 'moortestescs', user: 'moortestescs', uid: 64001, action: 'create', result: 'failed', error: forged, durationMs: 5, at: new Date().toISOString() },
    ]);
    await store.lastPass.write({
      at: new Date().toISOString(),
      kind: 'pass',
      commit: 'c'.repeat(40),
      source: 'origin',
      generation: id,
      exitCode: 6,
      summary: `pass failed: HostError: ${ATTACK}\nlive: generation 9`,
      counts: {},
    });
    const cfg = config('status', [`state_dir = ${JSON.stringify(stateDir)}`, '[control]', `socket = ${JSON.stringify(join(root, 'none.sock'))}`]);

    const r = runMoor(['--config', cfg, 'status', '--no-daemon']);
    expect(r.code).toBe(1); // a workload failed
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain(`generator says: ${ATTACK_SHOWN}\\x0d\\x1b[2Kall good\\x0a<0>moortestescs ok`);
    expect(r.stdout).toContain(`pass failed: HostError: ${ATTACK_SHOWN}\\x0alive: generation 9`);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('live:'))).toHaveLength(1);

    const json = runMoor(['--config', cfg, 'status', '--no-daemon', '--json']);
    expect(json.stdout).not.toMatch(RAW);
    const report = JSON.parse(json.stdout) as { workloads: { error?: string }[] };
    expect(report.workloads[0]!.error).toBe(forged);
  });
});
