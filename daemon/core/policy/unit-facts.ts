// What a unit runs, as facts for the policy: its Exec*= lines (a podman invocation parsed
// by podman-args.ts, any other program named), and, for a unit that runs podman, the
// environment that would configure podman behind its command line. Two sources, one
// shape: a unit as systemd has it loaded (`systemctl --user cat`, Quadlet's output
// included), and a Quadlet file as written, mapped key by key to the same facts so that
// `moor check` and the pass judge a spec before anything is written.
import { entriesOf, type UnitEntry, type UnitFile } from '../unit-file';
import type { Fact } from './model';
import { parseExecLine, splitWords } from './exec-line';
import { KUBE_PLAY_TABLE, kubeFlagFacts, publishesAll, type DeployedFile } from './kube-play';
import { kubeYamlFacts } from './kube-yaml';
import { capabilities, FLAG_TABLES, flagFacts, hostPortOf, isHostNamespace, mountFacts, parseFlags, podmanFacts, unconfining, volumeHostPaths } from './podman-args';

const EXEC_KEYS: Record<string, string[]> = {
  Service: ['ExecCondition', 'ExecStartPre', 'ExecStart', 'ExecStartPost', 'ExecReload', 'ExecStop', 'ExecStopPost'],
  Socket: ['ExecStartPre', 'ExecStartPost', 'ExecStopPre', 'ExecStopPost'],
};

/** Environment podman reads its configuration, storage or connection from. */
const PODMAN_ENV = /^(CONTAINERS?_|XDG_(CONFIG|DATA|RUNTIME)_|HOME$|REGISTRIES_CONFIG_PATH$|DOCKER_|PODMAN_(?!SYSTEMD_UNIT$))/;

const at = (e: UnitEntry, fact: Omit<Fact, 'line' | 'source'>): Fact => ({ ...fact, line: e.line, ...(e.source ? { source: e.source } : {}) });

/** The entries a list setting ends up with: an empty assignment drops those before it. */
function effective(unit: UnitFile, section: string, key: string): UnitEntry[] {
  const out: UnitEntry[] = [];
  for (const e of entriesOf(unit, section, key)) {
    if (e.value === '') out.length = 0;
    else out.push(e);
  }
  return out;
}

/**
 * Every Exec*= line of [Service] and [Socket], and the environment podman would read.
 * `fileAt` gives a file moor deployed by absolute path (the YAML of `podman kube play`).
 */
export function execFacts(unit: UnitFile, fileAt?: (path: string) => DeployedFile | undefined): Fact[] {
  const facts: Fact[] = [];
  let runsPodman = false;
  for (const [section, keys] of Object.entries(EXEC_KEYS)) {
    for (const key of keys) {
      for (const e of effective(unit, section, key)) {
        const cmd = parseExecLine(e.value);
        const as = `${key}=${e.value}`;
        if ('error' in cmd) {
          facts.push(at(e, { kind: 'unjudgeable', value: `${key}= cannot be read as one command: ${cmd.error}`, as }));
          continue;
        }
        if (/(^|\/)podman$/.test(cmd.program)) {
          runsPodman = true;
          if (cmd.unfixed) facts.push(at(e, { kind: 'unjudgeable', value: `a podman command line changes when it runs: ${cmd.unfixed}`, as }));
          else facts.push(...podmanFacts(cmd.args, fileAt).map((f) => at(e, { ...f, as: `${key}: ${f.as}` })));
        } else {
          facts.push(at(e, { kind: 'program', value: cmd.program, as }));
        }
      }
    }
  }
  if (runsPodman) facts.push(...environmentFacts(unit));
  return facts;
}

/** Environment= naming podman's own configuration, and any EnvironmentFile= (unread). */
function environmentFacts(unit: UnitFile): Fact[] {
  const facts: Fact[] = [];
  for (const e of effective(unit, 'Service', 'EnvironmentFile')) {
    facts.push(at(e, { kind: 'unjudgeable', value: 'an EnvironmentFile= of a unit that runs podman could configure podman', as: `EnvironmentFile=${e.value}` }));
  }
  for (const key of ['Environment', 'PassEnvironment']) {
    for (const e of effective(unit, 'Service', key)) {
      const split = splitWords(e.value);
      const names = 'error' in split ? [e.value] : split.words.map((w) => w.split('=')[0]!);
      for (const name of names.filter((n) => PODMAN_ENV.test(n) || 'error' in split)) {
        facts.push(at(e, { kind: 'unjudgeable', value: `${key}= sets ${name}, which podman reads its configuration from`, as: `${key}=${e.value}` }));
      }
    }
  }
  return facts;
}

