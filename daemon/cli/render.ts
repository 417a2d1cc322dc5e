// moor render <file>: print a spec merged with its transforms, exactly as it would be written.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { formatProblem, type Problem } from '../core/problem';
import type { Identity } from '../core/transforms';
import { UsageError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { safeLines, safeText } from '../core/safe-text';
import { configFrom, type SetExit } from './common';
import { emit } from './output';

interface RenderOutput {
  file: string;
  workload: string;
  user: string;
  /** Where the file lands under the user's home. */
  target: string;
  /** The companion template the file is made from, when the repository does not hold it. */
  template?: string;
  identity: Identity;
  content?: string;
  problems: Problem[];
}

export function registerRender(program: Command, setExit: SetExit): void {
  program
    .command('render')
    .description('print a spec merged with its transforms, exactly as it would be written')
    .argument('<file>', 'a file of a desired-state checkout')
    .option('--transforms <dir>', 'transforms directory (default: transforms_dir of the config)')
    .option('--repo <dir>', 'the checkout root (default: the nearest directory with .git, else the group layout)')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { transforms?: string; repo?: string; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      // Discovery, rendering and the policy's parsers load here, not with the command line (build.ts).
      const [{ discover }, { filesOf, templateFilesOf, treeProblems }, { targetPath }, { secretName }, { renderFile }, { groupsWithTransforms }, { scanTree }, { loadTransformsDir }] = await Promise.all([
        import('../core/discovery'),
        import('../core/desired'),
        import('../core/deploy-layout'),
        import('../core/secrets'),
        import('../core/render'),
        import('../core/transforms'),
        import('../host/repo-scan'),
        import('../host/transforms-load'),
      ]);
      const abs = resolve(file);
      if (!existsSync(dirname(abs))) throw new UsageError(`${file}: no such file`);
      const transforms = await loadTransformsDir(resolve(opts.transforms ?? config.transformsDir));
      const root = opts.repo ? resolve(opts.repo) : guessRoot(abs, groupsWithTransforms(transforms.set));
      const rel = relative(root, abs);
      if (rel.startsWith('..')) throw new UsageError(`${file} is not inside the repo ${root}`);

      const discovery = discover(await scanTree(root, { maxFileBytes: config.maxFileBytes, budget: config.repoBudget }), {
        userPrefix: config.userPrefix,
        maxFileBytes: config.maxFileBytes,
        reservedNames: config.reservedNames,
      });
      // A file the repository lacks may be one a companion template makes for a workload of
      // the directory it names.
      const exists = existsSync(abs);
      const inDir = (w: { group?: string }, name: string) => (w.group === undefined ? name : `${w.group}/${name}`) === rel;
      const filesFor = (w: (typeof discovery.workloads)[number]) =>
        exists ? filesOf(w).filter((f) => f.path === rel) : templateFilesOf(w, transforms.set).filter((f) => inDir(w, f.name));
      const workload = discovery.workloads.find((w) => filesFor(w).length > 0);
      const fileProblems = discovery.problems.filter((p) => p.path === rel);
      if (!workload) {
        if (!exists) throw new UsageError(`${file}: no such file, and no companion template makes it`);
        if (fileProblems.length > 0) throw new UsageError(fileProblems.map((p) => safeText(formatProblem(p))).join('\n'));
        throw new UsageError(`${rel} belongs to no workload of ${root}`);
      }
      const repoFile = filesFor(workload)[0]!;
      const identity = await identityFor(workload);
      const rendered = renderFile(repoFile, workload, transforms.set, identity);
      // Of the tree's problems, those that make this file's render wrong.
      const relevant = treeProblems(discovery, transforms.set, transforms.problems).filter(
        (p) => p.path === repoFile.path || p.path === `${repoFile.group}/` || transforms.problems.includes(p),
      );
      const out: RenderOutput = {
        file: rel,
        workload: workload.name,
        user: workload.user,
        // A secret is no file: it becomes a Podman secret of the user, and what moor records is its hash.
        target: repoFile.kind === 'secret' ? `podman secret ${secretName(repoFile.name)} of ${workload.user}` : `~${workload.user}/.config/${targetPath(repoFile.kind, repoFile.name)}`,
        ...(repoFile.template !== undefined ? { template: repoFile.template } : {}),
        identity,
        content: rendered.content,
        problems: [...relevant, ...rendered.problems],
      };
      if (!opts.json && repoFile.template !== undefined) {
        process.stderr.write(`note: ${rel} is not in the repository; the companion template ${repoFile.template} makes it for workload ${workload.name}\n`);
      }
      if (!opts.json && typeof identity.uid === 'string') {
        process.stderr.write(`note: user ${workload.user} does not exist here; {{uid}} and {{home}} render as the specifiers %U and %h\n`);
      }
      // On a terminal or in a pipe alike, the text shows control and invisible characters
      // escaped; --json carries the exact content.
      if (!opts.json && out.problems.length === 0 && out.content !== undefined && safeLines(out.content) !== out.content) {
        process.stderr.write('note: control or invisible characters are shown escaped (\\xNN, \\u{NNNN}); --json has the exact content\n');
      }
      emit(opts, out, (o) => (o.problems.length > 0 ? o.problems.map((p) => safeText(formatProblem(p))).join('\n') : (o.content ?? '')));
      setExit(out.problems.length > 0 ? ExitCode.Invalid : ExitCode.Ok);
    });
}

/** The checkout root: the nearest .git, else the parent when the file sits in a known group directory. */
function guessRoot(abs: string, groups: Set<string>): string {
  const dir = dirname(abs);
  if (existsSync(resolve(dir, '.git'))) return dir;
  if (existsSync(resolve(dir, '..', '.git'))) return dirname(dir);
  return groups.has(basename(dir)) ? dirname(dir) : dir;
}

/** The real uid and home when the workload's user exists on this host. */
async function identityFor(w: { name: string; user: string }): Promise<Identity> {
  const [{ specifierIdentity }, { ExecaRunner }, { UserAccounts }] = await Promise.all([import('../core/desired'), import('../host/exec'), import('../host/users')]);
  try {
    const entry = await new UserAccounts(new ExecaRunner(), { timeoutMs: 5_000 }).lookupUser(w.user);
    if (entry) return { name: w.name, user: w.user, uid: entry.uid, home: entry.home };
  } catch {
    // No getent (a CI container): fall back to the specifiers.
  }
  return specifierIdentity(w);
}
