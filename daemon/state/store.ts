// The state store of one state dir: every piece of moor's own state, behind one object.
// Lock order (process lock → state store → per-workload): mutating calls here expect the
// caller to hold the pass lock; reads are safe without it, since every write is atomic.
import { systemClock } from '../host/clock';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { decideGc, type GcDecision, type GcPolicy } from '../core/gc-policy';
import type { Clock } from '../core/ports';
import { StateError } from '../core/errors';
import { USER_NAME_CHARS } from '../core/user-name';
import { AppliedStore } from './applied';
import { ArchiveStore } from './archives';
import { DIR_MODE, ensureDir, isNotFound, listDir } from './atomic';
import { GenerationStore } from './generations';
import { MetricsStore } from './metrics';
import { LastPassStore } from './last-pass';
import { stateLayout, type StateLayout } from './layout';
import { OwnedUsersRegistry } from './owned-users';
import { PinStore } from './pin';
import { RedeployRequests } from './redeploy';

export interface GcReport {
  deleted: number[];
  decisions: GcDecision[];
  /** Leftovers of interrupted writes, swaps and deletions that were removed. */
  swept: string[];
}

export interface StateStore {
  readonly dir: string;
  readonly layout: StateLayout;
  readonly generations: GenerationStore;
  readonly applied: AppliedStore;
  readonly ownedUsers: OwnedUsersRegistry;
  readonly pin: PinStore;
  readonly redeploy: RedeployRequests;
  /** The outcome of the latest pass, also one that made no generation. */
  readonly lastPass: LastPassStore;
  /** Prometheus totals, added to by every pass. */
  readonly metrics: MetricsStore;
  /** Homes of removed workloads. */
  readonly archives: ArchiveStore;
  /** Deletes the generations the policy selects, never `current` or the pinned one. Under the pass lock. */
  gc(policy: GcPolicy, now?: Date): Promise<GcReport>;
}

export interface OpenStateStoreOptions {
  clock?: Clock;
  /**
   * For readers without the pass lock (`moor status`, `moor generations`, the service's
   * read models): create nothing and change no mode. A missing state dir reads as empty.
   */
  readOnly?: boolean;
}

/**
 * Opens the state store in `dir`. Unless read-only, the directories are created if
 * needed; they must belong to this process's user, and one others can write to is
 * refused (it would let them plant links that root then writes through); ours are made
 * 0700. An existing state dir that holds anything but moor's state is refused too: a
 * state_dir pointed at the wrong directory must not be chmod-ed and filled.
 */
export async function openStateStore(dir: string, options: OpenStateStoreOptions = {}): Promise<StateStore> {
  const clock = options.clock ?? systemClock;
  const layout = stateLayout(resolve(dir));
  if (!options.readOnly) {
    await refuseForeignDir(layout);
    for (const path of [layout.root, layout.generations, layout.applied, layout.redeploy, layout.archives]) {
      await ensureDir(path);
      await tighten(path);
    }
  }
  const generations = new GenerationStore(layout, clock);
  const pin = new PinStore(layout, clock);
  return {
    dir: layout.root,
    layout,
    generations,
    applied: new AppliedStore(layout, clock),
    ownedUsers: new OwnedUsersRegistry(layout, clock),
    pin,
    redeploy: new RedeployRequests(layout, clock),
    lastPass: new LastPassStore(layout),
    metrics: new MetricsStore(layout),
    archives: new ArchiveStore(layout, clock),
    async gc(policy, now = clock.now()) {
      // Corrupt generations are moved aside first: gc judges only what it can read.
      let listed = await generations.list();
      const quarantined = await generations.quarantineCorrupt(listed);
      if (quarantined.length > 0) {
        await generations.recoverAborted();
        listed = await generations.list();
      }
      const current = await generations.current();
      const pinned = (await pin.read())?.generation;
      const protect = [current, pinned].filter((id): id is number => id !== undefined);
      const readable = listed.flatMap((g) => (g.state === 'corrupt' ? [] : [{ ...g, state: g.state }]));
      const decisions = decideGc(readable, policy, now, protect);
      const deleted: number[] = [];
      for (const decision of decisions) {
        if (decision.delete && (await generations.delete(decision.id))) deleted.push(decision.id);
      }
      // Under the lock nothing else adds a generation: what was listed, less what was deleted, is what is left.
      await generations.sweepUnreferenced(listed.filter((g) => !deleted.includes(g.id)));
      // The byte budget wins over min_age and keep_min: oldest first, never a protected one.
      if (policy.maxBytes !== undefined) {
        for (;;) {
          if ((await generations.bytesOnDisk()) <= policy.maxBytes) break;
          const oldest = (await generations.list()).find((g) => !protect.includes(g.id) && g.state !== 'in-progress');
          if (!oldest || !(await generations.delete(oldest.id))) break;
          deleted.push(oldest.id);
          const decision = decisions.find((d) => d.id === oldest.id);
          const reason = `generations take more than gc.max_bytes (${policy.maxBytes} bytes)`;
          if (decision) Object.assign(decision, { delete: true, reason });
          else decisions.push({ id: oldest.id, delete: true, reason });
          await generations.sweepUnreferenced();
        }
      }
      const swept = [...(await generations.sweepLeftovers()), ...(await sweepTemporaryFiles(layout, now))];
      return { deleted, decisions, swept };
    },
  };
}

