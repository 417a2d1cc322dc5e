// First half of discovery: decide, entry by entry, what is ignored, what is refused, and
// which files take part in forming workloads. Every entry is looked at, so one pass over a
// hostile tree reports everything wrong with it.
import type { DiscoveryOptions, GroupInfo, TreeEntry } from '../types';
import type { Problem } from '../problem';
import { USER_NAME_MAX, NAME_RULE_HINT, nameCharsViolation } from '../user-name';
import { MOORIGNORE, NO_TRANSFORM_MARKER, ignoreRules, isGitPath } from './ignores';
import { displayPath, hiddenIssue, hostileNameIssue, isHidden, type NameIssue } from './names';
import { misspelledType } from './typos';
import { isUnitType } from '../validate';

/** A file at an allowed depth with an acceptable name. */
export interface Candidate {
  path: string;
  name: string;
  group?: string;
  /** A regular file within the size limit: only these are handed on. */
  ok: boolean;
  content: string;
}

export interface WalkResult {
  candidates: Candidate[];
  groups: GroupInfo[];
  problems: Problem[];
}

export function walkEntries(entries: readonly TreeEntry[], opts: DiscoveryOptions): WalkResult {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  // Problems on a directory are raised once, however many files lie below it.
  const report = (path: string, issue: NameIssue): void => {
    const key = `${issue.code}\0${path}`;
    if (seen.has(key)) return;
    seen.add(key);
    problems.push({ path, ...issue });
  };

  const rules = ignoreRules(readMoorignore(entries, opts, report));
  const candidates: Candidate[] = [];
  const groups = new Map<string, GroupInfo>();
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  for (const entry of sorted) {
    const segs = entry.path.split('/');
    const isDir = entry.type === 'dir';
    // A directory's own checks are carried by the files below it; only one too deep to
    // have been listed stands for its unknown contents.
    if (entry.rawPath !== undefined) {
      // Not UTF-8: nothing below it was listed, so the entry speaks for itself (a
      // directory too), and .moorignore may exempt it like any other name.
      if (isGitPath(entry.path) || hostileSegment(segs, report) || rules.ignores(entry.path, isDir)) continue;
      report(entry.rawPath, notUtf8(entry.rawPath));
      continue;
    }
    if (isDir && segs.length < 3) continue;
    if (isGitPath(entry.path)) continue;
    if (hostileSegment(segs, report)) continue;
    if (rules.ignores(entry.path, isDir)) continue;
    if (!isDir && entry.path === MOORIGNORE) continue;

    const group = segs.length >= 2 ? segs[0] : undefined;
    // Hidden directories are ignored by default (ignores.ts), so a group here is visible.
    if (group !== undefined && !checkGroupName(group, report)) continue;
    if (segs.length >= 3) {
      const dir = segs.slice(0, 2).join('/');
      report(dir, tooDeep(dir, group ?? ''));
      continue;
    }

    const name = segs[segs.length - 1] ?? '';
    if (name === NO_TRANSFORM_MARKER) {
      if (regularFileIssue(entry, opts, false, report) === undefined && group !== undefined) {
        groups.set(group, { name: group, noTransform: true });
      }
      continue;
    }
    if (isHidden(name)) {
      const hint =
        name === MOORIGNORE ? `only the root ${MOORIGNORE} is read; move its patterns there` : undefined;
      report(entry.path, hiddenIssue(entry.path, hint));
      continue;
    }
    const typo = misspelledType(extOf(name));
    if (typo !== undefined) {
      report(entry.path, misspelled(entry.path, name, typo));
      continue;
    }
    if (group !== undefined && !groups.has(group)) groups.set(group, { name: group, noTransform: false });

    const ok = regularFileIssue(entry, opts, true, report) === undefined;
    candidates.push({
      path: entry.path,
      name,
      ...(group !== undefined ? { group } : {}),
      ok,
      content: ok ? (entry.content ?? '') : '',
    });
  }

  const validGroups = [...groups.values()]
    .filter((g) => nameCharsViolation(g.name) === undefined && g.name.length <= USER_NAME_MAX)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return { candidates, groups: validGroups, problems };
}

type Report = (path: string, issue: NameIssue) => void;

function hostileSegment(segs: readonly string[], report: Report): boolean {
  for (let i = 0; i < segs.length; i++) {
    const at = segs.slice(0, i + 1).join('/');
    const issue = hostileNameIssue(segs[i] ?? '', at);
    if (issue) {
      report(displayPath(at), issue);
      return true;
    }
  }
  return false;
}

