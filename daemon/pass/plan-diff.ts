// `moor plan`: what a workload's files would become, as a unified diff against the
// content last applied (kept in that generation).
import { contentsOf, type RenderedWorkload } from '../core/desired';
import type { FileContents } from '../core/types';
import { workloadDiff } from '../core/unit-diff';
import type { StateStore } from '../state/store';
import type { ItemOutcome } from './pass-result';

export async function diffAgainstApplied(
  store: StateStore,
  appliedGeneration: number | undefined,
  next: RenderedWorkload | undefined,
  item: ItemOutcome,
): Promise<string | undefined> {
  if (item.changed.length === 0 && item.removed.length === 0) return undefined;
  let before: FileContents = {};
  if (appliedGeneration !== undefined) {
    try {
      before = (await store.generations.read(appliedGeneration, [item.workload])).workloads[item.workload]?.files ?? {};
    } catch {
      // That generation was garbage-collected: show the whole new content.
    }
  }
  const after = next ? contentsOf(next) : {};
  return workloadDiff(item.user, before, item.action === 'remove' ? {} : after) || undefined;
}
