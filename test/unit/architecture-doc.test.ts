// docs/ARCHITECTURE.md maps every file of daemon/: each file is named in the table of its
// layer (a folder module by its folder), and every name in a table is a file or folder
// that exists. A file added, moved or removed without the map fails here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMON = join(ROOT, 'daemon');
const doc = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** layer → the names in the first cell of its table's rows ("run-pass.ts", "discovery/"). */
function tables(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  let layer: string | undefined;
  for (const line of doc.split('\n')) {
    const heading = /^### (\w+)\//.exec(line);
    if (heading) layer = heading[1]!;
    else if (line.startsWith('## ')) layer = undefined;
    else if (layer && line.startsWith('| `')) {
      const names = [...line.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      const set = out.get(layer) ?? new Set<string>();
      names.forEach((n) => set.add(n));
      out.set(layer, set);
    }
  }
  return out;
}

describe('docs/ARCHITECTURE.md', () => {
  const named = tables();

  it('has a table for every layer folder', () => {
    const layers = readdirSync(DAEMON, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect([...named.keys()].sort()).toEqual(layers);
  });

  it.each(tsFiles(DAEMON).filter((f) => relative(DAEMON, f).includes(sep)).map((f) => [relative(DAEMON, f)]))('names %s', (rel) => {
    const [layer, ...rest] = rel.split(sep);
    const inLayer = rest.join('/');
    const names = named.get(layer!) ?? new Set<string>();
    const covered = names.has(inLayer) || (rest.length > 1 && names.has(`${rest[0]}/`));
    expect(covered, `${rel} is missing from the ${layer}/ table`).toBe(true);
  });

  it('names only files and folders that exist', () => {
    for (const [layer, names] of named) {
      for (const name of names) expect(existsSync(join(DAEMON, layer, name)), `${layer}/${name}`).toBe(true);
    }
  });
});
