// Whether moor's stderr is the journal, which decides if its lines carry a syslog priority
// prefix (`<3>`): journald strips it and records the priority; anywhere else (a terminal, a
// script's pipe, an ssh session without a terminal) it is noise. systemd sets
// JOURNAL_STREAM=DEV:INO to the device and inode of the stream it connected a service's
// stdout or stderr to (systemd.exec(5)). Children inherit the variable but not always the
// stream (a script run from a service that redirects stderr, a shell started by one), so it
// counts only when it names fd 2 itself.
import { fstatSync } from 'node:fs';

/** A stream's identity as fstat gives it. */
export interface StreamIdentity {
  dev: bigint;
  ino: bigint;
}

/** JOURNAL_STREAM's value names this stream: both numbers decimal, as systemd writes them. */
export function journalStreamNames(journalStream: string | undefined, stream: StreamIdentity | undefined): boolean {
  if (!journalStream || !stream) return false;
  const match = /^(\d+):(\d+)$/.exec(journalStream.trim());
  return match !== null && BigInt(match[1]!) === stream.dev && BigInt(match[2]!) === stream.ino;
}

/** fd 2's identity, or undefined when it is closed. */
function stderrIdentity(): StreamIdentity | undefined {
  try {
    const st = fstatSync(2, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** The one decision, used by every writer of moor's stderr: is it the journal? */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  return journalStreamNames(env.JOURNAL_STREAM, stderrIdentity());
}

/** `text` as stderr lines: each one with the priority prefix when stderr is the journal. */
export function stderrLines(priority: number, text: string, journal = stderrIsJournal()): string {
  return text
    .split('\n')
    .map((line) => (journal ? `<${priority}>${line}\n` : `${line}\n`))
    .join('');
}
