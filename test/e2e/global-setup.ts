// Runs once before the end-to-end files: fails the whole run loudly when this machine
// cannot boot a guest, builds (or finds) the cached guest tree, and bundles moor.
import type { TestProject } from 'vitest/node';
import { assertHostCanRunGuests, ensureGuestTree, REPO_ROOT } from './guest-tree';
import { buildBundle } from './host-proc';

export interface E2eSetupInfo {
  treeKey: string;
  treeBuilt: boolean;
  treeMs: number;
  treeBuildMs: number;
  /** Why dist/moor.mjs could not be built (the moor scenarios fail with it), or null. */
  bundleError: string | null;
  bundleMs: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eSetupInfo;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  assertHostCanRunGuests();
  const tree = await ensureGuestTree();
  console.log(`e2e: guest tree ${tree.meta.key}: ${tree.built ? `built now in ${(tree.meta.buildMs / 1000).toFixed(1)} s` : `cached (built ${tree.meta.builtAt} in ${(tree.meta.buildMs / 1000).toFixed(1)} s)`}`);

  let bundleError: string | null = null;
  const started = Date.now();
  if (process.env.MOOR_E2E_NO_BUILD !== '1') {
    bundleError = await buildBundle(REPO_ROOT);
  }
  project.provide('e2e', {
    treeKey: tree.meta.key,
    treeBuilt: tree.built,
    treeMs: tree.elapsedMs,
    treeBuildMs: tree.meta.buildMs,
    bundleError,
    bundleMs: Date.now() - started,
  });
}
