// The import graph of daemon/, for the layer test: which module imports which, and the
// layer each module belongs to.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** From the bottom up: a module may import from its own layer and those before it. */
export const LAYERS = ['core', 'host', 'state', 'pass', 'service', 'cli', 'main'] as const;
export type Layer = (typeof LAYERS)[number];

/** The layer of a file under daemon/: its top folder, or `main` for daemon/main.ts. */
export function layerOf(daemonDir: string, file: string): Layer | undefined {
  const rel = relative(daemonDir, file);
  if (rel.startsWith('..')) return undefined;
  // The entry points: the CLI, and the writer bundled alone (build.ts).
  if (rel === 'main.ts' || rel === 'write-files-main.ts') return 'main';
  const top = rel.split(sep)[0] as Layer;
  return rel.includes(sep) && LAYERS.includes(top) ? top : undefined;
}

export interface Import {
  spec: string;
  /** The file a relative import resolves to; undefined for a package. */
  target?: string;
}

/** Every `import ... from`, `export ... from` and dynamic `import()` of a module, type-only ones too. */
export function importsOf(file: string, text: string): Import[] {
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|(?:^|\n)\s*import\s+'([^']+)'/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
  return specs.map((spec) => (spec.startsWith('.') ? { spec, target: resolveModule(dirname(file), spec) } : { spec }));
}

function resolveModule(from: string, spec: string): string {
  const base = resolve(from, spec);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${spec} from ${from} resolves to no file`);
}

/** A cycle in the graph as the list of files around it, or undefined. */
export function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}
