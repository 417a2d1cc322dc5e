// What every command needs from the global options.
import type { Command } from 'commander';
import type { MoorConfig } from '../core/config/schema';
import { DEFAULT_CONFIG_FILE } from '../core/config/resolve';
import { loadConfig } from '../host/config-load';
import type { ExitCode } from '../core/exit-codes';

export type SetExit = (code: ExitCode) => void;

export interface GlobalOptions {
  config: string;
}

/** The config named by --config (required when given explicitly) or the default one. */
export async function configFrom(cmd: Command): Promise<MoorConfig> {
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  return loadConfig({ file: config, required: config !== DEFAULT_CONFIG_FILE });
}
