// Bundles the CLI into one ESM file so a host needs only Node >= 20 and dist/moor.mjs.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const outfile = 'dist/moor.mjs';

await build({
  entryPoints: ['daemon/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  // sd-notify is a native addon: it cannot be bundled and is loaded (optionally) at run time.
  external: ['sd-notify'],
  banner: {
    // Some bundled dependencies are CommonJS and call require(); give them one in ESM.
    js: "#!/usr/bin/env node\nimport { createRequire as __moorCreateRequire } from 'node:module';\nconst require = __moorCreateRequire(import.meta.url);",
  },
});
await chmod(outfile, 0o755);
console.log(`built ${outfile}`);
