// Runs the moor CLI from source as a separate process, the way an operator would.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * argv run with JOURNAL_STREAM naming its own stderr (a pipe to us), as systemd sets it for a
 * service whose stderr is the journal: a shell reads fd 2's device and inode, then execs argv
 * (same pid, same fd 2).
 */
export function withJournalStream(argv: readonly string[]): string[] {
  return ['sh', '-c', 'JOURNAL_STREAM="$(stat -L -c %d:%i /proc/self/fd/2)" && export JOURNAL_STREAM && exec "$@"', 'sh', ...argv];
}

export function runMoor(args: string[], opts: { cwd?: string; env?: Record<string, string>; journalStream?: boolean } = {}): CliResult {
  const argv = [process.execPath, '--import', 'tsx', resolve(REPO_ROOT, 'daemon/main.ts'), ...args];
  const [cmd, ...rest] = opts.journalStream ? withJournalStream(argv) : argv;
  const r = spawnSync(cmd!, rest, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
