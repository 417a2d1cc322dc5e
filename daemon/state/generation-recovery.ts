// Startup recovery of generations. The caller holds the pass lock, so no pass is running
// (except, when given, the one `isInProgress` names).
import { join } from 'node:path';
import type { Clock } from '../core/ports';
import { pathExists, writeJsonAtomic } from './atomic';
import { readCurrentLink, removeCurrentLink, swapCurrentLink } from './current-link';
import { allSucceeded, type GenerationInfo, type Marker } from './generation-records';
import type { StateLayout } from './layout';

/** What recovery needs of the generation store (kept narrow: the store calls recovery). */
export interface RecoverableGenerations {
  list(): Promise<GenerationInfo[]>;
  dir(id: number): string;
  sweepLeftovers(): Promise<string[]>;
}

export interface RecoveryReport {
  /** In-progress generations marked aborted: their pass crashed. */
  aborted: number[];
  /** Finished with every item ok, but the crash came before `complete` was written. */
  completed: number[];
  /** Where `current` points after recovery. */
  current?: number;
  /** Leftovers of interrupted swaps and deletions that were removed. */
  swept: string[];
  /** Corrupt generations moved into quarantine/ (set by GenerationStore.recoverAborted). */
  quarantined?: { id: number; at: string; problem: string }[];
}

/**
 * A generation neither complete nor finished (no `finishedAt`) belongs to a pass that
 * died: it is marked aborted; the next pass plans from applied/, so nothing is lost. One
 * that finished with every item ok but lacks `complete` died between those two writes:
 * it is completed. `current` is then pointed at the newest complete generation, which is
 * what it means, whichever write the crash interrupted. `listed`: every generation, when
 * the caller has just listed them.
 */
export async function recoverGenerations(
  store: RecoverableGenerations,
  layout: StateLayout,
  clock: Clock,
  isInProgress: (id: number) => boolean,
  listed?: readonly GenerationInfo[],
): Promise<RecoveryReport> {
  const aborted: number[] = [];
  const completed: number[] = [];
  const marker = (): Marker => ({ at: clock.now().toISOString() });
  let newestComplete: number | undefined;
  for (const info of listed ?? (await store.list())) {
    if (info.state === 'in-progress' && !isInProgress(info.id)) {
      await writeJsonAtomic(join(store.dir(info.id), 'aborted'), marker());
      aborted.push(info.id);
    } else if (info.state === 'failed' && info.manifest && info.status && allSucceeded(info.manifest, info.status.items)) {
      await writeJsonAtomic(join(store.dir(info.id), 'complete'), marker());
      completed.push(info.id);
      newestComplete = info.id;
    } else if (info.state === 'complete') {
      newestComplete = info.id;
    }
  }
  const linked = await readCurrentLink(layout).catch(() => undefined);
  if (newestComplete !== undefined && linked !== newestComplete) {
    await swapCurrentLink(layout, newestComplete);
  } else if (newestComplete === undefined && (await pathExists(layout.current))) {
    // Nothing complete is left (deleted by hand): a dangling `current` would only mislead.
    await removeCurrentLink(layout);
  }
  const swept = await store.sweepLeftovers();
  return { aborted, completed, ...(newestComplete !== undefined ? { current: newestComplete } : {}), swept };
}
