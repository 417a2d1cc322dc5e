// The bundle is moor.mjs and the chunks it loads when a command runs (build.ts): a build of
// its own, installed with `install-units --bundle --prefix`, runs from where it was
// installed with the build itself gone, and a reinstall leaves no chunk an installed
// moor.mjs does not load, except those of the moor.mjs it replaced.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli';

let root: string;
let build: string;
const node = (args: string[]) => spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } });

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'moor-bundle-'));
  build = join(root, 'build');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'build.ts'), '--outdir', build], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
}, 150_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A file of the bundle and every chunk it imports statically: what loads before its code runs. */
function staticGraph(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  // `import"./x.mjs"` and `from"./x.mjs"`; a dynamic `import("./x.mjs")` loads later, if ever.
  for (const m of readFileSync(file, 'utf8').matchAll(/(?:\bfrom|\bimport)\s*"(\.\/[^"]+\.mjs)"/g)) staticGraph(join(dirname(file), m[1]!), seen);
  return seen;
}

describe('the split bundle', () => {
  it('is moor.mjs and its chunks, each command loading what it uses', () => {
    const chunks = readdirSync(join(build, 'chunks'));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.endsWith('.mjs'))).toBe(true);
    // The service (the watches, the schedule, the control API) is not in what every command loads.
    const entry = readFileSync(join(build, 'moor.mjs'), 'utf8');
    expect(entry).toMatch(/import\("\.\/chunks\/agent-[\w-]+\.mjs"\)/);
    expect(entry).not.toContain('class Agent');
  });

  it('starts a command without a schema library, and holds zod only as its mini API', () => {
    // zod's core names each schema class it builds; the classic API's are "ZodString" and
    // the like, the mini API's "ZodMiniString".
    const files = [join(build, 'moor.mjs'), ...readdirSync(join(build, 'chunks')).map((c) => join(build, 'chunks', c))];
    expect(files.filter((f) => readFileSync(f, 'utf8').includes('"ZodMiniString"')).length).toBeGreaterThan(0);
    expect(files.filter((f) => readFileSync(f, 'utf8').includes('"ZodString"'))).toEqual([]);
    // `moor --version`, `--help` and the parsing of every command line load no zod: the
    // hidden writer command loads its payload schema when it runs.
    const atStart = [...staticGraph(join(build, 'moor.mjs'))];
    expect(atStart.length).toBeGreaterThan(1);
    expect(atStart.filter((f) => readFileSync(f, 'utf8').includes('"$ZodType"'))).toEqual([]);
  });

  it('installed with install-units --bundle, runs from the prefix with the build gone', () => {
    const prefix = join(root, 'image');
    const install = node([join(build, 'moor.mjs'), 'install-units', '--bundle', '--prefix', prefix, '--json']);
    expect(install.status, install.stderr).toBe(0);
    const lib = join(prefix, 'usr/local/lib/moor');
    const built = readdirSync(join(build, 'chunks')).sort();
    expect(readdirSync(join(lib, 'chunks')).sort()).toEqual(built);
    for (const c of built) expect(readFileSync(join(lib, 'chunks', c), 'utf8'), c).toBe(readFileSync(join(build, 'chunks', c), 'utf8'));
    const files = (JSON.parse(install.stdout) as { files: { path: string; done: string }[] }).files.map((f) => f.path);
    expect(files).toContain(join(lib, 'moor.mjs'));
    expect(files).toContain(join(lib, 'chunks', built[0]!));
    // moor.mjs goes in last: until it is renamed into place, the moor.mjs there runs on the chunks it had.
    expect(files.filter((f) => f.startsWith(lib)).at(-1)).toBe(join(lib, 'moor.mjs'));
    expect(statSync(join(lib, 'moor.mjs')).mode & 0o777).toBe(0o755);

    const away = join(root, 'build-moved');
    rmSync(away, { recursive: true, force: true });
    spawnSync('mv', [build, away]);
    try {
      const version = node([join(lib, 'moor.mjs'), '--version']);
      expect(version.status, version.stderr).toBe(0);
      // status loads the state store, the host operations and the status report from chunks.
      const state = join(root, 'state');
      mkdirSync(state, { mode: 0o700 });
      const config = join(root, 'config.toml');
      writeFileSync(config, `state_dir = "${state}"\n[source]\nurl = "https://example.invalid/deploy.git"\n[control]\nsocket = "${join(root, 'moor.sock')}"\n`);
      const status = node([join(lib, 'moor.mjs'), '--config', config, 'status', '--json', '--no-daemon']);
      expect(status.status, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ workloads: [] });
    } finally {
      spawnSync('mv', [away, build]);
    }
  });

  it('a reinstall keeps the chunks of the moor.mjs it replaces and removes older ones', () => {
    const prefix = join(root, 'again');
    const lib = join(prefix, 'usr/local/lib/moor');
    expect(node([join(build, 'moor.mjs'), 'install-units', '--bundle', '--prefix', prefix]).status).toBe(0);
    // An earlier install: a chunk its moor.mjs loads, and one that no moor.mjs there loads.
    writeFileSync(join(lib, 'chunks', 'earlier-AAAAAAAA.mjs'), 'export const x = 1;\n');
    writeFileSync(join(lib, 'chunks', 'older-BBBBBBBB.mjs'), 'export const y = 1;\n');
    appendFileSync(join(lib, 'moor.mjs'), '\nconst earlier = () => import("./chunks/earlier-AAAAAAAA.mjs");\n');
    const r = node([join(build, 'moor.mjs'), 'install-units', '--bundle', '--prefix', prefix]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(lib, 'chunks', 'earlier-AAAAAAAA.mjs'))).toBe(true);
    expect(existsSync(join(lib, 'chunks', 'older-BBBBBBBB.mjs'))).toBe(false);
    expect(r.stdout).toContain(`removed    ${join(lib, 'chunks', 'older-BBBBBBBB.mjs')}`);
    expect(readFileSync(join(lib, 'moor.mjs'), 'utf8')).toBe(readFileSync(join(build, 'moor.mjs'), 'utf8'));
  });
});
