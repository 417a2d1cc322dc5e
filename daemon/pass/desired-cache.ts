// What step 2 read of the last commit, kept by a long-lived process (the daemon) between
// passes: a pass over the same commit, the same config and the same transforms gets the
// same workloads, so it neither checks the tree out again nor scans, discovers or validates
// it. Everything judged per pass still runs each pass: the fetch, the ring rule, the trust
// check, the host's groups (step 2's end) and every later step.
import type { MoorConfig } from '../core/config/schema';

interface Entry<Tree> {
  /** The config object in force: a reload makes a new one, and every key of it may matter. */
  config: MoorConfig;
  commit: string;
  /** The transforms directory's content (host/transforms-load.ts). */
  transforms: string;
  tree: Tree;
}

/** `Tree`: a commit's workloads as step 2 found them (desired-source.ts's ReadTree). */
export class DesiredCache<Tree> {
  private entry: Entry<Tree> | undefined;

  /** The commit whose tree is known under this config: syncRepo's `reuse`. */
  commitFor(config: MoorConfig): string | undefined {
    return this.entry?.config === config ? this.entry.commit : undefined;
  }

  get(config: MoorConfig, commit: string, transforms: string): Tree | undefined {
    const e = this.entry;
    return e && e.config === config && e.commit === commit && e.transforms === transforms ? e.tree : undefined;
  }

  /**
   * The last tree read under this config and these transforms, of whatever commit: a new
   * commit's read reuses what it holds of each workload whose files did not change.
   */
  lastRead(config: MoorConfig, transforms: string): Tree | undefined {
    const e = this.entry;
    return e && e.config === config && e.transforms === transforms ? e.tree : undefined;
  }

  /** One entry: the last tree read. A pass that fails before reading one clears it. */
  set(config: MoorConfig, commit: string, transforms: string, tree: Tree): void {
    this.entry = { config, commit, transforms, tree };
  }

  clear(): void {
    this.entry = undefined;
  }
}
