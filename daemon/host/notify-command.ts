// Runs a [notify] command: as the unprivileged user named in the config (its uid, its
// primary group, no supplementary groups: root's never reach it), with an environment
// built from scratch (nothing of root's), from /, the pass's JSON on stdin, and killed
// with its whole process group at the timeout.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { parsePasswdLine, type PasswdEntry } from '../core/parse/passwd';
import { USER_COMMAND_PATH } from './as-user';

const execFileAsync = promisify(execFile);

/** The account a notify command runs as; throws naming the fix when it is missing or root. */
export async function notifyAccount(user: string): Promise<PasswdEntry> {
  let line: string;
  try {
    line = (await execFileAsync('getent', ['passwd', user], { timeout: 10_000 })).stdout.split('\n')[0] ?? '';
  } catch {
    throw new Error(`notify.user "${user}" does not exist on this host: create it (useradd --system ${user}) or name another`);
  }
  const entry = parsePasswdLine(line);
  if (entry.uid === 0) throw new Error(`notify.user "${user}" has uid 0: notify commands never run as root; name an unprivileged user`);
  return entry;
}

export interface NotifyCommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The end of what the command wrote to stderr, for the journal line of a failure. */
  stderrTail: string;
}

const TAIL_BYTES = 2048;

export function runNotifyCommand(account: PasswdEntry, argv: readonly string[], input: string, timeoutMs: number): Promise<NotifyCommandResult> {
  return new Promise((resolve) => {
    let tail = '';
    let timedOut = false;
    const child = spawn(argv[0]!, argv.slice(1), {
      uid: account.uid,
      gid: account.gid,
      cwd: '/',
      env: { PATH: USER_COMMAND_PATH, LANG: 'C.UTF-8', HOME: account.home, USER: account.name, LOGNAME: account.name },
      // Its own process group, so the timeout kills what it started too.
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES)));
    // A command that does not read its stdin closes the pipe: not an error of the send.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ exitCode: null, signal: null, timedOut, stderrTail: err.message });
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, timedOut, stderrTail: tail.trim() });
    });
  });
}
