// moor install-units: puts the shipped systemd units and sysusers.d/tmpfiles.d entries in
// place (under /etc, which stays writable where /usr is not), optionally with the bundle
// itself, and prints what to run next.
import type { Command } from 'commander';
import { lstat, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { writeFileAtomic } from '../state/atomic';
import { shippedUnits } from './shipped-units';
import { WRITER_BUNDLE } from '../host/user-files';
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
    .option('--bundle', `also install this moor.mjs (and its writer, sd-notify and unix-dgram addons) as /${BUNDLE_DIR}/moor.mjs, with /${BIN_LINK} linking to it`)
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
  await writeFileAtomic(target, content, mode);
  return existing ? 'updated' : 'installed';
}

/** The bundle is the file this code runs from; from source there is none to install. */
async function installBundle(prefix: string): Promise<string[]> {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.mjs')) throw new UsageError('--bundle works from the built bundle (node dist/moor.mjs install-units --bundle)');
  const dir = join(prefix, BUNDLE_DIR);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const out: string[] = [];
  const target = join(dir, 'moor.mjs');
  if (resolve(target) !== resolve(self)) await writeFileAtomic(target, await readFile(self), 0o755);
  out.push(`installed  ${target}`);
  // Beside it: the writer workload users run (without it moor runs itself for that, slower)
  // the sd-notify addon (without it moor falls back to systemd-notify) and the unix-dgram
  // addon (without it log records reach the journal as lines, without moor's fields).
  for (const name of [WRITER_BUNDLE, 'sd-notify.node', 'unix-dgram.node']) {
    const from = join(dirname(self), name);
    if (existsSync(from) && resolve(from) !== resolve(join(dir, name))) {
      await writeFileAtomic(join(dir, name), await readFile(from), 0o755);
      out.push(`installed  ${join(dir, name)}`);
    }
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
