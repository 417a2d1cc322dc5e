// Generations (docs/design.md §7): the rendered desired state of each pass, its per-item results,
// and the `current` link to the last complete one. Every write is atomic, and the order of
// writes is what makes a crash at any point recoverable: workload trees before the
// manifest that names them, status as items finish, `finishedAt` at the end of the pass,
// `complete` only after that, and the `current` swap last.
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import pLimit from 'p-limit';
import * as z from 'zod/mini';
import { join } from 'node:path';
import type { Clock } from '../core/ports';
import type { FileContents } from '../core/types';
import { StateError } from '../core/errors';
import { FILE_MODE, ensureDir, fsyncDir, isNotFound, listDir, pathExists, readJsonIfExists, stateWriteError, writeJsonAtomic } from './atomic';
import { stateFiles } from './parsed-files';
import {
  allSucceeded,
  checkInput,
  Manifest,
  Marker,
  Sequence,
  Status,
  type GenerationInfo,
  type GenerationInput,
  type GenerationState,
  type GenerationWorkload,
  type StatusItem,
} from './generation-records';
import { readCurrentLink, removeCurrentLink, sweepCurrentLeftovers, swapCurrentLink } from './current-link';
import { recoverGenerations, type RecoveryReport } from './generation-recovery';
import { hasLegacyUnits, readLegacyUnits, sweepBlobs } from './legacy-units';
import { TREE_ID, TreeStore, treeBytes, treeId } from './trees';
import {
  generationDirName,
  parseGenerationDirName,
  type StateLayout,
} from './layout';
import { byText } from '../core/text-order';

export interface GenerationContent extends GenerationInfo {
  manifest: Manifest;
  workloads: Record<string, GenerationWorkload>;
}

const DELETING_PREFIX = '.deleting-';
/**
 * generations/<N>/applied-trees/<workload>.<tree>: the tree a workload was applied from
 * when it differs from the one the manifest names (rendered again once its user existed).
 * An empty file: its name is the record, so the trees a generation names are a readdir.
 */
const APPLIED_TREES = 'applied-trees';
/** Trees a new generation writes at once. */
const WRITES_AT_ONCE = 8;
/** lstat calls bytesOnDisk makes at once. */
const LOOKS_AT_ONCE = 16;

export const QuarantinedGeneration = z.object({ id: z.int().check(z.positive()), at: z.string(), problem: z.string() });
export type QuarantinedGeneration = z.infer<typeof QuarantinedGeneration>;

export type { GenerationInfo, GenerationInput, RecoveryReport, GenerationWorkload };

export class GenerationStore {
  /** The generation this store began, and its manifest (see inProgressManifest). */
  private begun: { id: number; manifest: Manifest; finished?: boolean } | undefined;
  private readonly trees: TreeStore;
  /** A generation of the old layout was deleted: its blobs may be unused now. */
  private legacyDeleted = false;

  constructor(
    private readonly layout: StateLayout,
    private readonly clock: Clock,
  ) {
    this.trees = new TreeStore(layout.trees);
  }

  dir(id: number): string {
    return join(this.layout.generations, generationDirName(id));
  }

  /** Allocates a new generation and writes its rendered state and manifest. */
  async begin(input: GenerationInput): Promise<number> {
    checkInput(input);
    const startedAt = this.clock.now().toISOString();
    const id = await this.allocate();
    // Only the trees not on disk yet are written (a few at a time): a pass that changes one
    // workload writes one tree.
    const existing = await this.trees.list();
    const limit = pLimit(WRITES_AT_ONCE);
    const trees = new Map(
      await Promise.all(Object.entries(input.workloads).map(async ([name, w]) => [name, await limit(() => this.trees.write(w.files, existing))] as const)),
    );
    const manifest: Manifest = {
      generation: id,
      kind: input.kind,
      commit: input.commit,
      source: input.source,
      startedAt,
      ...(input.rollbackOf !== undefined ? { rollbackOf: input.rollbackOf } : {}),
      ...(input.signer ? { signer: input.signer } : {}),
      workloads: Object.fromEntries(
        Object.entries(input.workloads)
          .sort(([a], [b]) => byText(a, b))
          .map(([name, w]) => [name, { user: w.user, hash: w.hash, files: Object.keys(w.files).sort(), tree: trees.get(name)! }]),
      ),
    };
    // Written after the trees: a manifest promises that every tree it names is on disk.
    const written = Manifest.parse(manifest);
    await writeJsonAtomic(join(this.dir(id), 'manifest.json'), written);
    this.begun = { id, manifest: written };
    return id;
  }

