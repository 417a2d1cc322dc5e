// Where the files shipped beside moor.mjs are (write-files.mjs, the addons, the chunks):
// the folder of moor.mjs. build.ts splits the bundle, and code that landed in a chunk runs
// from the chunks folder one below it, so the folder of the running module is not enough.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder beside moor.mjs holding the code commands load when they run (build.ts). */
export const CHUNKS_DIR = 'chunks';

/**
 * The folder of moor.mjs, from the URL of a module bundled into it or into one of its
 * chunks. From source it is the module's own folder, where no sidecar lies, so each
 * caller falls back to the installed package.
 */
export function bundleDir(moduleUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(moduleUrl));
  return basename(here) === CHUNKS_DIR ? dirname(here) : here;
}

/** A file shipped beside moor.mjs. */
export function besideBundle(name: string, moduleUrl?: string): string {
  return join(bundleDir(moduleUrl), name);
}
