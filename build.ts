// Bundles the CLI into one ESM file so a host needs only Node >= 20 and dist/moor.mjs.
import { build } from 'esbuild';
import { chmod, copyFile, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const outfile = 'dist/moor.mjs';

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
  banner: { js: banner },
} as const;

await build({
  ...common,
  entryPoints: ['daemon/main.ts'],
  outfile,
  // sd-notify is a native addon: it cannot be bundled and is loaded (optionally) at run time.
  external: ['sd-notify'],
  define: {
    __MOOR_UNITS__: JSON.stringify(await readUnits('units')),
    // moor.toml(5) is generated from the configuration reference's key table (cli/man.ts).
    __MOOR_CONFIG_DOC__: JSON.stringify(await readFile('docs/configuration.md', 'utf8')),
  },
});
await chmod(outfile, 0o755);
console.log(`built ${outfile}`);

// The writer a workload user runs to write its files, alone: it starts in a fraction of
// the CLI's time (daemon/write-files-main.ts). host/user-files.ts runs it from beside moor.mjs.
await build({ ...common, entryPoints: ['daemon/write-files-main.ts'], outfile: 'dist/write-files.mjs' });
await chmod('dist/write-files.mjs', 0o755);
console.log('built dist/write-files.mjs');

// The sd-notify addon's compiled file, loaded from next to the bundle (daemon/service/notify.ts).
// It is built for this Node.js version; a host on another one falls back to systemd-notify.
const addon = 'node_modules/sd-notify/build/Release/notify.node';
const sidecar = 'dist/sd-notify.node';
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
const dgramSidecar = 'dist/unix-dgram.node';
if (existsSync(dgramAddon)) {
  await copyFile(dgramAddon, dgramSidecar);
  console.log(`copied ${dgramSidecar}`);
} else {
  await rm(dgramSidecar, { force: true });
  console.log('unix-dgram addon not built: log records go to stderr without journal fields');
}
