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
import { HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { runAsUser, USER_COMMAND_PATH, type UserRef } from './as-user';
import { commandError } from './exec';

export const PREPARE_USERNS_ARGV = ['podman', 'unshare', '/bin/true'] as const;

/** systemd-run's answer when the command is on no directory of PATH. */
const NOT_FOUND = /^Failed to find executable podman: /m;

export async function preparePodmanUserNamespace(runner: CommandRunner, who: UserRef, options: { timeoutMs: number }): Promise<void> {
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
