import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runWriteFilesPayload, type WriteFilesPayloadInput } from '../../daemon/host/write-files-payload';
import { defaultSelfCommand, writeUserFiles } from '../../daemon/host/user-files';
import { ExecaRunner } from '../../daemon/host/exec';
import type { CommandRunner, RunOptions } from '../../daemon/core/ports';
import { HostError } from '../../daemon/core/errors';

let root: string;
let home: string;

const payload = (p: Partial<WriteFilesPayloadInput>) => JSON.stringify({ base: '~/.config', files: [], remove: [], ...p });
const quadlet = (name: string, content: string, mode = 0o644) => ({ path: `containers/systemd/${name}`, content, mode });
const inHome = (...parts: string[]) => join(home, '.config', ...parts);

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'moor-files-'));
  home = join(root, 'home');
  mkdirSync(home);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('runWriteFilesPayload', () => {
  it('writes files with their modes, creating owner-only directories', async () => {
    const r = await runWriteFilesPayload(
      payload({
        files: [quadlet('web.container', '[Container]\nImage=x\n'), { path: 'moor/files/web.env', content: 'A=1\n', mode: 0o600 }],
      }),
      home,
    );
    expect(r).toEqual({ ok: true, written: ['containers/systemd/web.container', 'moor/files/web.env'], unchanged: [], removed: [] });
    expect(readFileSync(inHome('containers/systemd/web.container'), 'utf8')).toBe('[Container]\nImage=x\n');
    expect(statSync(inHome('containers/systemd/web.container')).mode & 0o777).toBe(0o644);
    expect(statSync(inHome('moor/files/web.env')).mode & 0o777).toBe(0o600);
    expect(statSync(inHome()).mode & 0o777).toBe(0o700);
    expect(statSync(inHome('containers/systemd')).mode & 0o777).toBe(0o700);
  });

  it('replaces a file by rename (a new inode), leaving no temp files', async () => {
    await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'one\n')] }), home);
    const before = statSync(inHome('containers/systemd/web.container')).ino;
    const r = await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'two\n')] }), home);
    expect(r.written).toEqual(['containers/systemd/web.container']);
    expect(statSync(inHome('containers/systemd/web.container')).ino).not.toBe(before);
    expect(readFileSync(inHome('containers/systemd/web.container'), 'utf8')).toBe('two\n');
    expect(readdirSync(inHome('containers/systemd'))).toEqual(['web.container']);
  });

  it('leaves identical files alone, and rewrites one whose mode differs', async () => {
    await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'x\n')] }), home);
    const same = await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'x\n')] }), home);
    expect(same).toMatchObject({ ok: true, written: [], unchanged: ['containers/systemd/web.container'] });
    const moded = await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'x\n', 0o640)] }), home);
    expect(moded.written).toEqual(['containers/systemd/web.container']);
    expect(statSync(inHome('containers/systemd/web.container')).mode & 0o777).toBe(0o640);
  });

  it('keeps an existing directory mode', async () => {
    mkdirSync(inHome(), { mode: 0o755 });
    chmodSync(inHome(), 0o755);
    await runWriteFilesPayload(payload({ files: [quadlet('a.container', 'a')] }), home);
    expect(statSync(inHome()).mode & 0o777).toBe(0o755);
  });

  it.each([
    ['a parent reference', '../../etc/passwd'],
    ['a nested parent reference', 'containers/../../x'],
    ['an absolute path', '/etc/passwd'],
    ['an empty component', 'containers//x'],
    ['a dot component', './x'],
    ['a control character', 'x\ny'],
  ])('refuses %s and writes nothing at all', async (_what, bad) => {
    const r = await runWriteFilesPayload(payload({ files: [quadlet('ok.container', 'ok'), { path: bad, content: 'x', mode: 0o644 }] }), home);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/invalid payload/);
    expect(existsSync(inHome())).toBe(false);
  });

  it('refuses a bad base and unknown fields', async () => {
    expect((await runWriteFilesPayload(payload({ base: '/etc' }), home)).error).toMatch(/base/);
    expect((await runWriteFilesPayload(payload({ base: '~/../x' }), home)).error).toMatch(/base/);
    expect((await runWriteFilesPayload(JSON.stringify({ base: '~', files: [], remove: [], chown: 0 }), home)).ok).toBe(false);
    expect((await runWriteFilesPayload('not json', home)).error).toMatch(/not JSON/);
    expect((await runWriteFilesPayload(payload({ files: [{ path: 'a', content: 'x', mode: 0o4755 }] }), home)).ok).toBe(false);
  });

  it('refuses to write through a symlinked .config, before writing anything', async () => {
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(home, '.config'));
    const r = await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'x')] }), home);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/\.config is a symlink/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('refuses a symlink deeper in the path and a symlink as the file itself', async () => {
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'target'), 'precious');
    mkdirSync(inHome('containers'), { recursive: true });
    symlinkSync(elsewhere, inHome('containers/systemd'));
    let r = await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'x')] }), home);
    expect(r.error).toMatch(/systemd is a symlink/);

    rmSync(inHome('containers/systemd'));
    mkdirSync(inHome('containers/systemd'));
    symlinkSync(join(elsewhere, 'target'), inHome('containers/systemd/web.container'));
    r = await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'x')] }), home);
    expect(r.error).toMatch(/web.container is a symlink/);
    expect(readFileSync(join(elsewhere, 'target'), 'utf8')).toBe('precious');
  });

  it('refuses a directory where a file should be', async () => {
    mkdirSync(inHome('containers/systemd/web.container'), { recursive: true });
    const r = await runWriteFilesPayload(payload({ files: [quadlet('web.container', 'x')] }), home);
    expect(r.error).toMatch(/not a regular file/);
  });

  it('removes listed files, tolerating ones already gone', async () => {
    await runWriteFilesPayload(payload({ files: [quadlet('a.container', 'a'), quadlet('b.container', 'b')] }), home);
    const r = await runWriteFilesPayload(
      payload({ files: [quadlet('c.container', 'c')], remove: ['containers/systemd/a.container', 'containers/systemd/gone.container'] }),
      home,
    );
    expect(r).toEqual({ ok: true, written: ['containers/systemd/c.container'], unchanged: [], removed: ['containers/systemd/a.container'] });
    expect(readdirSync(inHome('containers/systemd')).sort()).toEqual(['b.container', 'c.container']);
  });

  it('removes a planted symlink itself, never its target, and refuses removal through a symlinked directory', async () => {
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'a.container'), 'precious');
    mkdirSync(inHome('containers'), { recursive: true });
    symlinkSync(elsewhere, inHome('containers/systemd'));
    const r = await runWriteFilesPayload(payload({ remove: ['containers/systemd/a.container'] }), home);
    expect(r.ok).toBe(false);
    expect(readFileSync(join(elsewhere, 'a.container'), 'utf8')).toBe('precious');
  });

  it('checks the uid and home it was meant for', async () => {
    const wrongUid = (process.getuid?.() ?? 0) + 1;
    expect((await runWriteFilesPayload(payload({ uid: wrongUid, files: [quadlet('a.container', 'a')] }), home)).error).toMatch(/uid/);
    expect((await runWriteFilesPayload(payload({ home: '/home/other', files: [quadlet('a.container', 'a')] }), home)).error).toMatch(/home/);
    expect(existsSync(inHome())).toBe(false);
    const ok = await runWriteFilesPayload(payload({ uid: process.getuid?.() ?? 0, home, files: [quadlet('a.container', 'a')] }), home);
    expect(ok.ok).toBe(true);
  });
});

