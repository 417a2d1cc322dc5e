// The hidden `__write-files` entry: moor re-run as a workload user (see
// host/user-files.ts) to write that user's files. daemon/main.ts dispatches to it before
// any config or state is touched.
import { userInfo } from 'node:os';
import { runWriteFilesPayload } from '../host/write-files-payload';

export { WRITE_FILES_SUBCOMMAND } from '../host/user-files';

/**
 * The hidden `__write-files` subcommand: payload on stdin, JSON result on stdout, exit 0
 * only when everything was applied. Home comes from the passwd entry of the UID we run
 * as (not $HOME, which the caller's environment could set).
 */
export async function writeFilesCommand(
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout,
  homeDir: string = userInfo().homedir,
): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const result = await runWriteFilesPayload(Buffer.concat(chunks).toString('utf8'), homeDir);
  output.write(`${JSON.stringify(result)}\n`);
  return result.ok ? 0 : 1;
}
