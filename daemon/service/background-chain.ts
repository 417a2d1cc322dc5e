// Work a pass leaves for after its lock is released (announcing it, publishing its
// status): one task at a time, in order, and a way for a stopping process to wait for
// what is queued.
export class BackgroundChain {
  private chain: Promise<void> = Promise.resolve();

  /** Runs `task` after every task queued before it. A task handles its own failures; one that throws anyway does not stop the ones after it. */
  queue(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch(() => undefined);
  }

  /** Resolves once every queued task has finished, those queued while waiting included. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.chain;
      await seen;
    } while (seen !== this.chain);
  }
}