/**
 * systemd-run needs a booted systemd, which this machine lacks (the end-to-end suite runs
 * it for real). Here runuser stands in for it: same user, same clean environment (runuser
 * adds HOME, USER, LOGNAME and SHELL as systemd-run does), no scope.
 */
class RunuserForScope implements CommandRunner {
  readonly argvs: string[][] = [];
  constructor(private readonly inner = new ExecaRunner()) {}
  run(argv: readonly string[], options: RunOptions) {
    this.argvs.push([...argv]);
    const dashes = argv.indexOf('--');
    const user = argv.find((a) => a.startsWith('--uid='))?.slice('--uid='.length);
    if (argv[0] !== 'systemd-run' || dashes < 0 || !user) throw new Error(`not a systemd-run scope: ${argv.join(' ')}`);
    return this.inner.run(['runuser', '-u', user, '--', ...argv.slice(dashes + 1)], options);
  }
}

// The host side over real processes: the command moor builds starts a stand-in for
// `moor __write-files` as the user, with the environment moor gives it.
describe('writeUserFiles as the user', () => {
  const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
  const payloadModule = new URL('../../daemon/cli/write-files.ts', import.meta.url).href;
  const isRoot = process.getuid?.() === 0;
  const hasRunuser = existsSync('/usr/sbin/runuser') || existsSync('/usr/bin/runuser') || existsSync('/sbin/runuser');

  function selfCommand(): string[] {
    const script = join(root, 'moor-entry.mts');
    writeFileSync(
      script,
      `import { writeFilesCommand } from ${JSON.stringify(payloadModule)};\n` +
        `if (process.argv[3] !== '__write-files') process.exit(64);\n` +
        `process.exitCode = await writeFilesCommand(process.stdin, process.stdout, process.argv[2]);\n`,
    );
    return [process.execPath, '--import', tsxLoader, script, home];
  }

  it.skipIf(!isRoot || !hasRunuser)('writes as the target user and reports refusals as HostError', async () => {
    const runner = new RunuserForScope();
    const uid = process.getuid?.() ?? 0;
    const cmd = selfCommand();
    const r = await writeUserFiles(runner, { user: 'root', uid, home, files: [quadlet('web.container', 'x\n')] }, cmd);
    expect(r.written).toEqual(['containers/systemd/web.container']);
    expect(readFileSync(inHome('containers/systemd/web.container'), 'utf8')).toBe('x\n');

    rmSync(inHome(), { recursive: true });
    symlinkSync(root, inHome());
    const err = await writeUserFiles(runner, { user: 'root', uid, home, files: [quadlet('web.container', 'x\n')] }, cmd).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as Error).message).toMatch(/writing files as root failed: .*symlink/);
  });

  it.skipIf(!isRoot || !hasRunuser)('files written for an unprivileged user belong to that user', async (ctx) => {
    // nobody (65534) must be able to reach the entry script and the project to run it.
    chmodSync(root, 0o755);
    chownSync(home, 65534, 65534);
    const runner = new RunuserForScope();
    const reachable = await new ExecaRunner().run(['runuser', '-u', 'nobody', '--', 'test', '-r', new URL(tsxLoader).pathname], { timeoutMs: 10_000 });
    if (reachable.exitCode !== 0) ctx.skip();
    const r = await writeUserFiles(runner, { user: 'nobody', uid: 65534, home, files: [quadlet('web.container', 'x\n')] }, selfCommand());
    expect(r.ok).toBe(true);
    const st = lstatSync(inHome('containers/systemd/web.container'));
    expect([st.uid, st.gid]).toEqual([65534, 65534]);
    expect(lstatSync(inHome()).uid).toBe(65534);

    // A payload addressed to another uid is refused by the process itself.
    const err = await writeUserFiles(runner, { user: 'nobody', uid: 4242, home, files: [quadlet('b.container', 'b')] }, selfCommand()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/uid 65534, payload is for uid 4242/);
  });
});

