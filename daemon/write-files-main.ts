// The writer alone: `node write-files.mjs __write-files`, what moor runs as a workload user
// to write that user's files (host/user-files.ts). build.ts bundles it apart from the CLI:
// starting the whole 2 MB bundle for it cost about 180 ms per workload applied, most of it
// parsing code the writer never runs. The same entry is behind `moor __write-files`.
import { WRITE_FILES_SUBCOMMAND, writeFilesCommand } from './cli/write-files';

if (process.argv[2] !== WRITE_FILES_SUBCOMMAND) {
  process.stderr.write(`usage: write-files.mjs ${WRITE_FILES_SUBCOMMAND} (payload on stdin); moor runs it as a workload user\n`);
  process.exitCode = 2;
} else {
  writeFilesCommand().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`write-files: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
