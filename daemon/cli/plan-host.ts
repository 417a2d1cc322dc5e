// moor plan --host NAME: what host NAME of a fleet would do with a checkout, from any
// machine (docs/fleet.md "Planning for another host"): its slice rendered as it would
// render it, compared by hash with the status it last published to moor-status/NAME.
import { resolve } from 'node:path';
import { statSync } from 'node:fs';
import type { MoorConfig } from '../core/config/schema';
import { HOST_NAME_PATTERN } from '../core/config/schema';
import { SourceError, UsageError, ValidationError } from '../core/errors';
import { renderWorkload, specifierIdentity } from '../core/desired';
import { hostWorkloads, notInFleet, readFleetManifest, sliceFor } from '../core/fleet';
import type { StatusDocument } from '../core/fleet-status';
import { planForHost, publishedAccount, type HostPlanItem } from '../core/host-plan';
import { formatProblem, sortProblems, type Problem } from '../core/problem';
import { safeText } from '../core/safe-text';
import { scanTree } from '../host/repo-scan';
import { loadTransformsDir } from '../host/transforms-load';
import { fleetView } from './fleet-view';
import { table } from './output';

export interface PlanHostOptions {
  host: string;
  /** The checkout to plan (default: the current directory). */
  repo?: string;
  /** Where the host publishes (default: source.url). */
  source?: string;
  transforms?: string;
}

export interface HostPlan {
  host: string;
  roles: string[];
  repo: string;
  /** What the host last published, or null when it never did (every workload is then a create). */
  published: { commit: string | null; generation: number | null; at: string; result: string } | null;
  items: HostPlanItem[];
  /** Problems of the whole tree for this host: its pass would apply nothing. */
  problems: Problem[];
}

export async function planHost(config: MoorConfig, opts: PlanHostOptions): Promise<HostPlan> {
  if (!HOST_NAME_PATTERN.test(opts.host)) throw new UsageError(`--host ${JSON.stringify(opts.host)}: not a host name (lower-case letters, digits and "-")`);
  const repo = resolve(opts.repo ?? '.');
  if (!statSync(repo, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--repo ${opts.repo ?? '.'}: not a directory`);
  const view = await fleetView(config, opts.source);
  const mine = view.hosts.find((h) => h.host === opts.host);
  // What the host published cannot be read: nothing to compare with, said as a source problem (exit 4).
  if (mine && 'problem' in mine) throw new SourceError(`moor-status/${opts.host}: ${mine.problem}`);
  const published: StatusDocument | undefined = mine;

  let entries;
  try {
    entries = await scanTree(repo, { maxFileBytes: config.maxFileBytes, budget: config.repoBudget });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { host: opts.host, roles: [], repo, published: summary(published), items: [], problems: [...err.problems] };
  }
  const fleet = readFleetManifest(entries);
  // The labels the host published are its own config's too: what it renders with.
  const slice = sliceFor(entries, fleet.manifest, { name: opts.host, labels: published?.labels ?? {} });
  const transforms = await loadTransformsDir(resolve(opts.transforms ?? config.transformsDir));
  const discoveryOptions = { userPrefix: config.userPrefix, maxFileBytes: config.maxFileBytes, reservedNames: config.reservedNames, host: slice.host };
  const discovery = hostWorkloads(slice, discoveryOptions).mine;
  const inRepo = (p: Problem): Problem => ({ ...p, path: slice.repoPath(p.path) });
  const treeProblems = [...fleet.problems, ...notInFleet(slice, 'give it labels a role selects (the labels it publishes)')];
  const rendered = discovery.workloads.map((w) => {
    const account = publishedAccount(published, w.name);
    const own = discovery.problems.filter((p) => p.workload === w.name);
    const identity = account ? { name: w.name, user: w.user, ...account, host: slice.host.name, labels: slice.host.labels } : specifierIdentity(w, slice.host);
    const r = renderWorkload(w, transforms.set, identity, own, config.policy);
    return { ...r, problems: r.problems.map(inRepo) };
  });
  treeProblems.push(...discovery.problems.filter((p) => p.workload === undefined).map(inRepo), ...transforms.problems);
  return {
    host: opts.host,
    roles: [...slice.roles],
    repo,
    published: summary(published),
    items: treeProblems.length > 0 ? [] : planForHost(rendered, published),
    problems: sortProblems(treeProblems),
  };
}

function summary(doc: StatusDocument | undefined): HostPlan['published'] {
  return doc ? { commit: doc.commit, generation: doc.generation, at: doc.at, result: doc.result } : null;
}

export function formatHostPlan(p: HostPlan): string {
  const lines: string[] = [];
  lines.push(
    p.published
      ? `host ${p.host}${p.roles.length > 0 ? ` (roles ${p.roles.join(', ')})` : ''}: published ${p.published.result} at ${p.published.at}, commit ${p.published.commit?.slice(0, 12) ?? 'none'}, generation ${p.published.generation ?? 'none'}`
      : `host ${p.host}: has published no status; every workload is compared with nothing`,
  );
  for (const problem of p.problems) lines.push(safeText(formatProblem(problem)));
  if (p.problems.length > 0) {
    lines.push(`its pass would apply nothing: ${p.problems.length} problem${p.problems.length === 1 ? '' : 's'} of the tree`);
    return lines.join('\n');
  }
  if (p.items.length === 0) lines.push('no workloads for this host');
  else lines.push(table([['WORKLOAD', 'ACTION', 'USER', 'UNITS'], ...p.items.map((i) => [i.workload, i.action, i.user, i.units.join(', ') || '-'].map((c) => safeText(c)))]));
  for (const i of p.items) for (const problem of i.problems ?? []) lines.push(safeText(`  ${i.workload}: ${formatProblem(problem)}`));
  return lines.join('\n');
}
