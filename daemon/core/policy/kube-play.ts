// `podman kube play` and `podman kube down` (Podman 5 `podman kube play --help`, hidden
// options included) → policy facts. What kube play runs is in its YAML file: the file is
// judged (kube-yaml.ts) when it is one moor deployed for the workload, found by the
// caller's `fileAt`; any other file, stdin or a URL is unjudgeable. Quadlet's `.kube`
// gives `--publish`, `--network`, `--userns`, `--annotation` (AutoUpdate= too),
// `--configmap`, `--log-driver`, and its PodmanArgs= any of these.
import { annotationFacts } from './kube-annotations';
import { kubeYamlFacts } from './kube-yaml';
import type { Fact } from './model';
import { parseFlags, words, type FlagTable, type ParsedFlag } from './pflag';
import { hostPortOf, isHostNamespace } from './podman-values';
import type { DeployedFile } from './yaml-reader';

export type { DeployedFile } from './yaml-reader';

export const KUBE_PLAY_TABLE: FlagTable = {
  value: words(`
    annotation authfile cert-dir configmap context-dir creds ip log-driver log-opt mac-address network publish
    seccomp-profile-root service-exit-code-propagation signature-policy userns
  `),
  bool: words('build force help no-hostname no-hosts no-trunc publish-all quiet replace service-container start tls-verify wait'),
  short: { q: 'quiet', w: 'wait' },
};

const KUBE_DOWN_TABLE: FlagTable = { value: new Set(), bool: words('force help'), short: {} };

/** Options that reach beyond the command line and the YAML: a build, profiles or a trust policy from files moor does not read. */
const BEYOND: Record<string, string> = {
  build: 'builds images from Containerfiles next to the YAML',
  'context-dir': 'builds images from Containerfiles in a directory',
  'seccomp-profile-root': 'reads seccomp profiles from a directory',
  'signature-policy': 'reads another image trust policy',
};

/** The facts of kube play's own options (also Quadlet's PodmanArgs= of a `.kube`). */
export function kubeFlagFacts(flags: readonly ParsedFlag[]): Fact[] {
  const facts: Fact[] = [];
  for (const f of flags) {
    const fact = (kind: Fact['kind'], value: string): void => void facts.push({ kind, value, as: f.as });
    const why = BEYOND[f.name];
    if (why && f.value !== 'false') fact('unjudgeable', `podman kube play ${f.as} ${why}`);
    else if (f.name === 'publish') for (const p of f.value.split(',')) fact('publish', hostPortOf(p));
    else if (f.name === 'network') for (const v of f.value.split(',')) isHostNamespace(v) && fact('namespace', `network=${v}`);
    else if (f.name === 'userns' && isHostNamespace(f.value)) fact('namespace', `userns=${f.value}`);
    else if (f.name === 'annotation') {
      const eq = f.value.indexOf('=');
      const [key, value] = eq < 0 ? [f.value, ''] : [f.value.slice(0, eq), f.value.slice(eq + 1)];
      for (const a of annotationFacts(key, value)) fact(a.kind, a.value);
    }
  }
  return facts;
}

/** Whether `--publish-all` is on among these options. */
export const publishesAll = (flags: readonly ParsedFlag[]) => flags.some((f) => f.name === 'publish-all' && f.value !== 'false');

/** `podman kube play|down ...` (argv after `kube`). */
export function kubeFacts(args: readonly string[], fileAt?: (path: string) => DeployedFile | undefined): Fact[] {
  const [sub, ...rest] = args;
  const unjudgeable = (value: string): Fact[] => [{ kind: 'unjudgeable', value, as: `podman kube ${args.join(' ')}` }];
  if (sub === 'down') {
    const parsed = parseFlags(rest, KUBE_DOWN_TABLE, true);
    return parsed.error ? unjudgeable(`podman kube down: ${parsed.error}`) : [];
  }
  if (sub !== 'play') return unjudgeable(`podman kube ${sub ?? ''}: what it runs is not on its command line`.replace(/ :/, ':'));
  const parsed = parseFlags(rest, KUBE_PLAY_TABLE, true);
  if (parsed.error) return unjudgeable(`podman kube play: ${parsed.error}`);
  const facts = kubeFlagFacts(parsed.flags);
  if (parsed.positionals.length !== 1) return [...facts, ...unjudgeable(`podman kube play takes one file, not ${parsed.positionals.length}`)];
  const path = parsed.positionals[0]!;
  const file = path === '-' || /^[a-z]+:\/\//i.test(path) ? undefined : fileAt?.(path);
  if (!file) return [...facts, ...unjudgeable(`podman kube play ${path}: not a file moor deployed for this workload, so what it runs cannot be read`)];
  // The YAML's own location goes into `as`: the unit's Exec line is where the fact is.
  const yaml = kubeYamlFacts(file, { publishAll: publishesAll(parsed.flags) }).map((f): Fact => ({ kind: f.kind, value: f.value, as: `${f.source}:${f.line}: ${f.as}` }));
  return [...facts, ...yaml];
}
