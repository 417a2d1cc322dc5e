// moor check <dir>: validate a checkout the way a host would, with no root and no systemd.
// The command line only; cli/check-run.ts does the work when the command runs.
import type { Command } from 'commander';
import { UsageError } from '../core/errors';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from '../core/config/host-names';
import type { SetExit } from './common';
import type { CheckOptions } from './check-run';

export function registerCheck(program: Command, setExit: SetExit): void {
  program
    .command('check')
    .description('validate a desired-state checkout: every problem with file:line, exit 2 on any')
    .argument('<dir>', 'the checkout to validate')
    .option('--transforms <dir>', 'transforms directory (default: transforms_dir of the config)')
    .option('--identity <file>', "an age identity file: each secret (.age) must also decrypt with it")
    .option('--host <name>', 'with fleet.toml: check this host\'s slice only (default: every host it names); else the name {{host}} stands for')
    .option('--label <key=value>', 'a label of the host checked, beyond the labels fleet.toml gives it (repeatable)', collectLabel, {})
    .option('--json', 'print the result as JSON')
    .option('--verify-commit <rev>', 'also check that commit REV of the repository is signed by an allowed signer, as a host in trust mode require does (exit 4 if not)')
    .option('--allowed-signers <file>', 'with --verify-commit: an SSH allowed-signers file (default: trust.allowed_signers of the config)')
    .option('--gpg-keyring <dir>', 'with --verify-commit: a directory of OpenPGP public keys (default: trust.gpg_keyring of the config)')
    .action(async (dir: string, opts: CheckOptions, cmd: Command) => {
      // Discovery, rendering and the host lookups load here, not with the command line (build.ts).
      await (await import('./check-run')).runCheck(dir, opts, cmd, setExit);
    });
}


/** `--label KEY=VALUE`, repeated: checked as `[host] labels` are. */
function collectLabel(value: string, labels: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  const key = value.slice(0, eq);
  const v = value.slice(eq + 1);
  if (eq < 0 || !LABEL_KEY_PATTERN.test(key) || !LABEL_VALUE_PATTERN.test(v)) {
    throw new UsageError(`--label ${JSON.stringify(value)}: write KEY=VALUE, a label key of lower-case letters, digits, "_", "." and "-", a value of letters, digits and _ . : @ / + -`);
  }
  return { ...labels, [key]: v };
}
