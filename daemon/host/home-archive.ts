// A removed workload's home, kept as a root-only archive before the user goes, and put back
// into a workload's home (docs/design.md §5, §7). The archive records the user's uid as 0
// and its subordinate range as 1..N, the ids its files have inside its own user namespace,
// so `podman unshare tar --extract` run as any workload user restores the files to that
// user's uid and range: the kernel's id mapping does the chown, and nothing of the archive
// is unpacked by root into a directory a user controls.
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { HostError } from '../core/errors';
import { namespaceMapLines } from '../core/leftovers';
import type { IdRange } from '../core/parse/subid';
import type { CommandRunner } from '../core/ports';
import { runAsUser, type UserRef } from './as-user';
import { commandError } from './exec';
import { realPathKind, type PathKindOf } from './leftovers';

export interface ArchiveHomeRequest {
  home: string;
  uid: number;
  gid: number;
  subuids: readonly IdRange[];
  subgids: readonly IdRange[];
  /** The archive's final path; it appears only once complete. */
  dest: string;
  timeoutMs: number;
}

/** Suffixes of the files an archive is made through; a killed archive leaves them behind. */
export const ARCHIVE_WORK_SUFFIXES = ['.partial', '.owner-map', '.group-map'] as const;

/**
 * tar as root (it must read files of the subordinate range), --numeric-owner, one file
 * system, symlinks stored as symlinks (modes and owners are kept; extended attributes and
 * ACLs are not, as a user namespace could not set them all back); written to `<dest>.partial`, 0600, then renamed.
 * A user whose home does not exist has nothing to archive.
 */
export async function archiveHome(runner: CommandRunner, req: ArchiveHomeRequest, pathKind: PathKindOf = realPathKind): Promise<'archived' | 'no-home'> {
  const kind = await pathKind(req.home);
  if (kind === 'missing') return 'no-home';
  if (kind !== 'directory') throw new HostError(`the home ${req.home} is not a directory; nothing was archived or deleted`);
  const partial = `${req.dest}.partial`;
  const ownerMap = `${req.dest}.owner-map`;
  const groupMap = `${req.dest}.group-map`;
  try {
    await writeFile(ownerMap, namespaceMapLines(req.uid, req.subuids), { mode: 0o600 });
    await writeFile(groupMap, namespaceMapLines(req.gid, req.subgids), { mode: 0o600 });
    await writeFile(partial, '', { mode: 0o600 });
    const argv = [
      'tar',
      '--create',
      '--gzip',
      '--numeric-owner',
      '--one-file-system',
      `--owner-map=${ownerMap}`,
      `--group-map=${groupMap}`,
      `--file=${partial}`,
      `--directory=${req.home}`,
      '.',
    ];
    const result = await runner.run(argv, { timeoutMs: req.timeoutMs, cwd: '/' });
    if (result.exitCode !== 0 || result.timedOut) {
      const e = commandError(result);
      throw new HostError(`archiving the home ${req.home} failed (${e.message}); nothing was deleted: free space under the state dir, raise timeouts.archive, or set removal.home = "purge"`);
    }
    await chmod(partial, 0o600);
    await rename(partial, req.dest);
    return 'archived';
  } finally {
    await rm(partial, { force: true });
    await rm(ownerMap, { force: true });
    await rm(groupMap, { force: true });
  }
}

/**
 * Unpacks an archive into the user's home, as the user inside its user namespace
 * (`podman unshare`): the archive's ids 0..N become the user's uid and range. The archive
 * is opened by moor and given as stdin; the user never reads the state dir.
 */
export async function restoreHome(runner: CommandRunner, who: UserRef, archive: string, home: string, timeoutMs: number): Promise<void> {
  const argv = ['podman', 'unshare', 'tar', '--extract', '--gzip', '--numeric-owner', '--same-owner', '--same-permissions', '--file=-', `--directory=${home}`];
  const result = await runAsUser(runner, who, argv, { timeoutMs, inputFile: archive });
  if (result.exitCode !== 0 || result.timedOut) {
    throw new HostError(`restoring ${archive} into ${home} as ${who.user} failed: ${commandError(result).message}`);
  }
  // Podman's database records the old user's runtime dir (/run/user/OLDUID) and refuses to
  // start with another ("database configuration mismatch"): the restored user has a new
  // uid. Without it, Podman starts afresh; volumes keep their data in their directories and
  // Quadlet re-creates the containers, so nothing of the workload's data is lost.
  const storage = `${home}/.local/share/containers/storage`;
  const reset = await runAsUser(runner, who, ['rm', '-f', '--', `${storage}/db.sql`, `${storage}/libpod/bolt_state.db`], { timeoutMs });
  if (reset.exitCode !== 0 || reset.timedOut) {
    throw new HostError(`resetting Podman's database in ${home} as ${who.user} failed: ${commandError(reset).message}`);
  }
}
