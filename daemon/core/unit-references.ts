// References from one Quadlet file to another (`Pod=db.pod`, `Network=x.network`,
// `Volume=x.volume:/data`, `Image=x.image`). Quadlet resolves them among the files of the
// same user, and each workload is its own user, so a name that is not a file of the
// workload makes the generator drop the unit without a word to moor: it is refused here.
import type { Problem } from './problem';
import type { RepoFile, Workload } from './types';
import { isEntry, type UnitFile } from './unit-file';

interface Rule {
  sections: readonly string[];
  key: string;
  /** The Quadlet file names a value refers to, if any. */
  refs(value: string): string[];
}

const firstField = (v: string): string => v.split(':')[0] ?? '';
const withExt = (name: string, exts: readonly string[]): string[] => (exts.some((e) => name.endsWith(`.${e}`)) ? [name] : []);

const RULES: readonly Rule[] = [
  { sections: ['Container'], key: 'Pod', refs: (v) => [v] },
  { sections: ['Container', 'Pod', 'Kube', 'Build'], key: 'Network', refs: (v) => withExt(firstField(v), ['network']) },
  { sections: ['Container', 'Pod', 'Build'], key: 'Volume', refs: (v) => withExt(firstField(v), ['volume']) },
  {
    sections: ['Container'],
    key: 'Mount',
    refs: (v) =>
      v
        .split(',')
        .map((kv) => kv.split('='))
        .filter(([k]) => k === 'source' || k === 'src')
        .flatMap(([, name]) => withExt(name ?? '', ['volume'])),
  },
  { sections: ['Container', 'Volume'], key: 'Image', refs: (v) => withExt(v, ['image', 'build']) },
];

/**
 * Every reference the spec itself writes to a Quadlet file its workload does not hold.
 * `madeByTemplates`: the names the host's companion templates add to the workload.
 */
export function referenceProblems(unit: UnitFile, file: RepoFile, workload: Workload, madeByTemplates: readonly string[] = []): Problem[] {
  const names = new Set([...[workload.spec, ...workload.members, ...workload.companions].map((f) => f.name), ...madeByTemplates]);
  const problems: Problem[] = [];
  for (const section of unit.sections) {
    for (const item of section.items) {
      if (!isEntry(item) || (item.source !== undefined && item.source !== file.path)) continue;
      const rule = RULES.find((r) => r.key === item.key && r.sections.includes(section.name));
      if (!rule) continue;
      const value = item.value.replace(/^"(.*)"$/, '$1');
      if (rule.key === 'Pod' && value !== '' && !value.endsWith('.pod')) {
        problems.push({
          path: file.path,
          line: item.line,
          code: 'bad-reference',
          message: `Pod=${value} in [Container] does not name a .pod file; Quadlet joins only pods it generates`,
          hint: `write Pod=<name>.pod, naming a .pod file of workload "${workload.name}"`,
        });
        continue;
      }
      for (const ref of rule.refs(value)) {
        if (ref === '' || names.has(ref)) continue;
        problems.push({
          path: file.path,
          line: item.line,
          code: 'missing-reference',
          message: `${item.key}= in [${section.name}] names ${ref}, which is not a file of workload "${workload.name}"; Quadlet looks for it among the files of user ${workload.user} only, and the unit would not be generated`,
          hint: `add ${ref} to the repository as a file of this workload (its name starting with "${workload.name}-" or "${workload.name}."), or correct the name`,
        });
      }
    }
  }
  return problems;
}
