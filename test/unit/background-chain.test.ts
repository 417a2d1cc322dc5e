import { describe, expect, it } from 'vitest';
import { BackgroundChain } from '../../daemon/service/background-chain';

describe('BackgroundChain', () => {
  it('runs tasks one at a time in order; one that throws does not stop the next; idle waits for tasks queued while waiting', async () => {
    const chain = new BackgroundChain();
    const seen: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) => async () => {
      running++;
      expect(running).toBe(1);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(name);
      running--;
      if (fail) throw new Error(name);
    };
    chain.queue(task('a'));
    chain.queue(task('b', true));
    chain.queue(async () => {
      await task('c')();
      // Queued from inside a running task: idle() must wait for it too.
      chain.queue(task('d'));
    });
    await chain.idle();
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
  });
});
