// moor daemon: the long-lived agent that moor.service runs (docs/design.md §9).
import type { Command } from 'commander';
import type { GlobalOptions, SetExit } from './common';

export function registerDaemon(program: Command, setExit: SetExit): void {
  program
    .command('daemon')
    .description('run the long-lived agent: passes on a schedule, on changes, on SIGHUP and on request over the control socket')
    .action(async (_opts: object, cmd: Command) => {
      const { config } = cmd.optsWithGlobals<GlobalOptions>();
      // The service and all it runs (the watches, the schedule, the control API) load only here.
      const [{ Agent }, { DEFAULT_CONFIG_FILE }] = await Promise.all([import('../service/agent'), import('../core/config/resolve')]);
      const daemon = await Agent.start({
        configFile: config,
        configRequired: config !== DEFAULT_CONFIG_FILE,
      });
      const code = await daemon.done;
      setExit(code);
      // Exit now, with the stop's own code. Waiting for the event loop to empty would let
      // whatever still holds it (a command of an abandoned pass) keep a stopped daemon
      // alive, and Node's teardown gives signals back their default action: one more
      // SIGTERM or SIGHUP of a storm would end the process by that signal instead.
      process.exit(code);
    });
}
