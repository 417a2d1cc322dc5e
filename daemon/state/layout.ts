// Where each piece of state lives under the state dir (docs/design.md §7), and the checks that
// keep names taken from a repository from escaping it: every workload name, user name
// and relative file path becomes part of a path that root writes to.
import { join } from 'node:path';
import { StateError } from '../core/errors';
import { isValidUserName } from '../core/user-name';

export interface StateLayout {
  root: string;
  generations: string;
  /** High-water mark of allocated generation numbers: GC may delete the newest dir. */
  sequence: string;
  current: string;
  applied: string;
  ownedUsers: string;
  pin: string;
  redeploy: string;
  lastPass: string;
  /** Prometheus totals across processes (core/metrics.ts). */
  metrics: string;
  /** Homes of removed workloads. */
  archives: string;
  /** Corrupt generations moved aside, each with why. */
  quarantine: string;
  /** Each workload's rendered files, by their content (state/trees.ts). */
  trees: string;
  /** The old layout's rendered files by content hash, hard-linked into its generations. */
  blobs: string;
}

export function stateLayout(root: string): StateLayout {
  const generations = join(root, 'generations');
  return {
    root,
    generations,
    sequence: join(generations, 'sequence.json'),
    current: join(root, 'current'),
    applied: join(root, 'applied'),
    ownedUsers: join(root, 'owned-users.json'),
    pin: join(root, 'pin.json'),
    redeploy: join(root, 'redeploy'),
    lastPass: join(root, 'last-pass.json'),
    metrics: join(root, 'metrics.json'),
    archives: join(root, 'archives'),
    quarantine: join(root, 'quarantine'),
    trees: join(root, 'trees'),
    blobs: join(root, 'blobs'),
  };
}

const GENERATION_DIR = /^\d{6,}$/;

export function generationDirName(id: number): string {
  if (!Number.isSafeInteger(id) || id < 1) throw new StateError(`invalid generation number ${id}`);
  return String(id).padStart(6, '0');
}

/** The generation number of a directory name, or undefined for anything else in generations/. */
export function parseGenerationDirName(name: string): number | undefined {
  if (!GENERATION_DIR.test(name)) return undefined;
  const id = Number(name);
  return Number.isSafeInteger(id) && id >= 1 ? id : undefined;
}

/** Target of the `current` symlink, relative so the state dir can be moved or mounted elsewhere. */
export function currentLinkTarget(id: number): string {
  return `generations/${generationDirName(id)}`;
}

export function parseCurrentLinkTarget(target: string): number | undefined {
  const match = /^generations\/(\d{6,})$/.exec(target);
  return match?.[1] === undefined ? undefined : parseGenerationDirName(match[1]);
}

// Workload stems and user names follow the user-name rule: one path segment, no dots,
// no slashes.
export function assertSafeName(what: string, name: string): void {
  if (!isValidUserName(name)) {
    throw new StateError(`invalid ${what} name ${JSON.stringify(name)} for the state store`);
  }
}

export function isSafeName(name: string): boolean {
  return isValidUserName(name);
}

/** A path relative to a user's ~/.config, such as "containers/systemd/web.container". */
export function assertRelativePath(path: string): void {
  const segments = path.split('/');
  const bad =
    path.length === 0 ||
    path.length > 4096 ||
    /[\x00-\x1f\x7f]/.test(path) ||
    segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new StateError(`invalid relative file path ${JSON.stringify(path)} for the state store`);
}
