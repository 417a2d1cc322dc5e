// Discovery (docs/design.md §2): from the entries of a checkout to workloads, groups and every
// problem at once. Problems with `workload` set fail only that workload, which stays in
// `workloads` so the pass knows it is still desired (and leaves it as it runs); any
// other problem makes the whole tree unreliable.
import { isUnitKind, type DiscoveryOptions, type GroupInfo, type TreeEntry, type Workload } from '../types';
import { sortProblems, type Problem } from '../problem';
import { walkEntries } from './walk';

export { MOORIGNORE } from './ignores';
import { buildWorkloads } from './attach';
import { sectionProblems } from '../unit-sections';
import { parseUnit } from '../unit-file';

export interface Discovery {
  workloads: Workload[];
  groups: GroupInfo[];
  problems: Problem[];
}

export function discover(entries: readonly TreeEntry[], opts: DiscoveryOptions): Discovery {
  const walked = walkEntries(entries, opts);
  const built = buildWorkloads(walked.candidates, opts.userPrefix, opts.reservedNames, opts.host);
  // Sections are judged here, not with the rest of a spec, because an unknown one fails
  // the whole tree (unit-sections.ts): a repository written for another tool is not
  // partly applied.
  const sections = built.workloads.flatMap((w) =>
    [w.spec, ...w.members, ...w.companions]
      .filter((f) => isUnitKind(f.kind))
      .flatMap((f) => sectionProblems(parseUnit(f.content, f.path).unit, f.name, f.path)),
  );
  return {
    workloads: built.workloads,
    groups: walked.groups,
    problems: sortProblems([...walked.problems, ...built.problems, ...sections]),
  };
}
