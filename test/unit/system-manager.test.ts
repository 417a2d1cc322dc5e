import { describe, expect, it } from 'vitest';
import { SystemManager } from '../../daemon/host/systemd';
import type { CommandResult, CommandRunner } from '../../daemon/core/ports';

function runner(result: Partial<CommandResult>): CommandRunner & { argvs: string[][] } {
  const argvs: string[][] = [];
  return {
    argvs,
    run: async (argv) => {
      argvs.push([...argv]);
      return { argv, exitCode: 0, stdout: '', stderr: '', durationMs: 1, timedOut: false, ...result };
    },
  };
}

describe('SystemManager.activeStates', () => {
  it('asks once for every unit and pairs each line with its unit; inactive ones are answers (exit 3)', async () => {
    const r = runner({ exitCode: 3, stdout: 'active\ninactive\nfailed\n' });
    const states = await new SystemManager(r, {}).activeStates(['user@1000.service', 'user@1001.service', 'user@1002.service']);
    expect(r.argvs).toEqual([['systemctl', 'is-active', 'user@1000.service', 'user@1001.service', 'user@1002.service']]);
    expect([...states]).toEqual([
      ['user@1000.service', 'active'],
      ['user@1001.service', 'inactive'],
      ['user@1002.service', 'failed'],
    ]);
  });

  it('refuses an answer that does not have one line per unit, or a failure of systemctl itself', async () => {
    await expect(new SystemManager(runner({ stdout: 'active\n' }), {}).activeStates(['a.service', 'b.service'])).rejects.toThrow();
    await expect(new SystemManager(runner({ exitCode: 1, stdout: 'active\nactive\n' }), {}).activeStates(['a.service', 'b.service'])).rejects.toThrow();
    const none = runner({});
    expect((await new SystemManager(none, {}).activeStates([])).size).toBe(0);
    expect(none.argvs).toEqual([]);
  });
});
