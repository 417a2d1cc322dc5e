// metrics.json: the Prometheus totals (core/metrics.ts), added to by every pass under the
// pass lock, whichever process ran it, so a restarted daemon (or the next timer pass)
// reports what the host did before it.
import { addPass, emptyTotals, MetricsTotals, type PassSample } from '../core/metrics';
import { readJsonIfExists, writeJsonAtomic } from './atomic';
import type { StateLayout } from './layout';

export class MetricsStore {
  constructor(private readonly layout: StateLayout) {}

  async read(): Promise<MetricsTotals> {
    return (await readJsonIfExists(this.layout.metrics, MetricsTotals)) ?? emptyTotals();
  }

  /** Adds one pass, and the live commit's time when the caller knows it. Under the pass lock. */
  async addPass(sample: PassSample, liveCommit?: { commit: string; time: number }): Promise<MetricsTotals> {
    const next = addPass(await this.read(), sample);
    if (liveCommit) next.liveCommit = liveCommit;
    await writeJsonAtomic(this.layout.metrics, next);
    return next;
  }
}
