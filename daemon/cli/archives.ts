// moor archives: the homes of removed workloads kept under state_dir/archives.
import type { Command } from 'commander';
import { join } from 'node:path';
import { ExitCode } from '../core/exit-codes';
import { configFrom, type SetExit } from './common';
import { emit, table } from './output';

export function registerArchives(program: Command, setExit: SetExit): void {
  program
    .command('archives')
    .description('list the archived homes of removed workloads, newest first (moor restore puts one back)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const { openStoreReadOnly } = await import('./pass-context');
      const store = await openStoreReadOnly(config);
      const list = (await store.archives.list()).map((a) => ({
        name: a.name,
        path: join(store.archives.dir, a.name),
        workload: a.workload,
        uid: a.uid,
        createdAt: a.createdAt.toISOString(),
        bytes: a.bytes,
      }));
      emit(opts, { archives: list }, ({ archives: l }) =>
        l.length === 0
          ? 'no archives'
          : table([['ARCHIVE', 'WORKLOAD', 'OLD UID', 'CREATED', 'BYTES'], ...l.map((a) => [a.name, a.workload, String(a.uid), a.createdAt, String(a.bytes)])]),
      );
      setExit(ExitCode.Ok);
    });
}
