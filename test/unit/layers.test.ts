// The layers of daemon/ (docs/design.md §12): each module imports only from its own layer
// and the layers below it, no import cycle exists, and a folder with an index.ts is
// entered only through it. daemon/core/ is pure besides: it may import only itself and
// libraries that compute, never the file system, processes, the network or the clock.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findCycle, importsOf, layerOf, LAYERS, type Layer } from '../helpers/import-graph';

const DAEMON = resolve(dirname(fileURLToPath(import.meta.url)), '../../daemon');
const CORE = join(DAEMON, 'core');
const ALLOWED_PACKAGES = new Set(['zod', 'zod/mini', 'zod/v4/locales/en.js', 'ignore', 'diff', 'yaml', 'smol-toml', 'node:crypto']);
const FORBIDDEN_GLOBALS = [/\bDate\.now\(/, /\bnew Date\(\s*\)/, /\bsetTimeout\(/, /\bsetInterval\(/, /\bprocess\.(env|argv|cwd|exit|pid|stdout|stderr|stdin)\b/, /\brequire\(/];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const files = tsFiles(DAEMON);
const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(f, 'utf8'))]));

describe('daemon/ layers', () => {
  it('has every module in a known layer', () => {
    expect(files.length).toBeGreaterThan(80);
    for (const f of files) expect(layerOf(DAEMON, f), relative(DAEMON, f)).toBeDefined();
    expect(LAYERS).toEqual(['core', 'host', 'state', 'pass', 'service', 'cli', 'main']);
  });

  it.each(files.map((f) => [relative(DAEMON, f), f]))('%s imports nothing from a layer above it', (_name, file) => {
    const own = LAYERS.indexOf(layerOf(DAEMON, file)!);
    for (const { target } of graph.get(file)!.filter((i) => i.target !== undefined)) {
      const layer = layerOf(DAEMON, target!) as Layer | undefined;
      expect(layer, `${relative(DAEMON, target!)} is outside daemon/`).toBeDefined();
      expect(LAYERS.indexOf(layer!), `${relative(DAEMON, file)} imports ${relative(DAEMON, target!)} (${layer} is above ${LAYERS[own]})`).toBeLessThanOrEqual(own);
    }
  });

  it('has no import cycle (type-only imports included)', () => {
    const edges = new Map([...graph].map(([f, imports]) => [f, imports.flatMap((i) => (i.target ? [i.target] : []))]));
    const cycle = findCycle(edges);
    expect(cycle?.map((f) => relative(DAEMON, f)).join(' → ')).toBeUndefined();
  });

  it('enters a folder with an index.ts only through it', () => {
    const modules = new Set(files.filter((f) => f.endsWith(`${sep}index.ts`)).map((f) => dirname(f)));
    for (const [file, imports] of graph) {
      for (const { target } of imports) {
        if (!target) continue;
        const folder = [...modules].find((m) => target.startsWith(`${m}${sep}`));
        if (folder && !file.startsWith(`${folder}${sep}`)) {
          expect(target, `${relative(DAEMON, file)} reaches inside ${relative(DAEMON, folder)}/`).toBe(join(folder, 'index.ts'));
        }
      }
    }
  });
});

describe('daemon/core purity', () => {
  const core = files.filter((f) => f.startsWith(`${CORE}${sep}`));

  it('has files to check', () => {
    expect(core.length).toBeGreaterThan(20);
  });

  it.each(core.map((f) => [relative(CORE, f), f]))('%s imports only core and pure libraries', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    for (const { spec, target } of graph.get(file)!) {
      if (spec.startsWith('.')) {
        expect(target?.startsWith(`${CORE}${sep}`), `${spec} leaves daemon/core`).toBe(true);
      } else {
        expect(ALLOWED_PACKAGES.has(spec), `${spec} is not a pure dependency`).toBe(true);
      }
    }
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const pattern of FORBIDDEN_GLOBALS) expect(pattern.test(code), `${pattern} in core`).toBe(false);
  });
});