async function tighten(path: string): Promise<void> {
  const stat = await fs.stat(path);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new StateError(`${path}: owned by uid ${stat.uid}, not ${uid}; refusing to use it as moor's state`);
  }
  if ((stat.mode & 0o022) !== 0) {
    throw new StateError(`${path}: writable by others (mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')}); refusing to use it as moor's state (chmod 700 ${path}, or point state_dir elsewhere)`);
  }
  if ((stat.mode & 0o7777) !== DIR_MODE) await fs.chmod(path, DIR_MODE);
}

/** What moor keeps in a state dir (and a fresh file system's lost+found). */
const OURS = /^(generations|applied|redeploy|archives|quarantine|trees|blobs|checkout|trust|current|owned-users\.json|pin\.json|last-pass\.json|metrics\.json|published\.json|fleet\.git|lost\+found)(\.|$)|^\.current/;

async function refuseForeignDir(layout: StateLayout): Promise<void> {
  const entries = await listDir(layout.root).catch((err: NodeJS.ErrnoException) => {
    throw new StateError(`${layout.root}: ${err.code === 'ENOTDIR' ? 'not a directory' : err.message}; refusing to use it as moor's state`);
  });
  const foreign = entries.filter((name) => !OURS.test(name));
  if (foreign.length > 0 && foreign.length === entries.length) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', ...' : '');
    throw new StateError(`${layout.root}: holds ${shown}, which are not moor's state; refusing to use it as state_dir (point state_dir at an empty or moor-owned directory)`);
  }
}

// Temporary names of write-file-atomic (`<file>.<number>`) left by a write that was killed.
const TEMPORARY: readonly [keyof StateLayout, RegExp][] = [
  ['root', /^(owned-users|pin)\.json\.\d+$/],
  ['generations', /^sequence\.json\.\d+$/],
  ['applied', new RegExp(`^${USER_NAME_CHARS}\\.json\\.\\d+$`)],
  ['redeploy', new RegExp(`^${USER_NAME_CHARS}\\.\\d+$`)],
  ['blobs', /^[0-9a-f]{64}\.\d+$/],
];
/** Old enough that no write still in flight (say, `moor redeploy` run outside the lock) owns it. */
const TEMPORARY_MIN_AGE_MS = 60 * 60 * 1000;

async function sweepTemporaryFiles(layout: StateLayout, now: Date): Promise<string[]> {
  const swept: string[] = [];
  for (const [where, pattern] of TEMPORARY) {
    const dir = layout[where];
    for (const name of await listDir(dir)) {
      if (!pattern.test(name)) continue;
      const path = join(dir, name);
      try {
        const stat = await fs.lstat(path);
        if (!stat.isFile() || now.getTime() - stat.mtimeMs < TEMPORARY_MIN_AGE_MS) continue;
        await fs.unlink(path);
        swept.push(path.slice(layout.root.length + 1));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
  return swept;
}
