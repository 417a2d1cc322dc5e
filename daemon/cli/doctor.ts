// moor doctor: host preflight. Exit 0 when every check passes, 2 otherwise.
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes';
import type { SetExit } from './common';
import { emit, table } from './output';

export function registerDoctor(program: Command, setExit: SetExit): void {
  program
    .command('doctor')
    .description('host preflight: systemd, logind, Podman and its Quadlet generator, cgroup v2, the user bus, controllers delegated to user managers, subuid, newuidmap')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const [{ ExecaRunner }, { runPreflight }] = await Promise.all([import('../host/exec'), import('../host/preflight')]);
      const checks = await runPreflight(new ExecaRunner());
      emit(opts, { checks }, ({ checks: c }) => table([['CHECK', 'OK', 'DETAIL'], ...c.map((x) => [x.name, x.ok ? 'ok' : 'FAIL', x.ok ? x.detail : `${x.detail} (fix: ${x.hint})`])]));
      setExit(checks.every((c) => c.ok) ? ExitCode.Ok : ExitCode.Invalid);
    });
}
