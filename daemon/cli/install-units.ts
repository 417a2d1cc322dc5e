// moor install-units: puts the shipped systemd units and sysusers.d/tmpfiles.d entries in
// place (under /etc, which stays writable where /usr is not), optionally with the bundle
// itself, and prints what to run next.
import type { Command } from 'commander';
import { lstat, mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { bundleDir, CHUNKS_DIR } from '../host/bundle-dir';
import { shippedUnits } from './shipped-units';
import { configFrom, type SetExit } from './common';
import { TIMER_DROP_IN, timerDropIn } from './timer-schedule';
import { emit } from './output';

/** Where moor.service and moor-reconcile.service expect the bundle. */
export const BUNDLE_DIR = 'usr/local/lib/moor';
const BIN_LINK = 'usr/local/bin/moor';

interface InstallOptions {
  prefix: string;
  bundle?: boolean;
  json?: boolean;
}

export function registerInstallUnits(program: Command, setExit: SetExit): void {
  program
    .command('install-units')
    .description('install the systemd units, sysusers.d and tmpfiles.d entries, and print the commands to enable them')
    .option('--prefix <dir>', 'install under this root instead of / (to stage an image)', '/')
    .option('--bundle', `also install this moor.mjs (and its chunks, writer, sd-notify and unix-dgram addons) as /${BUNDLE_DIR}/moor.mjs, with /${BIN_LINK} linking to it`)
    .option('--json', 'print the result as JSON: each file with what was done to it, and the next steps')
    .action(async (opts: InstallOptions, cmd: Command) => {
      const prefix = resolve(opts.prefix);
      // Before anything is written: a schedule.cron the timer cannot follow installs nothing.
      const schedule = timerDropIn(await configFrom(cmd));
      const lines: string[] = [];
      for (const file of await shippedUnits()) {
        const target = join(prefix, file.target);
        lines.push(`${await installText(target, file.content, 0o644)}  ${target}`);
      }
      const dropIn = join(prefix, TIMER_DROP_IN);
      lines.push(`${await installText(dropIn, schedule, 0o644)}  ${dropIn}`);
      if (opts.bundle) lines.push(...(await installBundle(prefix)));
      const next = nextSteps(prefix, Boolean(opts.bundle));
      // Each line is "<done>  <path>" (a link's line adds " -> target"): the same facts for scripts.
      const files = lines.map((l) => {
        const [done, ...rest] = l.split(/\s+/);
        return { path: rest[0]!, done: done! };
      });
      emit(opts, { prefix, files, nextSteps: next }, () => `${lines.join('\n')}\n\n${next}`);
      setExit(ExitCode.Ok);
    });
}

async function installText(target: string, content: string, mode: number): Promise<'unchanged' | 'updated' | 'installed'> {
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isSymbolicLink()) throw new UsageError(`${target} is a symlink (systemctl link?): remove it, then install again`);
  if (existing && (await readFile(target, 'utf8')) === content) return 'unchanged';
  await mkdir(dirname(target), { recursive: true, mode: 0o755 });
  const { writeFileAtomic } = await import('../state/atomic');
  await writeFileAtomic(target, content, mode);
  return existing ? 'updated' : 'installed';
}

/**
 * The bundle is moor.mjs, its chunks and what lies beside them, where this code runs from;
 * from source there is none to install. A half-installed set never runs: the chunks go in
 * first (named by content, so a new one never replaces code an installed moor.mjs loads),
 * then the writer and addons, then moor.mjs in one rename. The chunks of the moor.mjs it
 * replaced stay, since a daemon still running it may load one of them before it is
 * restarted; older ones are removed.
 */
