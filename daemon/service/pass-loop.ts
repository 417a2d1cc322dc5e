// The daemon's pass loop: one pass at a time, and every trigger that arrives while a pass
// runs joins ONE follow-up pass (docs/design.md §8). A trigger never starts a pass synchronously:
// the start is deferred to the next turn of the event loop, so triggers fired together
// (a push seen by the ref watch and a webhook, say) share the same pass too.
import type { Logger } from '../host/log';
import type { ItemOutcome } from '../pass/pass-result';
import { errorOutcome, type PassOutcome, type TriggerReason } from './protocol';

export interface PassRequest {
  reasons: TriggerReason[];
  /** True once the daemon is stopping: the pass finishes the workloads in hand and stops. */
  shouldStop: () => boolean;
  onItem: (item: ItemOutcome) => void;
  /** The executor says the pass holds the lock and works (items report progress too). */
  progress: () => void;
}

/** Runs one pass; expected to turn every failure into an outcome rather than throw. */
export type PassExecutor = (request: PassRequest) => Promise<PassOutcome>;

export interface Ticket {
  /** A pass was already running: this trigger is served by the follow-up pass. */
  coalesced: boolean;
  /** The outcome of the pass that serves this trigger. */
  outcome: Promise<PassOutcome>;
  /** Stop receiving this pass's items (the client went away); the pass itself goes on. */
  detach(): void;
}

export interface PassLoopOptions {
  log: Logger;
  /** Called after every pass, before the waiters hear of it. */
  onOutcome?: (outcome: PassOutcome, reasons: TriggerReason[]) => void;
  /** How a start is deferred; tests may run it at once. */
  defer?: (fn: () => void) => void;
  now?: () => Date;
}

interface Batch {
  reasons: Set<TriggerReason>;
  listeners: Set<(item: ItemOutcome) => void>;
  resolve: (o: PassOutcome) => void;
  outcome: Promise<PassOutcome>;
  since?: Date;
  /** Set once the pass holds the lock; moved on by every finished item. */
  progressAt?: Date;
}

const STOPPING_SUMMARY = 'the daemon is stopping: the pass did not run';

export class PassLoop {
  private running: Batch | undefined;
  private queued: Batch | undefined;
  private kickScheduled = false;
  private stopped = false;
  private passes = 0;
  private readonly defer: (fn: () => void) => void;
  private readonly now: () => Date;

  constructor(
    private readonly execute: PassExecutor,
    private readonly opts: PassLoopOptions,
  ) {
    this.defer = opts.defer ?? ((fn) => setImmediate(fn));
    this.now = opts.now ?? (() => new Date());
  }

  get stopping(): boolean {
    return this.stopped;
  }

  /** Passes finished so far. */
  get count(): number {
    return this.passes;
  }

  trigger(reason: TriggerReason, onItem?: (item: ItemOutcome) => void): Ticket {
    if (this.stopped) {
      return { coalesced: false, outcome: Promise.resolve({ kind: 'cancelled', summary: STOPPING_SUMMARY }), detach: () => undefined };
    }
    const coalesced = this.running !== undefined;
    const batch = (this.queued ??= newBatch());
    batch.reasons.add(reason);
    if (onItem) batch.listeners.add(onItem);
    if (coalesced) this.opts.log.debug({ reason }, 'a pass is running: this trigger joins the follow-up pass');
    this.scheduleKick();
    return { coalesced, outcome: batch.outcome, detach: () => onItem && batch.listeners.delete(onItem) };
  }

  snapshot(): { running?: { since: string; reasons: TriggerReason[] }; queued?: TriggerReason[] } {
    return {
      ...(this.running ? { running: { since: (this.running.since ?? this.now()).toISOString(), reasons: [...this.running.reasons] } } : {}),
      ...(this.queued ? { queued: [...this.queued.reasons] } : {}),
    };
  }

  /**
   * How long the running pass has gone without progress since it took the lock, or
   * undefined when no pass works (none runs, or it waits for the lock).
   */
  stalledMs(): number | undefined {
    const at = this.running?.progressAt;
    return at ? this.now().getTime() - at.getTime() : undefined;
  }

  /** No new passes; a queued one is cancelled. Resolves when the running pass has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    const queued = this.queued;
    this.queued = undefined;
    queued?.resolve({ kind: 'cancelled', summary: STOPPING_SUMMARY });
    if (this.running) await this.running.outcome;
  }

  /** Resolves once no pass runs or waits (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.queued || this.kickScheduled) {
      const next: Promise<unknown> = this.running?.outcome ?? this.queued?.outcome ?? new Promise<void>((r) => setImmediate(r));
      await next;
    }
  }

  private scheduleKick(): void {
    if (this.kickScheduled || this.running) return;
    this.kickScheduled = true;
    this.defer(() => {
      this.kickScheduled = false;
      void this.kick();
    });
  }

  private async kick(): Promise<void> {
    if (this.running || !this.queued || this.stopped) return;
    const batch = this.queued;
    this.queued = undefined;
    this.running = batch;
    batch.since = this.now();
    const reasons = [...batch.reasons];
    let outcome: PassOutcome;
    try {
      outcome = await this.execute({
        reasons,
        shouldStop: () => this.stopped,
        progress: () => (batch.progressAt = this.now()),
        onItem: (item) => {
          batch.progressAt = this.now();
          for (const listener of batch.listeners) {
            try {
              listener(item);
            } catch (err) {
              this.opts.log.warn({ err: (err as Error).message }, 'a progress listener failed');
            }
          }
        },
      });
    } catch (err) {
      // The executor turns expected failures into outcomes; this is a bug, reported as one.
      outcome = errorOutcome(err);
      this.opts.log.error({ err: outcome.error.message }, 'the pass ended with an unexpected error');
    }
    this.passes++;
    this.running = undefined;
    try {
      this.opts.onOutcome?.(outcome, reasons);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'recording the pass outcome failed');
    }
    batch.resolve(outcome);
    if (this.queued && !this.stopped) this.scheduleKick();
  }
}

function newBatch(): Batch {
  let resolve!: (o: PassOutcome) => void;
  const outcome = new Promise<PassOutcome>((r) => (resolve = r));
  return { reasons: new Set(), listeners: new Set(), resolve, outcome };
}