/** The root `.moorignore` patterns; anything else in its place is refused, not followed. */
function readMoorignore(entries: readonly TreeEntry[], opts: DiscoveryOptions, report: Report): string | undefined {
  const entry = entries.find((e) => e.path === MOORIGNORE && e.type !== 'dir');
  if (!entry) return undefined;
  return regularFileIssue(entry, opts, true, report) === undefined ? (entry.content ?? '') : undefined;
}

/** False when the directory is not a group at all (a drop-in directory), so its files are not looked at. */
function checkGroupName(group: string, report: Report): boolean {
  if (group.endsWith('.d')) {
    const inner = extOf(group.slice(0, -2));
    const typo = misspelledType(inner);
    if (typo !== undefined) {
      report(group, misspelled(`${group}/`, group, typo));
      return false;
    }
    if (isUnitType(inner)) {
      report(group, {
        code: 'drop-in-dir',
        message: `${group}/ is a drop-in directory; moor does not read drop-in directories`,
        hint: `move its settings into ${group.slice(0, -2)} itself or into a transform on the host, or list ${group}/ in ${MOORIGNORE}`,
      });
      return false;
    }
  }
  const why =
    nameCharsViolation(group) ??
    (group.length > USER_NAME_MAX ? `is ${group.length} characters long; at most ${USER_NAME_MAX} are allowed` : undefined);
  if (why === undefined) return true;
  report(group, {
    code: 'bad-group-name',
    message: `group directory name ${JSON.stringify(group)} ${why}`,
    hint: `rename the directory: ${NAME_RULE_HINT}, at most ${USER_NAME_MAX} characters`,
  });
  return true;
}

function misspelled(shown: string, name: string, type: string): NameIssue {
  const base = name.endsWith('.d') ? name.slice(0, -2) : name;
  const meant = `${base.slice(0, base.lastIndexOf('.'))}.${type}${name.endsWith('.d') ? '.d' : ''}`;
  return {
    code: 'misspelled-type',
    message: `${JSON.stringify(shown)} looks like a misspelled .${type} name (did you mean ${meant}?); as it is, moor would not read it as a unit`,
    hint: `rename it to ${meant}, or list it in ${MOORIGNORE} if the name is meant`,
  };
}

function extOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1);
}

function notUtf8(shown: string): NameIssue {
  return {
    code: 'not-utf8',
    message: `${shown}: the name is not valid UTF-8 (the bytes that are not are shown as \\xNN)`,
    hint: `rename it in UTF-8, or list it in ${MOORIGNORE}`,
  };
}

function tooDeep(dir: string, group: string): NameIssue {
  return {
    code: 'too-deep',
    message: `${dir} is a directory inside a group directory; moor reads only the repository root and one group directory level`,
    hint: `move its files into ${group}/ or the root, or list ${dir}/ in ${MOORIGNORE}`,
  };
}

/** Refuses symlinks, special files and (when `sized`) files over the limit. */
function regularFileIssue(entry: TreeEntry, opts: DiscoveryOptions, sized: boolean, report: Report): NameIssue | undefined {
  let issue: NameIssue | undefined;
  if (entry.type === 'symlink') {
    issue = {
      code: 'symlink',
      message: `${entry.path} is a symbolic link; moor never follows symlinks`,
      hint: `replace it with a regular file holding the content, or list it in ${MOORIGNORE}`,
    };
  } else if (entry.type !== 'file') {
    issue = {
      code: 'not-a-regular-file',
      message: `${entry.path} is not a regular file (a fifo, socket, device or directory)`,
      hint: `remove it from the repository, or list it in ${MOORIGNORE}`,
    };
  } else if (sized && entry.size > opts.maxFileBytes) {
    issue = {
      code: 'too-large',
      message: `${entry.path} is ${formatBytes(entry.size)}, over the ${formatBytes(opts.maxFileBytes)} limit for repository files`,
      hint: `keep large data out of the repository (ship it in an image or a volume), or list it in ${MOORIGNORE}`,
    };
  }
  if (issue) report(entry.path, issue);
  return issue;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const shown = Number.isInteger(v) ? String(v) : v.toFixed(1);
  return `${shown} ${units[i]} (${n} bytes)`;
}