/**
 * What a Quadlet file makes its unit run, by key (docs/policy.md has the mapping).
 * `fileOf` gives a file of the workload by its name next to the unit (a `.kube`'s Yaml=).
 */
export function quadletFacts(ext: string, unit: UnitFile, imageOf: (ref: string) => string | undefined, fileOf?: (name: string) => DeployedFile | undefined): Fact[] {
  const section = QUADLET_SECTIONS[ext];
  if (section === undefined) return execFacts(unit);
  const facts: Fact[] = [];
  const each = (key: string, fn: (e: UnitEntry) => Omit<Fact, 'line' | 'source'>[]) => {
    for (const e of effective(unit, section, key)) facts.push(...fn(e).map((f) => at(e, f)));
  };
  const as = (e: UnitEntry) => `${e.key}=${e.value}`;
  if (ext === 'build') {
    const first = unit.sections.find((s) => s.name === section);
    facts.push({ kind: 'unjudgeable', value: 'a .build file: what its Containerfile pulls and runs is not on a command line', as: `[${section}]`, ...(first ? { line: first.line } : {}) });
    return [...facts, ...execFacts(unit)];
  }
  each('GlobalArgs', (e) =>
    wordsOf(e, (w) => {
      const parsed = parseFlags(w, FLAG_TABLES.global, false);
      if (parsed.error || parsed.positionals.length > 0) return [{ kind: 'unjudgeable', value: `GlobalArgs=: ${parsed.error ?? `"${parsed.positionals[0]}" is not an option`}`, as: as(e) }];
      return podmanFacts([...w, 'version']).map((f) => ({ ...f, as: `GlobalArgs=${f.as}` }));
    }),
  );
  each('ContainersConfModule', (e) => [{ kind: 'unjudgeable', value: 'a containers.conf module can add mounts, devices and capabilities', as: as(e) }]);
  const table = ext === 'volume' ? FLAG_TABLES.volume : ext === 'network' ? FLAG_TABLES.network : ext === 'image' ? FLAG_TABLES.pull : ext === 'kube' ? KUBE_PLAY_TABLE : FLAG_TABLES.container;
  let publishAll = false;
  each('PodmanArgs', (e) =>
    wordsOf(e, (w) => {
      const parsed = parseFlags(w, table, false);
      if (parsed.error) return [{ kind: 'unjudgeable', value: `PodmanArgs=: ${parsed.error}`, as: as(e) }];
      if (parsed.positionals.length > 0) return [{ kind: 'unjudgeable', value: `PodmanArgs=: "${parsed.positionals[0]}" is not an option`, as: as(e) }];
      publishAll ||= publishesAll(parsed.flags);
      return (ext === 'kube' ? kubeFlagFacts(parsed.flags) : flagFacts(parsed.flags)).map((f) => ({ ...f, as: `PodmanArgs=${f.as}` }));
    }),
  );
  if (ext === 'kube') {
    each('PublishPort', (e) => [{ kind: 'publish', value: hostPortOf(e.value), as: as(e) }]);
    each('Network', (e) => (isHostNamespace(e.value) ? [{ kind: 'namespace' as const, value: `network=${e.value}`, as: as(e) }] : []));
    each('UserNS', (e) => (isHostNamespace(e.value) ? [{ kind: 'namespace' as const, value: `userns=${e.value}`, as: as(e) }] : []));
    // Yaml= is what runs: its own facts, at its own lines. ConfigMap= files are data.
    for (const e of effective(unit, section, 'Yaml')) {
      const name = e.value.replace(/^"(.*)"$/, '$1').replace(/^(\.\/)+/, '');
      const file = /^[/~]|%|(^|\/)\.\.(\/|$)/.test(name) ? undefined : fileOf?.(name);
      if (file) facts.push(...kubeYamlFacts(file, { publishAll }));
      else facts.push(at(e, { kind: 'unjudgeable', value: `Yaml=${e.value} is not a file of this workload deployed next to the unit, so what it runs cannot be read`, as: as(e) }));
    }
  }
  if (ext === 'container' || ext === 'pod') {
    each('PublishPort', (e) => [{ kind: 'publish', value: hostPortOf(e.value), as: as(e) }]);
    each('Volume', (e) => volumeHostPaths(quadletRelative(e.value)).map((p) => ({ kind: 'host-path' as const, value: p, as: as(e) })));
    each('Network', (e) => (isHostNamespace(e.value) ? [{ kind: 'namespace' as const, value: `network=${e.value}`, as: as(e) }] : []));
    each('UserNS', (e) => (isHostNamespace(e.value) ? [{ kind: 'namespace' as const, value: `userns=${e.value}`, as: as(e) }] : []));
  }
  if (ext === 'container') {
    each('Image', (e) => {
      const image = /\.(image|build)$/.test(e.value) ? imageOf(e.value) : e.value;
      return image === undefined ? [{ kind: 'unjudgeable', value: `Image=${e.value} names no .image file of this workload`, as: as(e) }] : [{ kind: 'image', value: image, as: as(e) }];
    });
    each('Rootfs', (e) => [{ kind: 'host-path', value: e.value.replace(/:O$/, ''), as: as(e) }]);
    each('Mount', (e) => mountFacts(quadletRelative(e.value)).map((m) => ({ ...m, as: as(e) })));
    each('AddCapability', (e) => capabilities(e.value).map((c) => ({ kind: 'capability' as const, value: c, as: as(e) })));
    each('AddDevice', (e) => [{ kind: 'device', value: e.value.replace(/^-/, '').split(':')[0]!, as: as(e) }]);
    each('SecurityLabelDisable', (e) => (e.value === 'true' ? [{ kind: 'privileged', value: 'label=disable', as: as(e) }] : []));
    each('SeccompProfile', (e) => (e.value === 'unconfined' ? [{ kind: 'privileged', value: 'seccomp=unconfined', as: as(e) }] : []));
    each('Unmask', (e) => (unconfining(`unmask=${e.value}`) ? [{ kind: 'privileged', value: `unmask=${e.value}`, as: as(e) }] : []));
    const pulls = effective(unit, section, 'Pull');
    if (pulls.length === 0) facts.push({ kind: 'pull', value: 'missing', as: "no Pull= (podman's default)" });
    each('Pull', (e) => [{ kind: 'pull', value: e.value, as: as(e) }]);
  }
  if (ext === 'volume') {
    each('Device', (e) => (/^[/.~%]/.test(e.value) ? [{ kind: 'host-path', value: e.value, as: as(e) }] : []));
    each('Image', (e) => [{ kind: 'image', value: e.value, as: as(e) }]);
  }
  if (ext === 'image') {
    each('Image', (e) => [
      { kind: 'image', value: e.value, as: as(e) },
      { kind: 'pull', value: 'always', as: `${as(e)} (podman image pull)` },
    ]);
  }
  return [...facts, ...execFacts(unit)];
}

const QUADLET_SECTIONS: Record<string, string> = { container: 'Container', pod: 'Pod', volume: 'Volume', network: 'Network', image: 'Image', build: 'Build', kube: 'Kube' };

/** Quadlet reads a source starting with "." relative to the unit file's directory. */
function quadletRelative(value: string): string {
  const dir = '%h/.config/containers/systemd/';
  if (value.startsWith('./') || value.startsWith('../')) return `${dir}${value}`;
  return value.replace(/(^|,)(source|src)=(\.\.?\/)/g, `$1$2=${dir}$3`);
}

function wordsOf(e: UnitEntry, fn: (words: string[]) => Omit<Fact, 'line' | 'source'>[]): Omit<Fact, 'line' | 'source'>[] {
  const split = splitWords(e.value);
  if ('error' in split) return [{ kind: 'unjudgeable', value: `${e.key}= cannot be split into words: ${split.error}`, as: `${e.key}=${e.value}` }];
  if (split.words.some((w) => /\$[{A-Za-z_]/.test(w.replaceAll('$$', '')))) {
    return [{ kind: 'unjudgeable', value: `${e.key}= holds an environment variable expanded only when it runs`, as: `${e.key}=${e.value}` }];
  }
  return fn(split.words);
}
