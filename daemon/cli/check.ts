// moor check <dir>: validate a checkout the way a host would, with no root and no systemd.
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { HostError, UsageError, ValidationError } from '../core/errors';
import { discover } from '../core/discovery';
import { validateTree, type RenderedWorkload } from '../core/desired';
import { secretName } from '../core/secrets';
import { decryptSecrets } from '../host/secrets';
import { formatProblem, sortProblems, type Problem } from '../core/problem';
import { ExitCode } from '../core/exit-codes';
import { safeText } from '../core/safe-text';
import { ExecaRunner } from '../host/exec';
import { scanTree } from '../host/repo-scan';
import { hasManagedMarker, UserAccounts } from '../host/users';
import { existingGroupProblem } from '../core/user-name';
import { loadTransformsDir } from '../host/transforms-load';
import { unusedTransforms } from '../core/transforms';
import { configFrom, type SetExit } from './common';
import { emit } from './output';
import { formatCommitVerdict, verifyCommit, type CommitVerdict, type VerifyCommitOptions } from './verify-commit';

interface CheckResult {
  ok: boolean;
  dir: string;
  transforms: string;
  workloads: { name: string; user: string; files: string[]; units: string[]; valid: boolean }[];
  problems: Problem[];
  /** What could not be checked here. */
  notes: string[];
  /** --verify-commit: whether a host in trust mode require would accept the commit. */
  commit?: CommitVerdict;
}

