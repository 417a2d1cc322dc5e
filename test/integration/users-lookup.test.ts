// lookupUsers against the machine's own getent: the answer the fake imitates (many keys in
// one process, exit 2 when some are missing, a numeric key resolved as a uid but not taken
// for a name).
import { describe, expect, it } from 'vitest';
import { ExecaRunner } from '../../daemon/host/exec';
import { UserAccounts } from '../../daemon/host/users';
import type { CommandResult, CommandRunner, RunOptions } from '../../daemon/core/ports';

class CountingRunner implements CommandRunner {
  readonly calls: string[][] = [];
  private readonly inner = new ExecaRunner();
  run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    this.calls.push([...argv]);
    return this.inner.run(argv, options);
  }
}

describe('lookupUsers on this machine', () => {
  it('answers every user that exists, skips those that do not, in one getent', async () => {
    const runner = new CountingRunner();
    const users = new UserAccounts(runner);
    const found = await users.lookupUsers(['root', 'moor-no-such-user-x', 'daemon', '0']);
    expect([...found.keys()].sort()).toEqual(['daemon', 'root']);
    expect(found.get('root')).toMatchObject({ uid: 0, name: 'root' });
    expect(runner.calls).toEqual([['getent', 'passwd', 'root', 'moor-no-such-user-x', 'daemon', '0']]);
  });

  it('gives an empty answer, not an error, when none exists', async () => {
    const users = new UserAccounts(new ExecaRunner());
    expect((await users.lookupUsers(['moor-no-such-user-x', 'moor-no-such-user-y'])).size).toBe(0);
  });

  it('asks in batches, so a thousand users never make one huge command line', async () => {
    const runner = new CountingRunner();
    const names = Array.from({ length: 600 }, (_, i) => `moor-nobody-${i}`);
    expect((await new UserAccounts(runner).lookupUsers([...names, 'root'])).size).toBe(1);
    expect(runner.calls.length).toBe(3);
  });
});
