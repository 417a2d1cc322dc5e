// moor render <file>: print a spec merged with its transforms, exactly as it would be written.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { formatProblem, type Problem } from '../core/problem';
import type { HostIdentity, Identity } from '../core/transforms';
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
    .option('--host <name>', 'with fleet.toml: render the file for this host (default: this host; a file of hosts/NAME/ is NAME\'s)')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { transforms?: string; repo?: string; host?: string; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      // Discovery, rendering and the policy's parsers load here, not with the command line (build.ts).
      const [{ discover }, { HOSTS_DIR, readFleetManifest, sliceFor }, { filesOf, templateFilesOf, treeProblems }, { targetPath }, { secretName }, { renderFile }, { groupsWithTransforms }, { scanTree }, { loadTransformsDir }] = await Promise.all([
        import('../core/discovery'),
        import('../core/fleet'),
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
      const inRepo = relative(root, abs);
      if (inRepo.startsWith('..')) throw new UsageError(`${file} is not inside the repo ${root}`);

      // A fleet repository: the tree of the host the file is for (a file of hosts/NAME/ is
      // NAME's; any other, this host's, or --host's), with that host's labels.
      const entries = await scanTree(root, { maxFileBytes: config.maxFileBytes, budget: config.repoBudget });
      const fleet = readFleetManifest(entries);
      if (fleet.problems.length > 0) throw new UsageError(fleet.problems.map((p) => safeText(formatProblem(p))).join('\n'));
      const folder = fleet.manifest !== undefined ? /^hosts\/([^/]+)\//.exec(inRepo)?.[1] : undefined;
      if (folder !== undefined && opts.host !== undefined && opts.host !== folder) throw new UsageError(`${inRepo} is a file of host ${folder}, not of --host ${opts.host}`);
      const hostName = folder ?? opts.host ?? config.host.name;
      // This host's configured labels are its own; another host's are the manifest's alone.
      const slice = sliceFor(entries, fleet.manifest, { name: hostName, labels: hostName === config.host.name ? config.host.labels : {} });
      const rel = folder !== undefined ? inRepo.slice(`${HOSTS_DIR}/${folder}/`.length) : inRepo;
      const discovery = discover(slice.entries, {
        userPrefix: config.userPrefix,
        maxFileBytes: config.maxFileBytes,
        reservedNames: config.reservedNames,
        host: slice.host,
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
        throw new UsageError(`${inRepo} belongs to no workload of ${root}`);
      }
      const repoFile = filesFor(workload)[0]!;
      const identity = await identityFor(workload, slice.host);
      const rendered = renderFile(repoFile, workload, transforms.set, identity);
      // Of the tree's problems, those that make this file's render wrong.
      const relevant = treeProblems(discovery, transforms.set, transforms.problems).filter(
        (p) => p.path === repoFile.path || p.path === `${repoFile.group}/` || transforms.problems.includes(p),
      );
      const out: RenderOutput = {
        file: inRepo,
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
        process.stderr.write(`note: ${inRepo} is not in the repository; the companion template ${repoFile.template} makes it for workload ${workload.name}\n`);
      }
      if (!opts.json && exists && slice.repoPath(rel) !== inRepo) {
        process.stderr.write(`note: host ${slice.host.name} has its own ${slice.repoPath(rel)}; that is what it deploys, and what is shown\n`);
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
async function identityFor(w: { name: string; user: string }, host: HostIdentity): Promise<Identity> {
  const [{ specifierIdentity }, { ExecaRunner }, { UserAccounts }] = await Promise.all([import('../core/desired'), import('../host/exec'), import('../host/users')]);
  try {
    const entry = await new UserAccounts(new ExecaRunner(), { timeoutMs: 5_000 }).lookupUser(w.user);
    if (entry) return { name: w.name, user: w.user, uid: entry.uid, home: entry.home, host: host.name, labels: host.labels };
  } catch {
    // No getent (a CI container): fall back to the specifiers.
  }
  return specifierIdentity(w, host);
}
