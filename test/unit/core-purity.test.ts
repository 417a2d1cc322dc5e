// daemon/core/ is pure (DESIGN §12): it may import only itself and libraries that
// compute, never the file system, processes, the network or the clock.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = resolve(dirname(fileURLToPath(import.meta.url)), '../../daemon/core');
const ALLOWED_PACKAGES = new Set(['zod', 'ignore', 'diff', 'node:crypto']);
const FORBIDDEN_GLOBALS = [/\bDate\.now\(/, /\bnew Date\(\s*\)/, /\bsetTimeout\(/, /\bsetInterval\(/, /\bprocess\.(env|argv|cwd|exit|pid|stdout|stderr|stdin)\b/, /\brequire\(/];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('daemon/core purity', () => {
  const files = tsFiles(CORE);

  it('has files to check', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it.each(files.map((f) => [relative(CORE, f), f]))('%s imports only core and pure libraries', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*from\s+'([^']+)'/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        expect(target.startsWith(CORE), `${spec} leaves daemon/core`).toBe(true);
      } else {
        expect(ALLOWED_PACKAGES.has(spec), `${spec} is not a pure dependency`).toBe(true);
      }
    }
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const pattern of FORBIDDEN_GLOBALS) expect(pattern.test(code), `${pattern} in core`).toBe(false);
  });
});
