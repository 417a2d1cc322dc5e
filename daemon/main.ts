// argv → command. The only place that maps errors to exit codes (docs/design.md §10, §12).
import { Command, CommanderError } from 'commander';
import { ExitCode, exitCodeMeaning, exitCodeOfError } from './core/exit-codes';
import { MoorError, ValidationError } from './core/errors';
import { formatProblem } from './core/problem';
import { safeLines, safeText } from './core/safe-text';
import { registerCommands } from './cli/commands';
import { WRITE_FILES_SUBCOMMAND } from './host/user-files';
import { stderrLines } from './host/journal-stream';

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CommanderError) {
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? ExitCode.Ok : ExitCode.Invalid;
  }
  return exitCodeOfError(err);
}

/**
 * The error for stderr, control and invisible characters escaped (a message may quote a
 * repo's lines or a tool's output); a problem is one line, a message keeps its own lines.
 */
function describe(err: unknown): string {
  if (err instanceof ValidationError) {
    return [`moor: ${safeText(err.message)}:`, ...err.problems.map((p) => `  ${safeText(formatProblem(p))}`)].join('\n');
  }
  if (err instanceof MoorError) return `moor: ${err.name}: ${safeLines(err.message)}`;
  if (err instanceof Error) return `moor: unexpected error: ${safeLines(err.stack ?? err.message)}`;
  return `moor: unexpected error: ${safeLines(String(err))}`;
}

export async function main(argv: string[]): Promise<ExitCode> {
  const program = new Command('moor');
  program
    .description('Keeps this host in step with a git repository of Podman Quadlet specs.')
    .version(process.env.MOOR_VERSION ?? '0.1.0')
    .option('--config <file>', 'main config file (drop-ins are read from config.d/ beside it)', '/etc/moor/config.toml')
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      `\nExit codes (the same for every command):\n${Object.entries(exitCodeMeaning)
        .map(([code, meaning]) => `  ${code}  ${meaning}`)
        .join('\n')}\n`,
    );
  let code: ExitCode = ExitCode.Ok;
  registerCommands(program, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    const exit = exitCodeFor(err);
    // commander has already printed its own usage errors and help.
    if (!(err instanceof CommanderError)) process.stderr.write(errorLine(describe(err)));
    return exit;
  }
}

/** Under systemd a failure must be found by `journalctl -p err`: in the journal, give it the error priority prefix. */
function errorLine(text: string): string {
  return stderrLines(3, text);
}

/**
 * A reader that went away (`moor --help | head -1`, `moor generations | head`) is no
 * error of moor's: what is left to print is dropped and the command ends as it would
 * have, with its own exit code. It is not cut short, since a pass under way must not
 * stop half-way because nobody reads its summary. Any other write error stays fatal.
 */
function dropOutputToClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    throw err;
  });
}
dropOutputToClosedPipe(process.stdout);
dropOutputToClosedPipe(process.stderr);

const argv = process.argv.slice(2);
// Runs as a workload user to write its files: before any config or state is touched. Its
// payload schema (zod) and atomic writer load only then, not with every other command.
const entry = argv[0] === WRITE_FILES_SUBCOMMAND ? import('./cli/write-files').then((m) => m.writeFilesCommand()) : main(argv);
entry.then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(errorLine(describe(err)));
    process.exitCode = exitCodeOfError(err);
  },
);
