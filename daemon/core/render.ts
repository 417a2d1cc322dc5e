// One repo file as it will be written on the host: the spec, merged with the host's
// transforms, checked before and after the merge so a transform that breaks a valid
// spec is blamed on the transform, not on the spec's author.
import type { Problem } from './problem';
import { applyTransforms, missingLabels, substituteUnit, templateFileName, transformsFor, type Identity, type TransformSet } from './transforms';
import { isUnitKind, type RepoFile, type Workload } from './types';
import { kubeFileProblems } from './kube-files';
import { appendEntry, isEntry, parseUnit, setsKey, UnwritableUnitError, writeUnit, type UnitFile } from './unit-file';
import { requirementFor, validateUnit } from './validate';
import { expandSpecPlaceholders, missingLabelProblem } from './spec-placeholders';
import { referenceProblems } from './unit-references';
import { ciphertextOf, secretFileProblems, secretRecord, secretReferenceProblems } from './secrets';

export interface RenderResult {
  /** The text to write (for a secret, what is recorded: its ciphertext's hash); set only when `problems` is empty. */
  content?: string;
  /** A secret's ciphertext (base64), for the pass to decrypt; never recorded. */
  ciphertext?: string;
  /** The merged unit, also when only the merged result is invalid, so `moor render` can show it. */
  unit?: UnitFile;
  problems: Problem[];
}

export function isPodMember(file: RepoFile, workload: Workload): boolean {
  return workload.kind === 'pod' && file.path !== workload.spec.path && file.ext === 'container';
}

export function renderFile(file: RepoFile, workload: Workload, transforms: TransformSet, identity: Identity): RenderResult {
  const owned = (problems: Problem[]): Problem[] => problems.map((p) => ({ ...p, path: file.path, workload: workload.name }));
  if (file.kind === 'secret') {
    const problems = secretFileProblems(file, workload);
    return problems.length > 0 ? { problems } : { content: secretRecord(ciphertextOf(file)), ciphertext: file.content, problems: [] };
  }
  if (!isUnitKind(file.kind)) return { content: file.content, problems: [] };

  const read = parseUnit(file.content, file.path);
  // A label this host lacks, named by a template or a transform, fails this workload on
  // this host only, blamed on the line that names it.
  const labels = hostLabelProblems(file, read.unit, transforms, identity);
  if (labels.length > 0) return { problems: labels.map((p) => ({ ...p, workload: workload.name })) };
  // A template's placeholders were judged when the template was read and are filled in
  // as a transform's; a spec's are filled in here, and any other `{{` is its problem.
  const parsed = file.template === undefined ? read : { ...read, unit: substituteUnit(read.unit, identity) };
  const placeholders = file.template === undefined ? expandSpecPlaceholders(parsed.unit, identity, file.path) : [];
  const raw = [...validateUnit(parsed, file.name, file.path, 'spec'), ...placeholders];
  if (raw.length > 0) return { problems: owned(raw) };
  // A companion template makes its file for every workload: a spec may name it.
  const references = referenceProblems(parsed.unit, file, workload, transforms.templates.map((t) => templateFileName(t, workload.name)));
  if (references.length > 0) return { problems: owned(references) };
  const secrets = secretReferenceProblems(parsed.unit, file, workload);
  if (secrets.length > 0) return { problems: owned(secrets) };

  const unit = applyTransforms(parsed.unit, { type: file.ext, group: file.group, transforms, identity });
  if (isPodMember(file, workload) && !setsKey(unit, 'Container', 'Pod')) {
    appendEntry(unit, 'Container', { key: 'Pod', value: `${workload.name}.pod`, line: 1, source: workload.spec.path });
  }

  const merged = validateUnit(unit, file.name, file.path, 'merged').map((p) => blameTransforms(p, file, transforms));
  if (merged.length > 0) return { unit, problems: owned(merged) };
  if (file.ext === 'kube') {
    const beside = new Set(workload.companions.filter((f) => f.kind === 'referenced').map((f) => f.name));
    const refs = kubeFileProblems(unit, file.path, file.name, workload.name, beside);
    if (refs.length > 0) return { unit, problems: owned(refs) };
  }

  try {
    return { content: writeUnit(unit), unit, problems: [] };
  } catch (err) {
    if (!(err instanceof UnwritableUnitError)) throw err;
    return {
      unit,
      problems: owned([
        {
          path: file.path,
          code: 'unwritable',
          message: `the merged result cannot be written as a unit file: ${err.message}`,
          hint: 'check the transform values and placeholders that produce this entry',
        },
      ]),
    };
  }
}

function hostLabelProblems(file: RepoFile, unit: UnitFile, transforms: TransformSet, identity: Identity): Problem[] {
  const problems: Problem[] = [];
  if (file.template !== undefined) {
    for (const section of unit.sections) {
      for (const item of section.items) {
        if (!isEntry(item)) continue;
        for (const key of missingLabels(item.value, identity)) problems.push(missingLabelProblem(file.path, item.line, `${item.key}= in [${section.name}]`, key, identity.host));
      }
    }
  }
  for (const t of transformsFor(transforms, file.ext, file.group)) {
    for (const section of t.sections) {
      for (const rule of section.rules) {
        for (const key of missingLabels(rule.value, identity)) problems.push(missingLabelProblem(t.path, rule.line, `${rule.key}= in [${section.name}]`, key, identity.host));
      }
    }
  }
  return problems;
}

/**
 * The raw spec passed, so a required key missing after the merge was taken away by a
 * transform: say which ones touch it.
 */
function blameTransforms(p: Problem, file: RepoFile, transforms: TransformSet): Problem {
  const req = requirementFor(file.ext);
  if (!req || req.anyOf.length === 0 || p.code === 'service-user') return p;
  const culprits = transformsFor(transforms, file.ext, file.group).filter((t) =>
    t.sections.some(
      (s) => s.name === req.section && s.rules.some((r) => req.anyOf.includes(r.key) && (r.op === 'remove' || r.op === 'force')),
    ),
  );
  const keys = req.anyOf.map((k) => `${k}=`).join('/');
  const by = culprits.length > 0 ? culprits.map((t) => t.path).join(' and ') : 'the transforms';
  return {
    ...p,
    message: `a transform removed ${keys} from [${req.section}]: ${file.path} sets it, but after ${by} it is empty`,
    hint: `change ${by} so it no longer removes or empties ${keys} for this spec`,
  };
}
