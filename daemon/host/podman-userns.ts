// A workload user's rootless Podman user namespace, made before any of its units starts.
//
// The first rootless podman of a user creates the user namespace and its pause process in
// a re-executed child. A Quadlet unit started that way can have its MAINPID/READY=1 sent
// by that child, which may exit before the user manager reads the message; systemd 257
// then drops it ("Notify sender died before message is processed") and the start fails
// with Result=protocol: from one first start in 35 to half of them, by the load. Once the namespace exists, every
// later podman of the user joins it, and the race is gone.
//
// `podman unshare /bin/true` is the smallest command that makes it. Podman moves the pause
// process into a `podman-pause-*.scope` of the user's own manager (over the user bus
// as-user.ts hands it), so the namespace outlives this command and nothing stays in the
// scope moor ran it in. (`podman system migrate` would leave the pause process where it
// was started.) Run when the namespace already exists, it joins it and changes nothing.
//
// That run costs a systemd-run scope and a podman start (150-200 ms) on every apply, before
// the restart a push waits for; so it is skipped when the pause process already runs: the
// pid in Podman's pause.pid is a live process of the user in a user namespace other than
// moor's. The file is in the user's runtime directory, so it is read as a hostile file
// (no symlink, no FIFO, a few bytes); a user who fakes it only risks the first start of
// its own units, which it could break anyway.
import { readFile, readlink, realpath } from 'node:fs/promises';
import { HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { runAsUser, USER_COMMAND_PATH, type UserRef } from './as-user';
import { commandError } from './exec';
import { readRegularFile } from './hostile-files';

/** Whether the user's Podman user namespace exists already (a seam: the fake host has none). */
export type NamespaceProbe = (uid: number) => Promise<boolean>;

export interface PauseProcessPaths {
  /** Where the users' runtime directories are. */
  runtimeDir: string;
  /** Where the kernel's process table is. */
  procDir: string;
}

const REAL_PATHS: PauseProcessPaths = { runtimeDir: '/run/user', procDir: '/proc' };

/**
 * Whether the user's rootless Podman pause process runs: the pid in
 * RUNTIME/UID/libpod/tmp/pause.pid (Podman's tmp dir of a rootless user) is a process whose
 * real uid is the user's, in a user namespace that is not this process's own. Any doubt
 * (no file, a symlink, not a number, no such process) is false: the namespace is made.
 */
export async function pauseProcessRuns(uid: number, paths: PauseProcessPaths = REAL_PATHS): Promise<boolean> {
  // The runtime directories' parent is root's: resolved, so the path compared is the real one.
  const runtimeDir = await realpath(paths.runtimeDir).catch(() => undefined);
  if (runtimeDir === undefined) return false;
  // The user's file: read only at its own path (no symlink anywhere on the way), never a FIFO, a few bytes.
  const pidFile = `${runtimeDir}/${uid}/libpod/tmp/pause.pid`;
  try {
    const read = readRegularFile(pidFile, 32, 'utf8', { onlyAt: pidFile });
    const pid = read.type === 'file' ? read.content?.trim() : undefined;
    if (!pid || !/^[1-9]\d{0,9}$/.test(pid)) return false;
    const status = await readFile(`${paths.procDir}/${pid}/status`, 'utf8');
    if (/^Uid:\s+(\d+)/m.exec(status)?.[1] !== String(uid)) return false;
    const [theirs, ours] = await Promise.all([readlink(`${paths.procDir}/${pid}/ns/user`), readlink(`${paths.procDir}/self/ns/user`)]);
    return theirs !== ours;
  } catch {
    return false;
  }
}

export const PREPARE_USERNS_ARGV = ['podman', 'unshare', '/bin/true'] as const;

/** systemd-run's answer when the command is on no directory of PATH. */
const NOT_FOUND = /^Failed to find executable podman: /m;

export async function preparePodmanUserNamespace(runner: CommandRunner, who: UserRef, options: { timeoutMs: number; exists?: NamespaceProbe }): Promise<void> {
  if (options.exists && (await options.exists(who.uid))) return;
  const result = await runAsUser(runner, who, PREPARE_USERNS_ARGV, { timeoutMs: options.timeoutMs });
  if (result.exitCode === 0 && !result.timedOut) return;
  if (!result.timedOut && NOT_FOUND.test(result.stderr)) {
    throw new HostError(
      `podman is not installed: no podman on ${USER_COMMAND_PATH}, the PATH of commands moor runs as ${who.user}; every workload runs under rootless Podman: install podman (and uidmap), then run the pass again`,
    );
  }
  throw new HostError(
    `preparing the Podman user namespace of ${who.user} (uid ${who.uid}) failed: ${commandError(result).message}; check that ${who.user} has ranges in /etc/subuid and /etc/subgid and that newuidmap/newgidmap (uidmap) are installed`,
  );
}
