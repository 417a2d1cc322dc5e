// moor man [moor|moor.toml]: the man pages in roff, generated from the program itself and
// from the configuration reference (docs/configuration.md, carried by the bundle).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../core/errors';
import { ExitCode, exitCodeMeaning } from '../core/exit-codes';
import { configManPage, moorManPage } from '../core/man-page';
import type { SetExit } from './common';
import { programTree, rootOf } from './program-tree';

declare const __MOOR_CONFIG_DOC__: string | undefined;

/** docs/configuration.md: embedded in the bundle (build.ts), read from the tree from source. */
async function configurationDoc(): Promise<string> {
  if (typeof __MOOR_CONFIG_DOC__ !== 'undefined') return __MOOR_CONFIG_DOC__;
  return readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
}

export function registerMan(program: Command, setExit: SetExit): void {
  program
    .command('man')
    .description('print a man page in roff: moor man moor.toml > /usr/local/share/man/man5/moor.toml.5')
    .argument('[page]', 'moor (moor(1), the default) or moor.toml (moor.toml(5))', 'moor')
    .action(async (page: string, _opts: unknown, cmd: Command) => {
      const root = rootOf(cmd);
      const version = root.version() ?? '';
      // The date of the page is the version's, not today's: the same bundle prints the same page.
      const date = process.env.SOURCE_DATE_EPOCH ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString().slice(0, 10) : version;
      if (page === 'moor') process.stdout.write(moorManPage(programTree(root), exitCodeMeaning, version, date));
      else if (page === 'moor.toml') process.stdout.write(configManPage(await configurationDoc(), version, date));
      else throw new UsageError(`moor man: unknown page "${page}": moor or moor.toml`);
      setExit(ExitCode.Ok);
    });
}
