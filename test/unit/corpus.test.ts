// The parser, writer and validator against Podman's own Quadlet test files: real-world
// syntax, and Podman's verdict on each file written in its `## assert-...` comments.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseUnit, unitShape, writeUnit } from '../../daemon/core/unit-file';
import { fileType, QUADLET_TYPES, validateUnit } from '../../daemon/core/validate';
import { sectionProblems } from '../../daemon/core/unit-sections';

const MIN_FILES = 316;
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpusDir = process.env.MOOR_CORPUS_DIR ?? resolve(repoRoot, '..', 'shared', 'corpus', 'podman-quadlet');

interface CorpusFile {
  /** Relative to the corpus root. */
  rel: string;
  text: string;
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
}

let files: CorpusFile[] = [];

beforeAll(() => {
  if (!existsSync(corpusDir) || !statSync(corpusDir).isDirectory()) {
    throw new Error(`Podman Quadlet corpus not found at ${corpusDir} (set MOOR_CORPUS_DIR to its location)`);
  }
  files = walk(corpusDir).map((full) => ({ rel: relative(corpusDir, full), text: readFileSync(full, 'utf8') }));
  if (files.length < MIN_FILES) {
    throw new Error(`Podman Quadlet corpus at ${corpusDir} holds ${files.length} files, expected at least ${MIN_FILES}`);
  }
});

/** Podman's verdict, from the test harness comments. */
function podmanErrors(text: string): string[] {
  return [...text.matchAll(/^## assert-stderr-contains "(.*)"\s*$/gm)].map((m) => m[1]!);
}
function podmanRejects(text: string): boolean {
  return /^## assert-failed\s*$/m.test(text) || podmanErrors(text).length > 0;
}

/** Standalone specs: not drop-ins (`*.d/*.conf` only make sense merged into their unit). */
function specs(types: readonly string[], topLevelOnly = false): CorpusFile[] {
  return files.filter(
    (f) => types.includes(fileType(f.rel)) && !dirname(f.rel).endsWith('.d') && (!topLevelOnly || !f.rel.includes('/')),
  );
}

function codesOf(f: CorpusFile): string[] {
  return validateUnit(parseUnit(f.text), basename(f.rel), f.rel, 'spec').map((p) => p.code);
}

describe('Podman Quadlet corpus', () => {
  it('parses every file without a syntax issue and round-trips it unchanged in meaning', () => {
    for (const f of files) {
      const first = parseUnit(f.text);
      expect(first.issues, f.rel).toEqual([]);
      const again = parseUnit(writeUnit(first.unit));
      expect(again.issues, f.rel).toEqual([]);
      expect(unitShape(again.unit), f.rel).toEqual(unitShape(first.unit));
    }
    console.log(`corpus: ${files.length} files parsed and round-tripped`);
  });

  it('flags missing-image on exactly the .container files Podman rejects for it', () => {
    const containers = specs(['container'], true);
    const expected = containers
      .filter((f) => podmanErrors(f.text).includes('no Image or Rootfs key specified'))
      .map((f) => f.rel);
    expect(expected).toEqual(expect.arrayContaining(['noimage.container', 'emptyline.container']));
    const flagged = containers.filter((f) => codesOf(f).includes('missing-image')).map((f) => f.rel);
    expect(flagged.sort()).toEqual(expected.sort());
  });

  it.each([
    ['image', 'no Image key specified', 'missing-image', 'no-image.image'],
    ['build', 'no ImageTag key specified', 'missing-image-tag', 'no-imagetag.build'],
  ])('flags .%s files Podman rejects with "%s" as %s, and no others', (type, podmanMessage, code, known) => {
    const all = specs([type], true);
    const expected = all.filter((f) => podmanErrors(f.text).includes(podmanMessage)).map((f) => f.rel);
    expect(expected).toContain(known);
    expect(all.filter((f) => codesOf(f).includes(code)).map((f) => f.rel).sort()).toEqual(expected.sort());
  });

  it('flags User=, Group= and DynamicUser= in [Service] exactly where Podman refuses them', () => {
    const all = specs(QUADLET_TYPES);
    const refused = /^using key (User|Group|DynamicUser) in the Service group is not supported$/;
    const expected = all.filter((f) => podmanErrors(f.text).some((m) => refused.test(m))).map((f) => f.rel);
    expect(expected).toEqual(expect.arrayContaining(['service-user.container', 'service-group.container', 'service-dynamicuser.pod']));
    expect(all.filter((f) => codesOf(f).includes('service-user')).map((f) => f.rel).sort()).toEqual(expected.sort());
  });

  it('finds nothing wrong in any spec Podman accepts', () => {
    // The corpus has no .pod, .volume or .network that Podman accepts without its own
    // section, so requiring [Pod], [Volume] and [Network] refuses nothing Podman runs.
    const accepted = specs(QUADLET_TYPES).filter((f) => !podmanRejects(f.text));
    expect(accepted.length).toBeGreaterThan(200);
    expect(specs(['pod']).filter((f) => !podmanRejects(f.text)).length).toBeGreaterThan(20);
    const wrong = accepted.map((f) => ({ file: f.rel, codes: codesOf(f) })).filter((r) => r.codes.length > 0);
    expect(wrong).toEqual([]);
  });

  it('knows every section of every spec in the corpus, Quadlet and plain units alike', () => {
    const all = specs([...QUADLET_TYPES, 'service', 'timer', 'socket', 'path', 'target']);
    expect(all.length).toBeGreaterThan(250);
    const unknown = all.flatMap((f) => sectionProblems(parseUnit(f.text).unit, basename(f.rel), f.rel).map((p) => `${f.rel}:${p.line} ${p.message}`));
    expect(unknown).toEqual([]);
  });
});