  /**
   * The next number is above every number ever handed out, not just above the surviving
   * directories: GC may delete the newest (aborted) one, and a reused number would make
   * logs and `moor rollback <N>` ambiguous. The high-water mark is durable before the
   * directory exists.
   */
  private async allocate(): Promise<number> {
    await ensureDir(this.layout.generations);
    const recorded = (await readJsonIfExists(this.layout.sequence, Sequence))?.last ?? 0;
    const existing = (await listDir(this.layout.generations)).map(parseGenerationDirName);
    let id = Math.max(recorded, ...existing.map((n) => n ?? 0)) + 1;
    for (;;) {
      await writeJsonAtomic(this.layout.sequence, { last: id });
      try {
        await fs.mkdir(this.dir(id), { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          id += 1;
          continue;
        }
        throw err;
      }
      await fs.chmod(this.dir(id), 0o700);
      await fsyncDir(this.layout.generations);
      return id;
    }
  }

  /**
   * Records the files a workload of generation `id` was applied with, when they differ
   * from those its manifest names (a workload rendered again once its user existed): its
   * tree is written, then an entry naming it. Called as the item is recorded, before the
   * status is final.
   */
  async recordApplied(id: number, workload: string, files: FileContents): Promise<void> {
    const manifest = await this.inProgressManifest(id);
    const entry = manifest.workloads[workload];
    if (!entry) throw new StateError(`generation ${id} has no workload ${workload}`);
    const tree = treeId(files);
    const recorded = (await this.appliedTrees(id)).get(workload);
    if (recorded === tree || (recorded === undefined && entry.tree === tree)) return;
    if (recorded !== undefined) throw new StateError(`generation ${id}: workload ${workload} was already recorded as applied from another tree`);
    await this.trees.write(files);
    const dir = join(this.dir(id), APPLIED_TREES);
    await ensureDir(dir);
    const path = join(dir, `${workload}.${tree}`);
    try {
      await (await fs.open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, FILE_MODE)).close();
      await fsyncDir(dir);
    } catch (err) {
      throw stateWriteError(path, err);
    }
  }

