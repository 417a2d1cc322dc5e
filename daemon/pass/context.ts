// What the steps of a pass share: the context it runs in, its options, and what the
// early steps hand to the later ones (docs/design.md §6).
import type { Logger } from 'pino';
import type { MoorConfig } from '../core/config/schema';
import type { RenderedWorkload } from '../core/desired';
import type { AppliedEntry, Observation } from '../core/plan';
import type { RedeployRequest } from '../state/redeploy';
import type { StateStore } from '../state/store';
import type { DesiredCache } from './desired-cache';
import type { DesiredState, ReadTree } from './desired-source';
import type { HostOps } from './host-ops';
import type { ItemOutcome } from './pass-result';
import type { PassProfile, PassTimings } from './profile';

/** What a pass works with: the config, the host, the state store and the log. */
export interface PassContext {
  config: MoorConfig;
  host: HostOps;
  store: StateStore;
  log: Logger;
  /** Where the pass's time goes, when asked (`--profile`, or the daemon's debug log). */
  profile?: PassProfile;
  /** Filled as the pass runs, for its metrics (pass/pass-metrics.ts). */
  timings?: PassTimings;
  /** The last commit's workloads, kept across passes by the daemon (pass/desired-cache.ts). */
  desiredCache?: DesiredCache<ReadTree>;
}

export interface PassOptions {
  dryRun?: boolean;
  allowMassRemoval?: boolean;
  /** Deploy a tip that does not descend from the live commit (`--allow-history-rewrite`). */
  allowHistoryRewrite?: boolean;
  /** Asked between workloads: true once SIGTERM arrived (finish the one in hand, then stop). */
  shouldStop?: () => boolean;
  /** Called as each item finishes, for streamed progress. */
  onItem?: (item: ItemOutcome) => void;
  /** How long a started unit must stay healthy before its gate passes; `apply.settle` when unset. */
  settleMs?: number;
  /** With dryRun: a unified diff per changed workload, against what was last applied. */
  diffs?: boolean;
}

/** The desired state rendered for this host's users (step 3). */
export interface HostView {
  desired: DesiredState;
  rendered: Map<string, RenderedWorkload>;
  /** Workload → uid of its user, for the users that exist. */
  uids: Map<string, number>;
}

/** What moor has put on the host for a workload: an applied record, or a user it owns. */
export interface Installed extends AppliedEntry {
  uid?: number;
  /** The generation it was applied from; none for a user whose workload never applied. */
  generation?: number;
}

/** What moor has on the host and what the host shows (step 4). */
export interface Observed {
  /** Applied records, and users moor owns whose workload never applied. */
  installed: Installed[];
  redeploy: RedeployRequest[];
  drift: Map<string, Observation>;
  /** Workloads kept rolled back: the version that runs, from the generation that applied it. */
  kept: Map<string, RenderedWorkload>;
}
