// A repository as quadsync users keep one, through `moor check`, `moor render` and a pass:
// the repository's own files (CI, licence, editor and bot settings) check clean and apply;
// quadsync's [Secrets] is refused before any of its values reaches a file; every other
// quadsync habit moor does not share is named with its line and the fix.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMoor } from '../helpers/cli';
import { PassHarness } from '../helpers/pass-harness';
import { filesUnder } from '../helpers/fixture-tree';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/quadsync');
const fixture = (name: string) => join(FIXTURES, name);
const noConfig = ['--config', '/dev/null'];
const noTransforms = ['--transforms', join(FIXTURES, 'no-such-transforms-dir')];

// The plaintext of the [Secrets] fixture, and its base64 file content decoded.
const SECRET_VALUES = ['plain-ledger-passw0rd', 'cGxhaW4tbGVkZ2VyLWFwaS1rZXk=', 'plain-ledger-api-key'];


interface CheckJson {
  ok: boolean;
  workloads: { name: string; valid: boolean }[];
  problems: { path: string; line?: number; code: string; message: string; hint?: string; workload?: string }[];
}

describe('moor check on quadsync-style repositories', () => {
  it('an ordinary repository with .github/, LICENSE, .editorconfig, renovate.json, CODEOWNERS and notes checks clean', () => {
    expect(Object.keys(filesUnder(fixture('check-ordinary')))).toEqual(
      expect.arrayContaining(['.github/workflows/ci.yml', 'LICENSE', '.editorconfig', 'renovate.json', 'apps/LICENSE']),
    );
    const r = runMoor([...noConfig, 'check', fixture('check-ordinary'), ...noTransforms]);
    expect(r.stdout).toMatch(/^ok: 2 workloads valid/m);
    expect(r.stdout).toMatch(/tracker \(user tracker\): tracker-data-volume\.service, tracker\.service/);
    expect(r.code).toBe(0);
  });

  it('refuses [Secrets] for the whole tree with file:line and the way to give secrets today, quoting none of them', () => {
    const r = runMoor([...noConfig, 'check', fixture('check-secrets'), ...noTransforms]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^ledger\.container:9: moor does not read quadsync's \[Secrets\] section; .*\(fix: .*<workload>-<name>\.age .*Secret=<workload>-<name>,type=env/m);
    for (const secret of SECRET_VALUES) expect(r.stdout + r.stderr).not.toContain(secret);
    const json = JSON.parse(runMoor([...noConfig, 'check', fixture('check-secrets'), ...noTransforms, '--json']).stdout) as CheckJson;
    const secrets = json.problems.find((p) => p.code === 'secrets-section')!;
    expect(secrets).toMatchObject({ path: 'ledger.container', line: 9 });
    expect(secrets.workload).toBeUndefined();
    // {{.Name}} is named too, with moor's spelling.
    expect(json.problems.find((p) => p.code === 'unknown-placeholder')).toMatchObject({ path: 'ledger.container', line: 6, hint: expect.stringMatching(/^write \{\{name\}\}/) });
  });

  it('names every other quadsync habit moor does not share: {{.Name}}, a pod not in the repo, misspelled units', () => {
    const r = runMoor([...noConfig, 'check', fixture('check-mistakes'), ...noTransforms, '--json']);
    expect(r.code).toBe(2);
    const json = JSON.parse(r.stdout) as CheckJson;
    expect(json.problems.map((p) => `${p.code} ${p.path}${p.line ? `:${p.line}` : ''}`).sort()).toEqual([
      'missing-reference shop-web.container:3',
      'missing-reference shop-web.container:4',
      'misspelled-type shop.conatiner.d',
      'misspelled-type shop.contianer',
      'unknown-placeholder shop.pod:2',
    ]);
    const by = (code: string, path: string) => json.problems.find((p) => p.code === code && p.path === path)!;
    expect(by('misspelled-type', 'shop.contianer').message).toMatch(/did you mean shop\.container\?/);
    expect(by('misspelled-type', 'shop.conatiner.d').message).toMatch(/did you mean shop\.container\.d\?/);
    expect(json.problems.filter((p) => p.code === 'missing-reference').map((p) => p.message.match(/names (\S+),/)?.[1])).toEqual([
      'ghost.pod',
      'shop-front.network',
    ]);
    const human = runMoor([...noConfig, 'check', fixture('check-mistakes'), ...noTransforms]);
    expect(human.stdout).toMatch(/^shop-web\.container:3: Pod= in \[Container\] names ghost\.pod, .*\(fix: add ghost\.pod to the repository/m);
  });
});

describe('moor render on quadsync-style repositories', () => {
  it('fills in {{name}} in a spec, as in a transform', () => {
    const r = runMoor([...noConfig, 'render', fixture('check-ordinary/tracker.container'), '--repo', fixture('check-ordinary'), ...noTransforms]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Description=Issue tracker for tracker\n');
    expect(r.stdout).toContain('ContainerName=tracker\n');
    expect(r.stdout).not.toContain('{{');
  });

  it('shows a [Secrets] spec only as its problems, never as a unit with the values in it', () => {
    const r = runMoor([...noConfig, 'render', fixture('check-secrets/ledger.container'), '--repo', fixture('check-secrets'), ...noTransforms]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/ledger\.container:9: moor does not read quadsync's \[Secrets\]/);
    for (const secret of SECRET_VALUES) expect(r.stdout + r.stderr).not.toContain(secret);
  });
});

describe('a pass over quadsync-style repositories', () => {
  let h: PassHarness;
  beforeEach(() => {
    h = new PassHarness();
  });
  afterEach(() => h.cleanup());

  it('applies an ordinary repository, its own files left out', async () => {
    h.commit(filesUnder(fixture('check-ordinary')));
    const { result } = await h.pass();
    expect(result.exitCode).toBe(0);
    expect(result.items.map((i) => [i.workload, i.action, i.result])).toEqual([
      ['tracker', 'create', 'ok'],
      ['wiki', 'create', 'ok'],
    ]);
    const tracker = h.fake.userFiles('tracker');
    expect([...tracker.keys()].filter((p) => p.startsWith('.config/')).sort()).toEqual([
      '.config/containers/systemd/tracker-data.volume',
      '.config/containers/systemd/tracker.container',
      '.config/moor/files/tracker.env',
    ]);
    expect(tracker.get('.config/containers/systemd/tracker.container')!.content).toContain('ContainerName=tracker\n');
    expect(h.fake.userFiles('wiki').get('.config/containers/systemd/wiki.container')!.content).toContain('Environment=WIKI_TITLE=wiki\n');
  });

  it('refuses a [Secrets] repository before anything changes: no user, no file, no plaintext anywhere', async () => {
    h.commit(filesUnder(fixture('check-secrets')));
    const before = h.fake.calls.length;
    const error = await h.pass().catch((e: unknown) => e);
    expect((error as Error).name).toBe('ValidationError');
    expect(h.fake.callLines().slice(before)).toEqual([]);
    expect(h.fake.passwd.has('ledger')).toBe(false);
    expect(h.fake.passwd.has('notes')).toBe(false);
    const everything = [
      ...[...h.fake.files.values()].flatMap((files) => [...files.values()].map((f) => f.content)),
      ...[...h.fake.hostFiles.values()].map((f) => JSON.stringify(f)),
      ...h.fake.callLines(),
      ...h.logs,
    ].join('\n');
    for (const secret of SECRET_VALUES) expect(everything).not.toContain(secret);
    expect((error as { problems: { path: string; line?: number; code: string }[] }).problems).toContainEqual(
      expect.objectContaining({ path: 'ledger.container', line: 9, code: 'secrets-section' }),
    );
  });
});
