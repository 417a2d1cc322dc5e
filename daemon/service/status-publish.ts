// `fleet.publish` for passes of this process: each pass's status published in the
// background once the pass has released its lock (pass/fleet-publish.ts), one publish at a
// time. A pass that ends while one is still pushing waits behind it; passes that end while
// one already waits replace it: only the newest status is worth pushing.
import type { MoorConfig } from '../core/config/schema';
import type { Logger } from '../host/log';
import type { HostOps } from '../pass/host-ops';
import { publishStatus, type PublishDeps, type PublishedPass, type PublishOutcome } from '../pass/fleet-publish';
import { BackgroundChain } from './background-chain';

export interface StatusPublisherOptions {
  /** The config in force (a reload changes it). */
  config: () => MoorConfig;
  log: Logger;
  homes: PublishDeps['homes'];
  /** Called with each publish's outcome (tests, metrics). */
  onPublished?: (outcome: PublishOutcome) => void;
}

export class StatusPublisher {
  private readonly chain = new BackgroundChain();
  private waiting: PublishedPass | undefined;

  constructor(private readonly opts: StatusPublisherOptions) {}

  /** Queues the pass's status for publishing and returns at once; never throws. */
  publish(pass: PublishedPass): void {
    if (!this.opts.config().fleet.publish) return;
    const queued = this.waiting !== undefined;
    this.waiting = pass;
    if (queued) return;
    this.chain.queue(async () => {
      const next = this.waiting!;
      this.waiting = undefined;
      const outcome = await publishStatus(this.opts.config(), next, { log: this.opts.log, homes: this.opts.homes });
      this.opts.onPublished?.(outcome);
    });
  }

  /** Resolves once every queued publish has been pushed or has failed. */
  idle(): Promise<void> {
    return this.chain.idle();
  }
}

/** The home directories of workload users, by name (getent), as the status document names them. */
export async function homesOf(host: HostOps, users: string[]): Promise<Map<string, string>> {
  const entries = await host.users.lookupUsers(users);
  return new Map([...entries].map(([name, e]) => [name, e.home]));
}
