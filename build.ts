// Bundles the CLI into dist/moor.mjs and the chunks it loads when a command needs them
// (dist/chunks/), so a host needs only Node >= 20 and dist/.
import { build, type Plugin } from 'esbuild';
import { chmod, copyFile, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

// --outdir: build elsewhere than dist/ (a test installs from a build of its own).
const out = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } }).values.outdir;
const outfile = join(out, 'moor.mjs');
// Beside moor.mjs: the code a command loads only when it runs (each `await import()` in
// daemon/ begins one), named by content so that a new build never reuses an old name for
// other code. host/bundle-dir.ts finds moor.mjs's folder from a chunk by this name.
const chunksDir = join(out, 'chunks');

// units/ is the one source of the shipped systemd units; `moor install-units` carries them
// inside the bundle (see daemon/cli/shipped-units.ts).
async function readUnits(dir: string, root = dir): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(out, await readUnits(path, root));
    else if (entry.isFile()) out[relative(root, path)] = await readFile(path, 'utf8');
  }
  return out;
}

// Some bundled dependencies are CommonJS and call require() or use __filename
// (write-file-atomic names its temp files with it); give them those in ESM.
const banner = [
  '#!/usr/bin/env node',
  "import { createRequire as __moorCreateRequire } from 'node:module';",
  "import { fileURLToPath as __moorFileURLToPath } from 'node:url';",
  "import { dirname as __moorDirname } from 'node:path';",
  'const require = __moorCreateRequire(import.meta.url);',
  'const __filename = __moorFileURLToPath(import.meta.url);',
  'const __dirname = __moorDirname(__filename);',
].join('\n');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  // Less text for Node to read and V8 to pre-parse at every start (about a third of the
  // bytes). Identifiers keep their names, so a stack trace still names its functions.
  minifyWhitespace: true,
  minifySyntax: true,
  banner: { js: banner },
} as const;

// zod's namespace carries every language's error messages (370 KB, an eighth of the
// bundle), all compiled at each start; moor's messages are English, zod's default, which
// zod imports on its own, and z.locales is never used.
const zodWithoutLocales: Plugin = {
  name: 'zod-without-locales',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (args.importer.includes('/node_modules/zod/') ? { path: 'zod-locales', namespace: 'moor-empty' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'moor-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

// commander requires node:child_process as it loads, for the executable subcommands
// (`moor-foo` files) that moor has none of; loading it (and the net and dgram modules it
// requires) cost every command a few milliseconds. commander gets a spawn that requires
// it when called.
const commanderLazyChildProcess: Plugin = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) => (args.importer.includes('/node_modules/commander/') ? { path: 'child_process', namespace: 'moor-lazy-child-process' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'moor-lazy-child-process' }, () => ({
      contents: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
  },
};

// A build never leaves the chunks of an earlier one behind.
await rm(chunksDir, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { moor: 'daemon/main.ts' },
  outdir: out,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  plugins: [zodWithoutLocales, commanderLazyChildProcess],
  // sd-notify is a native addon: it cannot be bundled and is loaded (optionally) at run time.
  external: ['sd-notify'],
  define: {
    __MOOR_UNITS__: JSON.stringify(await readUnits('units')),
    // moor.toml(5) is generated from the configuration reference's key table (cli/man.ts).
    __MOOR_CONFIG_DOC__: JSON.stringify(await readFile('docs/configuration.md', 'utf8')),
  },
});
await chmod(outfile, 0o755);
console.log(`built ${outfile} and ${(await readdir(chunksDir)).length} chunks in ${chunksDir}/`);

// The writer a workload user runs to write its files, alone: it starts in a fraction of
// the CLI's time (daemon/write-files-main.ts). host/user-files.ts runs it from beside moor.mjs.
const writer = join(out, 'write-files.mjs');
await build({ ...common, entryPoints: ['daemon/write-files-main.ts'], outfile: writer });
await chmod(writer, 0o755);
console.log(`built ${writer}`);

// The sd-notify addon's compiled file, loaded from next to the bundle (daemon/service/notify.ts).
// It is built for this Node.js version; a host on another one falls back to systemd-notify.
const addon = 'node_modules/sd-notify/build/Release/notify.node';
const sidecar = join(out, 'sd-notify.node');
if (existsSync(addon)) {
  await copyFile(addon, sidecar);
  console.log(`copied ${sidecar}`);
} else {
  await rm(sidecar, { force: true });
  console.log('sd-notify addon not built: the daemon will notify systemd through systemd-notify');
}

// The unix-dgram addon's compiled file, loaded from next to the bundle (host/journal-socket.ts):
// log records go to journald's native socket with their fields. Built for this Node.js
// version; without it (or on another version) records are stderr lines, as before.
const dgramAddon = 'node_modules/unix-dgram/build/Release/unix_dgram.node';
const dgramSidecar = join(out, 'unix-dgram.node');
if (existsSync(dgramAddon)) {
  await copyFile(dgramAddon, dgramSidecar);
  console.log(`copied ${dgramSidecar}`);
} else {
  await rm(dgramSidecar, { force: true });
  console.log('unix-dgram addon not built: log records go to stderr without journal fields');
}