describe('the writer a workload user runs', () => {
  it('is the writer bundled beside moor.mjs when there is one, otherwise this program again', () => {
    expect(defaultSelfCommand('/usr/local/lib/moor/moor.mjs', (p) => p === '/usr/local/lib/moor/write-files.mjs')).toEqual([process.execPath, '/usr/local/lib/moor/write-files.mjs']);
    const whole = defaultSelfCommand('/usr/local/lib/moor/moor.mjs', () => false);
    expect(whole[0]).toBe(process.execPath);
    expect(whole.at(-1)).toBe('/usr/local/lib/moor/moor.mjs');
    expect(defaultSelfCommand('/src/daemon/main.ts', () => true).at(-1)).toBe('/src/daemon/main.ts');
  });

  it('write-files-main.ts: usage without __write-files (exit 2); with it, a payload for another home is refused with a JSON result (exit 1)', async () => {
    const entry = new URL('../../daemon/write-files-main.ts', import.meta.url).pathname;
    const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
    const runner = new ExecaRunner();
    const usage = await runner.run([process.execPath, '--import', tsxLoader, entry], { timeoutMs: 30_000 });
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toMatch(/usage: write-files\.mjs __write-files/);
    const refused = await runner.run([process.execPath, '--import', tsxLoader, entry, '__write-files'], {
      timeoutMs: 30_000,
      input: payload({ home: '/nonexistent/home', files: [quadlet('a.container', 'a')] }),
    });
    expect(refused.exitCode).toBe(1);
    expect(JSON.parse(refused.stdout.trim())).toMatchObject({ ok: false, error: expect.stringMatching(/home/) });
  });
});
