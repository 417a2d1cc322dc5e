// The sections each unit file type may hold. systemd and Quadlet skip a section they do not
// know with at most a warning in the journal, so whatever it held would silently do
// nothing, and Quadlet copies it into the generated unit as it is written: quadsync's
// [Secrets] would put its values in the clear into a file any process of the user can read
// (moor's secrets are `.age` files, core/secrets.ts).
// An unknown section is refused for the whole tree, before anything is written.
import type { Problem } from './problem';
import type { UnitFile } from './unit-file';
import { fileType, isUnitType } from './validate';

// Quadlet passes [Unit], [Service] and [Install] through to the generated service, and
// reads [Quadlet] (DefaultDependencies=) itself.
const QUADLET_COMMON = ['Unit', 'Service', 'Install', 'Quadlet'];

const KNOWN_SECTIONS: Record<string, readonly string[]> = {
  container: ['Container', ...QUADLET_COMMON],
  pod: ['Pod', ...QUADLET_COMMON],
  volume: ['Volume', ...QUADLET_COMMON],
  network: ['Network', ...QUADLET_COMMON],
  kube: ['Kube', ...QUADLET_COMMON],
  image: ['Image', ...QUADLET_COMMON],
  build: ['Build', ...QUADLET_COMMON],
  service: ['Unit', 'Service', 'Install'],
  timer: ['Unit', 'Timer', 'Install'],
  socket: ['Unit', 'Socket', 'Install'],
  path: ['Unit', 'Path', 'Install'],
  target: ['Unit', 'Install'],
};

/** The sections a unit file of this type may hold; `X-` sections are always allowed. */
export function knownSections(type: string): readonly string[] {
  return KNOWN_SECTIONS[type] ?? [];
}

/** Every section of the file its type does not know, with its line and a fix. */
export function sectionProblems(unit: UnitFile, fileName: string, path: string): Problem[] {
  const type = fileType(fileName);
  if (!isUnitType(type)) return [];
  const known = knownSections(type);
  const problems: Problem[] = [];
  for (const s of unit.sections) {
    // systemd ignores X- sections by definition: the place for a file's own metadata.
    if (known.includes(s.name) || s.name.startsWith('X-')) continue;
    problems.push(s.name === 'Secrets' ? secretsProblem(path, s.line) : unknownSection(path, s.line, s.name, fileName, known));
  }
  return problems;
}

function secretsProblem(path: string, line: number): Problem {
  return {
    path,
    line,
    code: 'secrets-section',
    message:
      "moor does not read quadsync's [Secrets] section; deployed as it is, its values would be written in the clear into the user's unit file",
    hint:
      'remove [Secrets] from the repository, put each value in an age-encrypted file <workload>-<name>.age beside the spec (age -r <host recipient>) ' +
      'and refer to it in [Container] with Secret=<workload>-<name>,type=env,target=<VARIABLE> or Secret=<workload>-<name>,type=mount,target=<file> (docs/repository.md#secrets)',
  };
}

function unknownSection(path: string, line: number, name: string, fileName: string, known: readonly string[]): Problem {
  const sameLetters = known.find((k) => k.toLowerCase() === name.toLowerCase());
  const list = known.map((k) => `[${k}]`).join(', ');
  return {
    path,
    line,
    code: 'unknown-section',
    message: `[${name}] is not a section a .${fileType(fileName)} file has (${list}); systemd would skip it and what it holds would do nothing`,
    hint:
      sameLetters !== undefined
        ? `section names are case-sensitive: write [${sameLetters}]`
        : `move its settings into one of ${list}, or rename it [X-${name}] if it is only a note`,
  };
}
