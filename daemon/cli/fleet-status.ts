// moor fleet status: every host's status as it published it to its branch
// `moor-status/<host>` of the source (docs/fleet.md "The fleet view"), read from the
// repository alone: any machine that can fetch it can look, root or not. The branches are
// fetched into a scratch git dir, removed after.
import type { Command } from 'commander';
import type { MoorConfig } from '../core/config/schema';
import { ExitCode } from '../core/exit-codes';
import { configFrom, type SetExit } from './common';
import { emit } from './output';

interface FleetStatusOptions {
  source?: string;
  json?: boolean;
}

export function registerFleet(program: Command, setExit: SetExit): void {
  const fleet = program.command('fleet').description('the hosts deploying the same repository, as each published its status');
  fleet
    .command('status')
    .description("each host's live commit, generation, result and failed workloads, from its branch moor-status/HOST of the source")
    .option('--source <url>', 'read this repository (a URL or a directory) instead of source.url')
    .option('--json', 'print the result as JSON')
    .action(async (opts: FleetStatusOptions, cmd: Command) => {
      const config = await fleetConfig(cmd, opts);
      // The view and git's side load here, not with the command line (build.ts).
      const { fleetView, formatFleetView } = await import('./fleet-view');
      const view = await fleetView(config, opts.source);
      emit(opts, view, (v) => formatFleetView(v, new Date()));
      // 1 as a partial apply is 1: some host of the fleet does not run what it should.
      setExit(view.hosts.every((h) => !('problem' in h) && h.healthy) ? ExitCode.Ok : ExitCode.Partial);
    });
}

/** The config for the source's branch, key and timeouts; with --source, its defaults do when the host's config cannot be read (not root). */
async function fleetConfig(cmd: Command, opts: FleetStatusOptions): Promise<MoorConfig> {
  try {
    return await configFrom(cmd);
  } catch (err) {
    if (opts.source === undefined) throw err;
    const { mergeConfigFiles, resolveConfig } = await import('../core/config/resolve');
    return resolveConfig(mergeConfigFiles([]), []);
  }
}

