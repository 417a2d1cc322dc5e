// A workload's rendered files, the units they yield and its content hash: the shape a
// fresh render (desired.ts) and a generation's files share, so the pass applies both the
// same way. Kept apart from rendering so that readers of the state load no policy.
import { createHash } from 'node:crypto';
import { expectedUnits, fileAtTarget, type ExpectedUnit } from './deploy-layout';
import type { Problem } from './problem';
import type { FileContents, FileHashes, FileKind } from './types';
import { effectiveValue, parseUnit } from './unit-file';
import { byText } from './text-order';

export interface DesiredFile {
  /** Path relative to the user's ~/.config. */
  target: string;
  /** Repo path it was rendered from. */
  source: string;
  name: string;
  ext: string;
  kind: FileKind;
  content: string;
  sha256: string;
  /**
   * A secret's ciphertext (base64) when rendered from the repository, for the pass to
   * decrypt and deliver; `content` holds only its hash, and that is all a record keeps. A
   * secret rendered from a generation has none: its value is left as it is on the host.
   */
  ciphertext?: string;
}

export interface RenderedWorkload {
  name: string;
  user: string;
  files: DesiredFile[];
  units: ExpectedUnit[];
  /** Hash over every file's target and content: what the applied record compares. */
  hash: string;
  problems: Problem[];
}

/** Target → sha256 of every file: what the plan and the applied record compare. */
export function hashesOf(r: RenderedWorkload): FileHashes {
  return Object.fromEntries(r.files.map((f) => [f.target, f.sha256]));
}

/** Target → content of every file: what a generation keeps and a rollback re-applies. */
export function contentsOf(r: RenderedWorkload): FileContents {
  return Object.fromEntries(r.files.map((f) => [f.target, f.content]));
}

/** The section of each Quadlet file type that may hold ServiceName=. */
export const QUADLET_SECTION: Record<string, string> = { container: 'Container', pod: 'Pod', kube: 'Kube', volume: 'Volume', network: 'Network', image: 'Image', build: 'Build' };

export function hashFiles(files: readonly { target: string; content: string }[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => byText(a.target, b.target))) {
    h.update(f.target).update('\0').update(f.content).update('\0');
  }
  return h.digest('hex');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * A workload from files already rendered (a generation being rolled back to): the same
 * shape as a fresh render, so the pass applies both the same way.
 */
export function renderedFromFiles(name: string, user: string, files: FileContents): RenderedWorkload {
  const out: DesiredFile[] = [];
  const serviceNames = new Map<string, string>();
  for (const [target, content] of Object.entries(files)) {
    const meta = fileAtTarget(target);
    if (!meta) continue;
    const section = QUADLET_SECTION[meta.ext];
    if (meta.kind === 'quadlet' && section) {
      const serviceName = effectiveValue(parseUnit(content).unit, section, 'ServiceName');
      if (serviceName) serviceNames.set(target, serviceName);
    }
    out.push({ target, source: target, ...meta, content, sha256: sha256(content) });
  }
  out.sort((a, b) => byText(a.target, b.target));
  const units = expectedUnits(out.map((f) => ({ ...f, path: f.source, serviceName: serviceNames.get(f.source) })));
  return { name, user, files: out, units, hash: hashFiles(out), problems: [] };
}
