// Writes files into a workload's home by running moor itself as that user (docs/design.md §5):
// root never opens a path under a home the user controls. The other half is
// write-files-payload.ts, behind the hidden `__write-files` subcommand.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CommandError, HostError } from '../core/errors';
import type { CommandRunner } from '../core/ports';
import { runAsUser } from './as-user';
import type { WriteFilesPayloadInput, WriteFilesResult } from './write-files-payload';

export const WRITE_FILES_SUBCOMMAND = '__write-files';

export interface UserFile {
  /** Relative to base, e.g. "containers/systemd/web.container". */
  path: string;
  content: string;
  mode: number;
}

export interface UserFilesRequest {
  user: string;
  uid: number;
  /** From getent; the payload process checks it is running with this home. */
  home: string;
  files: readonly UserFile[];
  remove?: readonly string[];
  /** Default "~/.config". */
  base?: string;
  dirMode?: number;
}

/** The writer alone, bundled beside moor.mjs (build.ts, daemon/write-files-main.ts). */
export const WRITER_BUNDLE = 'write-files.mjs';

/**
 * How to start the writer: from the bundle, node and the writer bundled beside it (it
 * starts in a fraction of the whole CLI's time); otherwise node, its flags (a loader in
 * development) and this program's entry script. Both must be readable by workload users.
 */
export function defaultSelfCommand(script = process.argv[1], exists: (path: string) => boolean = existsSync): string[] {
  if (script?.endsWith('.mjs')) {
    const writer = join(dirname(script), WRITER_BUNDLE);
    if (exists(writer)) return [process.execPath, writer];
  }
  const flags = process.execArgv.filter((a) => !a.startsWith('--inspect'));
  return [process.execPath, ...flags, ...(script ? [script] : [])];
}

export async function writeUserFiles(
  runner: CommandRunner,
  request: UserFilesRequest,
  selfCommand: readonly string[] = defaultSelfCommand(),
  options: { timeoutMs?: number } = {},
): Promise<WriteFilesResult> {
  const payload: WriteFilesPayloadInput = {
    base: request.base ?? '~/.config',
    files: request.files.map((f) => ({ path: f.path, content: f.content, mode: f.mode })),
    remove: [...(request.remove ?? [])],
    uid: request.uid,
    home: request.home,
    ...(request.dirMode === undefined ? {} : { dirMode: request.dirMode }),
  };
  const who = { user: request.user, uid: request.uid };
  const result = await runAsUser(runner, who, [...selfCommand, WRITE_FILES_SUBCOMMAND], { timeoutMs: options.timeoutMs ?? 60_000, input: JSON.stringify(payload) });
  const parsed = parseResult(result.stdout);
  if (result.exitCode === 0 && !result.timedOut && parsed?.ok) return parsed;
  if (parsed && !result.timedOut) {
    throw new HostError(`writing files as ${request.user} failed: ${parsed.error ?? 'unknown error'}`);
  }
  throw new CommandError(result.argv, result.exitCode, result.stdout, result.stderr, result.durationMs, result.timedOut);
}

function parseResult(stdout: string): WriteFilesResult | undefined {
  const line = stdout.trim().split('\n').pop();
  if (!line) return undefined;
  try {
    const value = JSON.parse(line) as WriteFilesResult;
    return typeof value === 'object' && value !== null && typeof value.ok === 'boolean' ? value : undefined;
  } catch {
    return undefined;
  }
}
