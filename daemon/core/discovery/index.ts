// Discovery (docs/design.md §2): from the entries of a checkout to workloads, groups and every
// problem at once. Problems with `workload` set fail only that workload, which stays in
// `workloads` so the pass knows it is still desired (and leaves it as it runs); any
// other problem makes the whole tree unreliable.
import type { DiscoveryOptions, GroupInfo, TreeEntry, Workload } from '../types';
import { sortProblems, type Problem } from '../problem';
import { walkEntries } from './walk';
import { buildWorkloads } from './attach';

export interface Discovery {
  workloads: Workload[];
  groups: GroupInfo[];
  problems: Problem[];
}

export function discover(entries: readonly TreeEntry[], opts: DiscoveryOptions): Discovery {
  const walked = walkEntries(entries, opts);
  const built = buildWorkloads(walked.candidates, opts.userPrefix, opts.reservedNames);
  return {
    workloads: built.workloads,
    groups: walked.groups,
    problems: sortProblems([...walked.problems, ...built.problems]),
  };
}