  /** The applied-trees entries of a generation, by workload. */
  private async appliedTrees(id: number): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const name of await listDir(join(this.dir(id), APPLIED_TREES))) {
      const dot = name.indexOf('.');
      const tree = name.slice(dot + 1);
      if (dot > 0 && TREE_ID.test(tree)) out.set(name.slice(0, dot), tree);
    }
    return out;
  }

  /**
   * Deletes the trees no generation names any more, and the blobs of the old layout no
   * generation links to. `generations`: every generation there is, when the caller has
   * just listed them. Under the pass lock.
   */
  async sweepUnreferenced(generations?: readonly GenerationInfo[]): Promise<number> {
    const all = generations ?? (await this.list());
    let removed = 0;
    // A generation whose records cannot be read may name any tree: nothing is deleted
    // until it is quarantined.
    if (all.every((g) => g.state !== 'corrupt')) {
      const keep = new Set<string>();
      for (const g of all) {
        for (const entry of Object.values(g.manifest?.workloads ?? {})) if (entry.tree) keep.add(entry.tree);
        for (const tree of (await this.appliedTrees(g.id)).values()) keep.add(tree);
      }
      removed += await this.trees.sweep(keep);
    }
    if (await pathExists(this.layout.blobs)) {
      const legacyLeft = (await Promise.all(all.map((g) => hasLegacyUnits(this.dir(g.id))))).some(Boolean);
      if (this.legacyDeleted || !legacyLeft) removed += await sweepBlobs(this.layout.blobs, legacyLeft);
      this.legacyDeleted = false;
    }
    return removed;
  }

  /**
   * Bytes the generations take: their records, each tree (its size is in its name) and,
   * for the old layout, each file counted once however many names it has.
   */
  async bytesOnDisk(): Promise<number> {
    const seen = new Set<string>();
    let total = 0;
    const limit = pLimit(LOOKS_AT_ONCE);
    const walk = async (dir: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      await Promise.all(
        entries.map(async (entry) => {
          const path = join(dir, entry.name);
          // Entries there are empty: their names are the record.
          if (entry.isDirectory()) return entry.name === APPLIED_TREES ? undefined : walk(path);
          if (!entry.isFile()) return;
          const stat = await limit(() => fs.lstat(path).catch(() => undefined));
          if (!stat) return;
          const key = `${stat.dev}:${stat.ino}`;
          if (seen.has(key)) return;
          seen.add(key);
          total += stat.size;
        }),
      );
    };
    await walk(this.layout.generations);
    await walk(this.layout.blobs);
    for (const tree of await this.trees.list()) total += treeBytes(tree);
    return total;
  }

  /**
   * Rewrites status.json with every item recorded so far. Called as each item finishes,
   * so a crash loses at most the item in hand.
   */
  async recordStatus(id: number, items: readonly StatusItem[]): Promise<void> {
    await this.writeStatus(id, items, undefined);
  }

  /**
   * Records the final status with `finishedAt` (the pass reached its end), then completes
   * the generation if every item succeeded and every workload of the manifest has one.
   */
  async finish(id: number, items: readonly StatusItem[]): Promise<'complete' | 'failed'> {
    const manifest = await this.writeStatus(id, items, this.clock.now().toISOString());
    if (!allSucceeded(manifest, items)) return 'failed';
    await this.markComplete(id);
    return 'complete';
  }

  /** Returns the generation's manifest, which the caller needs to judge the result. */
  private async writeStatus(id: number, items: readonly StatusItem[], finishedAt: string | undefined): Promise<Manifest> {
    const manifest = await this.inProgressManifest(id);
    const now = this.clock.now().toISOString();
    const status = Status.safeParse({ generation: id, items, updatedAt: now, ...(finishedAt ? { finishedAt } : {}) });
    if (!status.success) throw new StateError(`generation ${id}: invalid status: ${status.error.message}`);
    await writeJsonAtomic(join(this.dir(id), 'status.json'), status.data);
    // A status with finishedAt is final.
    if (finishedAt && this.begun?.id === id) this.begun.finished = true;
    return manifest;
  }

  /**
   * The manifest of a generation whose status may still change. The one this store began
   * is kept in memory (a manifest is written once): re-reading it after every item made a
   * pass quadratic in the number of workloads. Its markers are still checked on disk.
   */
  private async inProgressManifest(id: number): Promise<Manifest> {
    if (this.begun?.id === id && !this.begun.finished) {
      const [complete, aborted] = await Promise.all([pathExists(join(this.dir(id), 'complete')), pathExists(join(this.dir(id), 'aborted'))]);
      if (!complete && !aborted) return this.begun.manifest;
    }
    const info = await this.requireInfo(id);
    if (info.state !== 'in-progress') throw new StateError(`generation ${id} is ${info.state}; its status is final`);
    if (!info.manifest) throw new StateError(`generation ${id} has no manifest; begin() did not finish`);
    return info.manifest;
  }

  /** Writes `complete`, then moves `current` here. Refused unless the pass finished and all succeeded. */
  async markComplete(id: number): Promise<void> {
    const info = await this.requireInfo(id);
    if (info.state === 'aborted') throw new StateError(`generation ${id} was aborted; it cannot become complete`);
    if (!info.manifest) throw new StateError(`generation ${id} has no manifest; it cannot become complete`);
    if (!info.status?.finishedAt) throw new StateError(`generation ${id} has not finished; it cannot become complete`);
    if (!allSucceeded(info.manifest, info.status.items)) {
      throw new StateError(`generation ${id} has workloads that were not applied successfully; it cannot become complete`);
    }
    if (info.state !== 'complete') {
      await writeJsonAtomic(join(this.dir(id), 'complete'), { at: this.clock.now().toISOString() } satisfies Marker);
    }
    await this.advanceCurrent(id);
  }

  /**
   * `current` only moves forward: a rollback is a new, newer generation, so the last
   * complete generation is always the newest one.
   */
  private async advanceCurrent(id: number): Promise<void> {
    const existing = await readCurrentLink(this.layout).catch(() => undefined);
    if (existing !== undefined && existing >= id && (await this.isComplete(existing))) return;
    await swapCurrentLink(this.layout, id);
  }

  private isComplete(id: number): Promise<boolean> {
    return pathExists(join(this.dir(id), 'complete'));
  }

  /** The generation `current` points at; undefined before the first complete pass. */
  async current(): Promise<number | undefined> {
    const id = await readCurrentLink(this.layout);
    if (id !== undefined && !(await this.isComplete(id))) {
      throw new StateError(`${this.layout.current}: points at generation ${id}, which is not complete`);
    }
    return id;
  }

  /** Every generation, oldest first. */
  async list(): Promise<GenerationInfo[]> {
    const ids = (await listDir(this.layout.generations))
      .map(parseGenerationDirName)
      .filter((id): id is number => id !== undefined)
      .sort((a, b) => a - b);
    const infos: GenerationInfo[] = [];
    const trees = await this.trees.list();
    for (const id of ids) {
      const info = await this.info(id, trees);
      if (info) infos.push(info);
    }
    return infos;
  }

  /**
   * One generation's state and records; undefined if it does not exist (or was deleted
   * meanwhile). `trees`: the trees on disk, when the caller has listed them.
   */
  async info(id: number, trees?: ReadonlySet<string>): Promise<GenerationInfo | undefined> {
    const dir = this.dir(id);
    let stat;
    try {
      stat = await fs.stat(dir);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    let records;
    try {
      records = await Promise.all([
        pathExists(join(dir, 'complete')),
        pathExists(join(dir, 'aborted')),
        // Listed by every pass (step 1 and gc) and mostly unchanged since: parsed once per
        // version, and shared (frozen) by every reader, none of which changes a record read.
        stateFiles.read(join(dir, 'manifest.json'), Manifest, 'shared'),
        stateFiles.read(join(dir, 'status.json'), Status, 'shared'),
      ]);
    } catch (err) {
      // One unreadable generation must not stop every pass, gc, status and history.
      if (!(err instanceof StateError)) throw err;
      return { id, state: 'corrupt', createdAt: stat.mtime, problem: err.message };
    }
    const [complete, aborted, manifest, status] = records;
    const missing = manifest ? await this.missingTree(id, manifest, trees) : undefined;
    // A concurrent GC renames a generation away before removing it: don't report the remains.
    if (!(await pathExists(dir))) return undefined;
    if (missing) return { id, state: 'corrupt', createdAt: stat.mtime, problem: missing };
    const state: GenerationState = complete
      ? 'complete'
      : aborted
        ? 'aborted'
        : status?.finishedAt
          ? 'failed'
          : 'in-progress';
    const createdAt = manifest
      ? new Date(manifest.startedAt)
      : stat.birthtimeMs > 0
        ? stat.birthtime
        : stat.mtime;
    return { id, state, createdAt, ...(manifest ? { manifest } : {}), ...(status ? { status } : {}) };
  }

  /** What a generation names that is not on disk: a tree of the manifest or of an applied-trees entry. */
  private async missingTree(id: number, manifest: Manifest, trees: ReadonlySet<string> | undefined): Promise<string | undefined> {
    const named = [...Object.entries(manifest.workloads).flatMap(([w, e]) => (e.tree ? [[w, e.tree] as const] : [])), ...(await this.appliedTrees(id))];
    if (named.length === 0) return undefined;
    const onDisk = trees ?? (await this.trees.list());
    const lost = named.find(([, tree]) => !onDisk.has(tree));
    return lost ? `${join(this.layout.trees, lost[1])}: the files of workload ${lost[0]} in generation ${id} are missing` : undefined;
  }

  private async requireInfo(id: number): Promise<GenerationInfo> {
    const info = await this.info(id);
    if (!info) throw new StateError(`generation ${id} does not exist in ${this.layout.generations}`);
    return info;
  }

  /**
   * A generation with its rendered files, as `moor rollback` re-applies them; `only`: just
   * these workloads' files (the manifest is whole).
   */
  async read(id: number, only?: readonly string[]): Promise<GenerationContent> {
    const info = await this.requireInfo(id);
    if (info.state === 'corrupt') throw new StateError(`generation ${id} is corrupt: ${info.problem ?? 'unreadable'}`);
    const manifest = info.manifest;
    if (!manifest) throw new StateError(`generation ${id} has no manifest: its pass crashed before writing it`);
    const applied = await this.appliedTrees(id);
    const workloads: Record<string, GenerationWorkload> = {};
    for (const [name, entry] of Object.entries(manifest.workloads)) {
      if (only && !only.includes(name)) continue;
      const appliedTree = applied.get(name);
      const files = appliedTree
        ? await this.trees.read(appliedTree, await this.trees.paths(appliedTree))
        : entry.tree
          ? await this.trees.read(entry.tree, entry.files)
          : await readLegacyUnits(this.dir(id), entry.user, entry.files);
      workloads[name] = { user: entry.user, hash: entry.hash, files };
    }
    return { ...info, manifest, workloads };
  }

  /**
   * Startup recovery (see generation-recovery.ts): marks crashed passes aborted and
   * repairs `current`. Only under the pass lock.
   */
  async recoverAborted(isInProgress: (id: number) => boolean = () => false): Promise<RecoveryReport> {
    const live = await readCurrentLink(this.layout).catch(() => undefined);
    const listed = await this.list();
    const quarantined = await this.quarantineCorrupt(listed);
    // Listed once when nothing was moved: every pass starts here.
    const report = await recoverGenerations(this, this.layout, this.clock, isInProgress, quarantined.length === 0 ? listed : undefined);
    // The live generation itself was unreadable: an older one does not say what runs now.
    // With no live generation, the next pass records the host as it runs (docs/design.md §6 step 6).
    if (live !== undefined && quarantined.some((q) => q.id === live)) {
      await removeCurrentLink(this.layout);
      const { current: _dropped, ...rest } = report;
      return { ...rest, quarantined };
    }
    return quarantined.length > 0 ? { ...report, quarantined } : report;
  }

  /**
   * Moves every corrupt generation aside into quarantine/, with a note of why, so the rest
   * of the history keeps working; `current` is repaired by recovery after it. `listed`:
   * every generation, when the caller has just listed them. Under the pass lock.
   */
  async quarantineCorrupt(listed?: readonly GenerationInfo[]): Promise<QuarantinedGeneration[]> {
    const moved: QuarantinedGeneration[] = [];
    for (const info of listed ?? (await this.list())) {
      if (info.state !== 'corrupt') continue;
      await ensureDir(this.layout.quarantine);
      const at = this.clock.now().toISOString();
      const to = join(this.layout.quarantine, `${generationDirName(info.id)}-${at.replace(/[:.]/g, '')}`);
      await fs.rename(this.dir(info.id), to);
      await fsyncDir(this.layout.generations);
      const entry = { id: info.id, at, problem: info.problem ?? 'unreadable' };
      await writeJsonAtomic(join(to, 'quarantined.json'), entry);
      moved.push(entry);
    }
    return moved;
  }

  /** The generations quarantined so far, oldest first. */
  async listQuarantined(): Promise<QuarantinedGeneration[]> {
    const out: QuarantinedGeneration[] = [];
    for (const name of await listDir(this.layout.quarantine)) {
      const note = await readJsonIfExists(join(this.layout.quarantine, name, 'quarantined.json'), QuarantinedGeneration).catch(() => undefined);
      if (note) out.push(note);
    }
    return out.sort((a, b) => a.id - b.id || byText(a.at, b.at));
  }

  /**
   * Deletes a generation: renamed out of sight first (so readers see it or nothing), then
   * removed. The generation `current` points at is refused. Returns false if it was absent.
   */
  async delete(id: number): Promise<boolean> {
    if ((await readCurrentLink(this.layout).catch(() => undefined)) === id) {
      throw new StateError(`generation ${id} is current; it cannot be deleted`);
    }
    const dir = this.dir(id);
    const doomed = join(this.layout.generations, `${DELETING_PREFIX}${generationDirName(id)}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.rename(dir, doomed);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    await fsyncDir(this.layout.generations);
    if (await hasLegacyUnits(doomed)) this.legacyDeleted = true;
    await fs.rm(doomed, { recursive: true, force: true });
    return true;
  }

  /** Removes what a crash mid-swap or mid-delete leaves behind. Only under the pass lock. */
  async sweepLeftovers(): Promise<string[]> {
    const removed = [...(await sweepCurrentLeftovers(this.layout)), ...(await this.trees.sweepLeftovers())];
    for (const name of await listDir(this.layout.generations)) {
      if (!name.startsWith(DELETING_PREFIX)) continue;
      await fs.rm(join(this.layout.generations, name), { recursive: true, force: true });
      removed.push(join('generations', name));
    }
    return removed;
  }
}