async function installBundle(prefix: string): Promise<string[]> {
  if (!fileURLToPath(import.meta.url).endsWith('.mjs')) throw new UsageError('--bundle works from the built bundle (node dist/moor.mjs install-units --bundle)');
  const [{ writeFileAtomic }, { WRITER_BUNDLE }] = await Promise.all([import('../state/atomic'), import('../host/user-files')]);
  const from = bundleDir();
  const dir = join(prefix, BUNDLE_DIR);
  const out: string[] = [];
  const copy = async (name: string, mode: number) => {
    const source = join(from, name);
    const target = join(dir, name);
    if (resolve(source) !== resolve(target)) await writeFileAtomic(target, await readFile(source), mode);
    out.push(`installed  ${target}`);
  };
  const chunks = (await readdir(join(from, CHUNKS_DIR)).catch(() => [] as string[])).filter((n) => n.endsWith('.mjs')).sort();
  await mkdir(join(dir, CHUNKS_DIR), { recursive: true, mode: 0o755 });
  const keep = new Set([...chunks, ...(await chunksLoadedBy(dir))]);
  for (const chunk of chunks) await copy(join(CHUNKS_DIR, chunk), 0o644);
  // Beside it: the writer workload users run (without it moor runs itself for that, slower)
  // the sd-notify addon (without it moor falls back to systemd-notify) and the unix-dgram
  // addon (without it log records reach the journal as lines, without moor's fields).
  for (const name of [WRITER_BUNDLE, 'sd-notify.node', 'unix-dgram.node']) {
    if (existsSync(join(from, name))) await copy(name, 0o755);
  }
  await copy('moor.mjs', 0o755);
  for (const stale of await readdir(join(dir, CHUNKS_DIR))) {
    if (keep.has(stale)) continue;
    await rm(join(dir, CHUNKS_DIR, stale), { force: true });
    out.push(`removed    ${join(dir, CHUNKS_DIR, stale)}`);
  }
  const link = join(prefix, BIN_LINK);
  await mkdir(dirname(link), { recursive: true, mode: 0o755 });
  const present = await lstat(link).catch(() => undefined);
  if (present && !present.isSymbolicLink()) throw new UsageError(`${link} exists and is not a symlink: not replacing it`);
  if (present) await rm(link);
  await symlink(`/${BUNDLE_DIR}/moor.mjs`, link);
  out.push(`linked     ${link} -> /${BUNDLE_DIR}/moor.mjs`);
  return out;
}

/** The chunks the moor.mjs in `dir` imports, directly or through other chunks; none when there is no moor.mjs. */
async function chunksLoadedBy(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  const read = async (path: string) => {
    const text = await readFile(path, 'utf8').catch(() => '');
    // esbuild writes each import of a chunk as a relative path: "./chunks/NAME.mjs" from moor.mjs, "./NAME.mjs" between chunks.
    for (const m of text.matchAll(/["']\.\/(?:chunks\/)?([\w.-]+\.mjs)["']/g)) {
      const name = m[1]!;
      if (found.has(name) || !existsSync(join(dir, CHUNKS_DIR, name))) continue;
      found.add(name);
      await read(join(dir, CHUNKS_DIR, name));
    }
  };
  await read(join(dir, 'moor.mjs'));
  return found;
}

function nextSteps(prefix: string, bundle: boolean): string {
  const staged = prefix !== '/';
  return [
    staged ? `Staged under ${prefix}. On the host booted from it, as root:` : 'Next, as root:',
    ...(bundle ? [] : [`  # moor.service runs node /${BUNDLE_DIR}/moor.mjs: install the bundle there first (or rerun with --bundle)`]),
    '  systemd-sysusers /etc/sysusers.d/moor.conf',
    '  systemd-tmpfiles --create /etc/tmpfiles.d/moor.conf',
    '  systemctl daemon-reload',
    '  # write /etc/moor/config.toml (at least [source]), then either the daemon:',
    '  systemctl enable --now moor.socket moor.service',
    '  # or, on a host without the daemon, a pass on schedule.cron (the timer drop-in):',
    '  systemctl enable --now moor-reconcile.timer',
  ].join('\n');
}
