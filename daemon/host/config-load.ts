// Reads /etc/moor/config.toml and config.d/*.toml (name order), validating each file on
// its own so an error names the file and line it is in, then merging them.
import { readFile, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError } from '../core/errors';
import { configFileSchema, type ConfigFile, type MoorConfig } from '../core/config/schema';
import { DEFAULT_CONFIG_FILE, mergeConfigFiles, resolveConfig } from '../core/config/resolve';
import { findKeyLine } from '../core/config/key-line';

export interface LoadConfigOptions {
  /** Main config file; its sibling `config.d/` holds the drop-ins. */
  file?: string;
  /** A missing main file is fine by default (all defaults); `--config` makes it required. */
  required?: boolean;
}

export async function loadConfig(opts: LoadConfigOptions = {}): Promise<MoorConfig> {
  const main = opts.file ?? DEFAULT_CONFIG_FILE;
  const dropinDir = join(dirname(main), 'config.d');
  const parsed: ConfigFile[] = [];
  const files: string[] = [];

  const mainText = await readOptional(main);
  if (mainText === undefined && opts.required) {
    throw new ConfigError(main, 'config file not found', undefined, undefined);
  }
  if (mainText !== undefined) {
    parsed.push(parseConfigText(main, mainText));
    files.push(main);
  }
  for (const name of await listDropins(dropinDir)) {
    const path = join(dropinDir, name);
    const text = await readOptional(path);
    if (text === undefined) continue;
    parsed.push(parseConfigText(path, text));
    files.push(path);
  }
  return resolveConfig(mergeConfigFiles(parsed), files, { hostname: hostname() });
}

/** Parses and validates one file's text; throws ConfigError with file, line and key. */
export function parseConfigText(file: string, text: string): ConfigFile {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ConfigError(file, `TOML syntax error: ${err.message.split('\n')[0]}`, err.line);
    }
    throw err;
  }
  const result = configFileSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let path = issue.path.map(String);
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0]!];
    message = `unknown key "${path.join('.')}"${issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).join(', ')})` : ''}; see docs/configuration.md for the valid keys`;
  } else {
    message = `key "${path.join('.')}": ${message}`;
  }
  throw new ConfigError(file, message, findKeyLine(text, path), path.join('.'));
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(path, `cannot read: ${(err as Error).message}`);
  }
}

async function listDropins(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.toml') && !n.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(dir, `cannot read: ${(err as Error).message}`);
  }
}

