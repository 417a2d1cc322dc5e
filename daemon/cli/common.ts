// What every command needs from the global options.
import type { Command } from 'commander';
import type { MoorConfig } from '../core/config/schema';
import type { ExitCode } from '../core/exit-codes';

export type SetExit = (code: ExitCode) => void;

export interface GlobalOptions {
  config: string;
}

/** The config named by --config (required when given explicitly) or the default one. */
export async function configFrom(cmd: Command): Promise<MoorConfig> {
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  // The schema and the TOML parser load with the first command that reads a config, not
  // with the command line (`moor --help` reads none).
  const [{ DEFAULT_CONFIG_FILE }, { loadConfig }] = await Promise.all([import('../core/config/resolve'), import('../host/config-load')]);
  return loadConfig({ file: config, required: config !== DEFAULT_CONFIG_FILE });
}
