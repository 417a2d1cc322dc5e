// A host tool run once to see whether it works (`podman --version`): not found is one
// answer, installed but failing is another, and the fix differs. Pure: the caller runs
// the command and passes its result.
import type { CommandResult } from './ports';

export type ToolState = 'ok' | 'not-found' | 'failing';

export interface ToolProbe {
  state: ToolState;
  /** What was found, in words: the tool's first line, or why it is missing or failing with its stderr. */
  detail: string;
}

/** stderr kept in a detail line: enough to name the cause, bounded for a table and the journal. */
const MAX_STDERR_CHARS = 400;

/**
 * Not found only when the program could not be started because it does not exist (the
 * runner's spawn ENOENT, exit 127). A shell wrapper whose inner command is missing also
 * exits 127, but it was found: its stderr says what failed.
 */
export function probeResult(result: CommandResult): ToolProbe {
  const command = result.argv.join(' ');
  if (result.exitCode === 127 && !result.timedOut && /\bENOENT\b/.test(result.stderr)) {
    return { state: 'not-found', detail: `${result.argv[0] ?? ''} not found` };
  }
  if (result.timedOut) return { state: 'failing', detail: `\`${command}\` did not answer within ${result.durationMs} ms${stderrPart(result)}` };
  if (result.exitCode !== 0) {
    const how = result.exitCode === null ? 'was killed' : `failed (exit ${result.exitCode})`;
    return { state: 'failing', detail: `\`${command}\` ${how}${stderrPart(result)}` };
  }
  return { state: 'ok', detail: result.stdout.trim().split('\n')[0] ?? '' };
}

function stderrPart(result: CommandResult): string {
  const text = result.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' | ');
  if (text === '') return ': it wrote nothing on stderr';
  return `: ${text.length > MAX_STDERR_CHARS ? `${text.slice(0, MAX_STDERR_CHARS)}…` : text}`;
}

/** Podman's version from `podman --version` ("podman version 5.4.2"), or undefined. */
export function podmanVersion(stdout: string): { major: number; minor: number } | undefined {
  const m = /(\d+)\.(\d+)/.exec(stdout);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** Quadlet as moor uses it came with Podman 4.4. */
export function podmanRecentEnough(version: { major: number; minor: number } | undefined): boolean {
  return version !== undefined && (version.major > 4 || (version.major === 4 && version.minor >= 4));
}
