// The watch trigger (chokidar): the transforms folder, the config file and config.d/, and,
// when the source is a bare repo on this host, the deployed branch's ref, so that a
// `git push` to the host starts a pass within a moment. Each watch is on a directory that
// exists, filtered to the paths that matter: git and editors replace files by renaming
// over them, which a watch on the file itself would lose track of.
import { watch, type FSWatcher } from 'chokidar';
import { stat } from 'node:fs/promises';
import { basename, dirname, relative, sep } from 'node:path';
import type { MoorConfig } from '../core/config/schema';
import type { Logger } from '../host/log';

export type WatchKind = 'transforms' | 'config' | 'source';

export interface WatchTarget {
  kind: WatchKind;
  root: string;
  depth: number;
  /** Whether a path (relative to root, '/'-separated) is watched at all: itself or a directory on the way. */
  visible(rel: string): boolean;
  /** Whether a change of this path is a trigger. */
  relevant(rel: string): boolean;
  /**
   * Whether this event is a whole change on its own, that triggers at once rather than once
   * the burst settles: the deployed ref written by a push (git renames it into place).
   */
  immediate?(rel: string, event: string): boolean;
}

/** Lock files, editor swap and backup files, dotfiles: never a trigger, never watched. */
function noise(rel: string): boolean {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  return name.startsWith('.') || name.endsWith('.lock') || name.endsWith('~') || name.endsWith('.swp') || name.endsWith('.tmp') || name.startsWith('#');
}

export function watchTargets(config: MoorConfig, configFile: string): WatchTarget[] {
  const targets: WatchTarget[] = [
    {
      kind: 'transforms',
      root: config.transformsDir,
      depth: 2,
      visible: (rel) => !noise(rel),
      relevant: (rel) => !noise(rel),
    },
  ];
  const main = basename(configFile);
  const isConfig = (rel: string) => rel === main || /^config\.d\/[^/]+\.toml$/.test(rel);
  targets.push({
    kind: 'config',
    root: dirname(configFile),
    depth: 1,
    visible: (rel) => !noise(rel) && (rel === 'config.d' || isConfig(rel)),
    relevant: (rel) => !noise(rel) && isConfig(rel),
  });
  const bare = config.source.bareRepo;
  if (bare) {
    const ref = `refs/heads/${config.source.branch}`;
    const isRef = (rel: string) => rel === ref || rel === 'packed-refs' || rel.startsWith('reftable/');
    targets.push({
      kind: 'source',
      root: bare,
      depth: ref.split('/').length,
      visible: (rel) => !noise(rel) && (isRef(rel) || rel === 'reftable' || ref.startsWith(`${rel}/`)),
      relevant: (rel) => !noise(rel) && isRef(rel),
      // A push ends by renaming the new loose ref into place, so its add or change is the
      // whole news. packed-refs, reftable and an unlinked loose ref (git gc, pack-refs)
      // come in pairs and wait for the burst to settle.
      immediate: (rel, event) => rel === ref && (event === 'add' || event === 'change'),
    });
  }
  return targets;
}

export interface WatchOptions {
  targets: WatchTarget[];
  log: Logger;
  /** Called once a burst of changes has settled, with the kinds of what changed. */
  onChange: (kinds: Set<WatchKind>) => void;
  debounceMs?: number;
}

export interface Watches {
  /** The roots being watched. */
  readonly roots: string[];
  close(): Promise<void>;
}

/**
 * A push writes the ref once, which triggers at once (WatchTarget.immediate); `git gc`
 * rewrites packed-refs and deletes the loose ref, whose unlink chokidar reports 100 ms late
 * (it waits to see whether the file is being replaced). The debounce outlasts that, so the
 * pair makes one trigger. What changes within the debounce after an immediate trigger
 * makes one more trigger when it settles.
 */
export const DEFAULT_DEBOUNCE_MS = 250;

export async function startWatches(opts: WatchOptions): Promise<Watches> {
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const watchers: FSWatcher[] = [];
  const roots: string[] = [];
  let pending = new Set<WatchKind>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const flush = () => {
    if (pending.size === 0 || closed) return;
    const kinds = pending;
    pending = new Set();
    opts.onChange(kinds);
  };
  const changed = (target: WatchTarget, event: string, path: string) => {
    const rel = relative(target.root, path).split(sep).join('/');
    if (!rel || rel.startsWith('..') || !target.relevant(rel)) return;
    opts.log.debug({ kind: target.kind, event, path }, 'watched path changed');
    pending.add(target.kind);
    // Outside a burst, a change that is whole on its own triggers now; the debounce that
    // follows gathers what comes after it into one more trigger.
    const quiet = timer === undefined;
    clearTimeout(timer);
    if (quiet && target.immediate?.(rel, event)) flush();
    timer = setTimeout(() => {
      timer = undefined;
      flush();
    }, debounceMs);
  };

  for (const target of opts.targets) {
    const isDir = await stat(target.root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) {
      opts.log.info({ kind: target.kind, path: target.root }, 'not watched: no such directory (a reload after creating it starts the watch)');
      continue;
    }
    const watcher = watch(target.root, {
      ignoreInitial: true,
      depth: target.depth,
      ignored: (path: string) => {
        const rel = relative(target.root, path).split(sep).join('/');
        return rel !== '' && !rel.startsWith('..') && !target.visible(rel);
      },
    });
    watcher.on('all', (event, path) => changed(target, event, path));
    watcher.on('error', (err) => opts.log.warn({ kind: target.kind, err: (err as Error).message }, 'watch error'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    watchers.push(watcher);
    roots.push(target.root);
  }
  return {
    roots,
    async close() {
      closed = true;
      clearTimeout(timer);
      await Promise.all(watchers.map((w) => w.close()));
    },
  };
}
