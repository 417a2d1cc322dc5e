// An image archive (`podman save`, `docker save`) loaded into a workload user's own image
// store, for hosts without a registry. Root opens the archive and gives it as stdin to
// `podman load` run as the user in a scope of its slice (as-user.ts): the user never reads
// a path of root's choosing, and what podman starts (its user namespace's pause process)
// is the user's, moved by podman into the user's own manager.
import { HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { runAsUser, type UserRef } from './as-user';
import { commandError } from './exec';

/** The image names of `podman load`'s "Loaded image: NAME" lines (one per image or tag). */
export function loadedImages(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => /^Loaded image(?:\(s\))?:\s*(.+)$/.exec(l.trim())?.[1]?.trim())
    .flatMap((names) => (names ? names.split(',').map((n) => n.trim()).filter(Boolean) : []));
}

export async function loadImageArchive(runner: CommandRunner, who: UserRef, archive: string, timeoutMs: number): Promise<string[]> {
  const result = await runAsUser(runner, who, ['podman', 'load'], { timeoutMs, inputFile: archive });
  if (result.exitCode !== 0 || result.timedOut) {
    throw new HostError(`loading ${archive} as ${who.user} failed: ${commandError(result).message}`);
  }
  return loadedImages(result.stdout);
}
