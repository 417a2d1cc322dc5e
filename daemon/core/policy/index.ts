// The host policy (docs/policy.md): the facts of what a unit runs, and the judge.
import type { Problem } from '../problem';
import { effectiveValue, type UnitFile } from '../unit-file';
import { judge, type JudgeContext } from './judge';
import type { DeployedFile } from './kube-play';
import type { Policy, Violation } from './model';
import { execFacts, quadletFacts } from './unit-facts';

export type { Fact, FactKind, Namespace, Policy, Rule, Violation } from './model';
export { NAMESPACES, PULL_POLICIES } from './model';
export { parseExecLine, splitWords } from './exec-line';
export { podmanFacts } from './podman-args';
export { kubeYamlFacts } from './kube-yaml';
export type { DeployedFile } from './kube-play';
export { execFacts, quadletFacts } from './unit-facts';
export { globMatch, hostPath, judge, type JudgeContext } from './judge';

/** One file of a workload as rendered: its repo path, name, type and merged unit. */
export interface JudgedFile {
  path: string;
  name: string;
  ext: string;
  kind: 'quadlet' | 'unit' | 'data';
  unit: UnitFile;
  /** The unit it yields, for messages. */
  unitName: string;
}

/**
 * The static check: every Quadlet and plain unit file of one workload, mapped key by key
 * to facts and judged. A violation is a problem of that workload, at the line that says it.
 * `fileOf` gives a file of the workload by its name as a unit writes it (a `.kube`'s
 * `Yaml=app.yaml`); a YAML it does not give is unjudgeable.
 */
export function policyProblems(policy: Policy, workload: string, files: readonly JudgedFile[], fileOf?: (name: string) => DeployedFile | undefined): Problem[] {
  const imageOf = (ref: string) => {
    const file = files.find((f) => f.name === ref && f.ext === 'image');
    return file ? effectiveValue(file.unit, 'Image', 'Image') : undefined;
  };
  const problems: Problem[] = [];
  for (const f of files) {
    if (f.kind === 'data') continue;
    const facts = f.kind === 'quadlet' ? quadletFacts(f.ext, f.unit, imageOf, fileOf) : execFacts(f.unit);
    for (const v of judge(policy, facts, `${f.unitName} (${f.path})`)) problems.push(problemOf(v, f.path, workload));
  }
  return problems;
}

export function problemOf(v: Violation, path: string, workload: string): Problem {
  const from = v.fact.source && v.fact.source !== path ? ` (set by ${v.fact.source}${v.fact.line ? `:${v.fact.line}` : ''})` : '';
  return {
    path,
    ...(v.fact.line !== undefined && !from ? { line: v.fact.line } : {}),
    code: `policy-${v.rule.replaceAll('_', '-')}`,
    message: `${v.message}${from}`,
    hint: v.hint,
    workload,
  };
}

/**
 * The authoritative check: units as systemd has them loaded (`systemctl --user cat`,
 * Quadlet's output for a Quadlet file), judged with the user's own home and uid.
 * `fileAt` gives what moor deployed at an absolute path (the YAML `podman kube play` reads).
 */
export function loadedViolations(policy: Policy, units: readonly { unit: string; loaded: UnitFile }[], ctx: JudgeContext, fileAt?: (path: string) => DeployedFile | undefined): Violation[] {
  return units.flatMap((u) => judge(policy, execFacts(u.loaded, fileAt), u.unit, ctx));
}
