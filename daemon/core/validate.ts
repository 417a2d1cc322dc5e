// What a spec must hold before moor deploys it. The Quadlet generator fails silently from
// moor's point of view (the unit just does not appear after daemon-reload), so the
// mistakes it would refuse are caught here, with a line and a fix.
import type { Problem } from './problem';
import { effectiveValue, entriesOf, sectionsNamed, type ParseResult, type UnitFile } from './unit-file';

export type ValidationPhase = 'spec' | 'merged';

export const QUADLET_TYPES = ['container', 'pod', 'volume', 'network', 'kube', 'image', 'build'] as const;
export const PLAIN_UNIT_TYPES = ['service', 'timer', 'socket', 'path', 'target'] as const;

/** Types moor reads as unit files; anything else is a data file copied as it is. */
export function isUnitType(type: string): boolean {
  return (QUADLET_TYPES as readonly string[]).includes(type) || (PLAIN_UNIT_TYPES as readonly string[]).includes(type);
}

interface Requirement {
  section: string;
  /** Keys of which at least one must have a non-empty effective value. */
  anyOf?: readonly string[];
  code: string;
  hint: string;
}

const REQUIREMENTS = new Map<string, Requirement>([
  [
    'container',
    {
      section: 'Container',
      anyOf: ['Image', 'Rootfs'],
      code: 'missing-image',
      hint: 'add Image=<image reference> (or Rootfs=<path>) to the [Container] section',
    },
  ],
  ['pod', { section: 'Pod', code: 'missing-section', hint: 'add a [Pod] section (it may be empty)' }],
  ['volume', { section: 'Volume', code: 'missing-section', hint: 'add a [Volume] section (it may be empty)' }],
  ['network', { section: 'Network', code: 'missing-section', hint: 'add a [Network] section (it may be empty)' }],
  ['kube', { section: 'Kube', anyOf: ['Yaml'], code: 'missing-yaml', hint: 'add Yaml=<file> to the [Kube] section' }],
  [
    'image',
    { section: 'Image', anyOf: ['Image'], code: 'missing-image', hint: 'add Image=<image reference> to the [Image] section' },
  ],
  [
    'build',
    { section: 'Build', anyOf: ['ImageTag'], code: 'missing-image-tag', hint: 'add ImageTag=<name> to the [Build] section' },
  ],
  ['service', { section: 'Service', code: 'missing-section', hint: 'add a [Service] section with at least ExecStart=' }],
  ['timer', { section: 'Timer', code: 'missing-section', hint: 'add a [Timer] section, e.g. OnCalendar=daily' }],
  ['socket', { section: 'Socket', code: 'missing-section', hint: 'add a [Socket] section, e.g. ListenStream=' }],
  ['path', { section: 'Path', code: 'missing-section', hint: 'add a [Path] section, e.g. PathChanged=' }],
]);

// Podman refuses these in a Quadlet file's [Service]: a rootless user manager cannot
// switch to another user, and the workload already runs as its own user.
const SERVICE_USER_KEYS = ['User', 'Group', 'DynamicUser'] as const;

/** The section a type needs and the keys of which one must be non-empty, if any. */
export function requirementFor(type: string): { section: string; anyOf: readonly string[] } | undefined {
  const req = REQUIREMENTS.get(type);
  return req && { section: req.section, anyOf: req.anyOf ?? [] };
}

export function fileType(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot < 0 ? '' : fileName.slice(dot + 1);
}

/** A single value as Podman's Lookup() reads it: one pair of surrounding double quotes removed. */
function podmanValue(value: string | undefined): string {
  if (value === undefined) return '';
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

function isParseResult(u: UnitFile | ParseResult): u is ParseResult {
  return (u as ParseResult).issues !== undefined;
}

/** Where a transform added an entry, so a merged-phase message can point at it. */
function origin(source: string | undefined, line: number, path: string): string {
  return source !== undefined && source !== path ? ` (set by ${source}:${line})` : '';
}

/**
 * Checks one spec; a file of a type that is not a unit (a data file) has nothing to check.
 * Pass a ParseResult to have its syntax issues reported too. Syntax
 * issues and missing requirements carry the spec's path; entries a transform added are
 * named in the message, as their line is in the transform, not the spec.
 */
export function validateUnit(
  input: UnitFile | ParseResult,
  fileName: string,
  path: string,
  phase: ValidationPhase,
): Problem[] {
  const type = fileType(fileName);
  if (!isUnitType(type)) return [];
  const unit = isParseResult(input) ? input.unit : input;
  const problems: Problem[] = [];
  if (isParseResult(input)) {
    for (const issue of input.issues) {
      problems.push({
        path,
        line: issue.line,
        code: issue.code,
        message: issue.message,
        hint: 'fix or remove the line: systemd would skip it and the unit would not mean what it says',
      });
    }
  }

  const after = phase === 'merged' ? ' after transforms' : '';
  const req = REQUIREMENTS.get(type);
  if (req) {
    const first = sectionsNamed(unit, req.section)[0];
    if (!first) {
      problems.push({
        path,
        line: 1,
        code: req.code,
        message: `${fileName} has no [${req.section}] section${after}`,
        hint: req.hint,
      });
    } else if (req.anyOf && !req.anyOf.some((k) => podmanValue(effectiveValue(unit, req.section, k)) !== '')) {
      const keys = req.anyOf.map((k) => `${k}=`).join(' or ');
      problems.push({
        path,
        // A section a transform added has its line in the transform, not in this file.
        line: first.source === undefined ? first.line : 1,
        code: req.code,
        message: `${fileName} has no ${keys} in [${req.section}]${after}`,
        hint: req.hint,
      });
    }
  }

  if ((QUADLET_TYPES as readonly string[]).includes(type)) {
    for (const key of SERVICE_USER_KEYS) {
      for (const entry of entriesOf(unit, 'Service', key)) {
        const fromSpec = entry.source === undefined || entry.source === path;
        problems.push({
          path,
          line: fromSpec ? entry.line : 1,
          code: 'service-user',
          message: `${key}= in [Service] is not supported in a Quadlet file${origin(entry.source, entry.line, path)}`,
          hint:
            `remove ${key}= from [Service]: the workload already runs as its own user` +
            (type === 'container' ? '; to pick the user inside the container, set User= in [Container]' : ''),
        });
      }
    }
  }
  return problems;
}