export function registerCheck(program: Command, setExit: SetExit): void {
  program
    .command('check')
    .description('validate a desired-state checkout: every problem with file:line, exit 2 on any')
    .argument('<dir>', 'the checkout to validate')
    .option('--transforms <dir>', 'transforms directory (default: transforms_dir of the config)')
    .option('--identity <file>', "an age identity file: each secret (.age) must also decrypt with it")
    .option('--json', 'print the result as JSON')
    .option('--verify-commit <rev>', 'also check that commit REV of the repository is signed by an allowed signer, as a host in trust mode require does (exit 4 if not)')
    .option('--allowed-signers <file>', 'with --verify-commit: an SSH allowed-signers file (default: trust.allowed_signers of the config)')
    .option('--gpg-keyring <dir>', 'with --verify-commit: a directory of OpenPGP public keys (default: trust.gpg_keyring of the config)')
    .action(async (dir: string, opts: { transforms?: string; identity?: string; json?: boolean } & Partial<VerifyCommitOptions>, cmd: Command) => {
      const config = await configFrom(cmd);
      const root = resolve(dir);
      if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${dir}: not a directory`);
      if ((opts.allowedSigners || opts.gpgKeyring) && !opts.verifyCommit) throw new UsageError('--allowed-signers and --gpg-keyring go with --verify-commit REV');
      const commit = opts.verifyCommit ? await verifyCommit(root, { ...opts, verifyCommit: opts.verifyCommit }, config) : undefined;
      const transformsDir = resolve(opts.transforms ?? config.transformsDir);
      let entries;
      try {
        entries = await scanTree(root, { maxFileBytes: config.maxFileBytes, budget: config.repoBudget });
      } catch (err) {
        // A tree over budget is not looked at further: its one problem is the answer.
        if (!(err instanceof ValidationError)) throw err;
        const result: CheckResult = { ok: false, dir: root, transforms: transformsDir, workloads: [], problems: [...err.problems], notes: [], ...(commit ? { commit } : {}) };
        emit(opts, result, (r) => human(r, true));
        return setExit(exitOf(result));
      }
      const discovery = discover(entries, { userPrefix: config.userPrefix, maxFileBytes: config.maxFileBytes, reservedNames: config.reservedNames });
      const transforms = await loadTransformsDir(transformsDir);
      const checked = validateTree(discovery, transforms.set, transforms.problems, config.protectedUsers, config.policy);
      const notes: string[] = [];
      for (const w of checked.workloads) {
        if (w.problems.length > 0) continue;
        const spec = discovery.workloads.find((d) => d.name === w.name)!.spec.path;
        const taken = await groupTaken(w.user, config.timeouts.commandMs);
        if (taken === 'unknown') {
          notes.push('note: getent is not available here: workload names were not checked against the groups of this host');
          break;
        }
        if (taken) w.problems.push(existingGroupProblem(spec, w.name, w.user));
      }
      if (opts.identity !== undefined) {
        for (const w of checked.workloads) w.problems.push(...(await undecryptable(w, resolve(opts.identity))));
      }
      // A transform for a group this repository lacks applies to nothing: said here, where
      // the repository and the host's transforms meet, not by a pass.
      const unused = unusedTransforms(transforms.set, discovery.groups.map((g) => g.name));
      const problems = sortProblems([...checked.tree, ...unused, ...checked.workloads.flatMap((w) => w.problems)]);
      const result: CheckResult = {
        ok: problems.length === 0,
        dir: root,
        transforms: transformsDir,
        workloads: checked.workloads.map((w) => ({
          name: w.name,
          user: w.user,
          files: w.files.map((f) => f.source),
          units: w.units.map((u) => u.unit),
          valid: w.problems.length === 0,
        })),
        problems,
        notes,
        ...(commit ? { commit } : {}),
      };
      emit(opts, result, (r) => human(r, transforms.found));
      setExit(exitOf(result));
    });
}

/**
 * Whether this host has a group of the user's name that is not the group of a moor user
 * of that name (on a host moor deploys to, its own users' groups exist). Best effort:
 * 'unknown' when getent cannot be run here.
 */
async function groupTaken(user: string, timeoutMs: number): Promise<boolean | 'unknown'> {
  const accounts = new UserAccounts(new ExecaRunner(), { timeoutMs });
  try {
    if (!(await accounts.groupExists(user))) return false;
    const entry = await accounts.lookupUser(user);
    return !(entry !== null && hasManagedMarker(entry));
  } catch {
    return 'unknown';
  }
}

/** A refused commit first, as on a host: its tree would not even be looked at (exit 4). */
function exitOf(result: CheckResult): ExitCode {
  if (result.commit && !result.commit.accepted) return ExitCode.SourceUnavailable;
  return result.ok ? ExitCode.Ok : ExitCode.Invalid;
}

/**
 * `--identity`: each secret of the workload that does not decrypt with the identity, as a
 * problem naming the file. The values are dropped (zeroed) at once and never shown.
 */
async function undecryptable(w: RenderedWorkload, identity: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const f of w.files) {
    if (f.kind !== 'secret' || f.ciphertext === undefined) continue;
    try {
      const values = await decryptSecrets(identity, [{ source: f.source, name: secretName(f.name), ciphertext: f.ciphertext }]);
      for (const v of values.values()) v.fill(0);
    } catch (err) {
      if (!(err instanceof HostError)) throw err;
      // The identity file itself cannot be used: one usage error, not a problem per secret.
      if (!err.message.startsWith(f.source)) throw new UsageError(`--identity: ${err.message}`);
      problems.push({ path: f.source, code: 'secret-does-not-decrypt', message: err.message, hint: `encrypt ${f.name} again to the recipient of ${identity} (age-keygen -y ${identity})`, workload: w.name });
    }
  }
  return problems;
}

function human(r: CheckResult, transformsFound: boolean): string {
  const lines: string[] = [];
  if (!transformsFound) lines.push(`note: transforms directory ${r.transforms} does not exist (use --transforms DIR)`);
  lines.push(...r.notes.map((note) => safeText(note)));
  if (r.commit) lines.push(safeText(formatCommitVerdict(r.commit)));
  // A problem quotes the repo's own lines: one line each, whatever they hold.
  for (const p of r.problems) lines.push(safeText(formatProblem(p)));
  const valid = r.workloads.filter((w) => w.valid).length;
  if (r.ok) {
    lines.push(`ok: ${r.workloads.length} workload${r.workloads.length === 1 ? '' : 's'} valid in ${r.dir}`);
    for (const w of r.workloads) lines.push(safeText(`  ${w.name} (user ${w.user}): ${w.units.join(', ') || 'no units'}`));
  } else {
    const files = new Set(r.problems.map((p) => p.path)).size;
    lines.push(`${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in ${files} path${files === 1 ? '' : 's'}; ${valid} of ${r.workloads.length} workloads valid`);
  }
  return lines.join('\n');
}
