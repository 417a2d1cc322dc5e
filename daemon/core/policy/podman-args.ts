// A podman command line (argv after the program) → the facts the policy judges. Podman
// reads its options with pflag: `--opt value`, `--opt=value`, `-o value`, `-ovalue`,
// short booleans bundled (`-dit`), `--` ends the options; `run` and `create` stop at the
// first argument that is not an option (the image), and what follows is the container's
// own command, never podman's. An option whose arity is unknown would shift that line,
// so every option not in these tables makes the command unjudgeable, as does every
// subcommand not known here.
import type { Fact } from './model';
import { kubeFacts, type DeployedFile } from './kube-play';
import { parseFlags, words, type FlagTable, type ParsedFlag, type Parsed } from './pflag';
import { capabilities, hostPortOf, isHostNamespace, mountFacts, unconfining, volumeHostPaths } from './podman-values';

export { parseFlags, type FlagTable, type ParsedFlag } from './pflag';
export { capabilities, hostPortOf, isHostNamespace, mountFacts, unconfining, volumeHostPaths } from './podman-values';

const CONTAINER_VALUE = words(`
  add-host annotation arch attach authfile blkio-weight blkio-weight-device cap-add cap-drop cgroup-conf cgroup-parent
  cgroupns cgroups chrootdirs cidfile conmon-pidfile cpu-period cpu-quota cpu-rt-period cpu-rt-runtime cpu-shares cpus
  cpuset-cpus cpuset-mems decryption-key detach-keys device device-cgroup-rule device-read-bps device-read-iops
  device-write-bps device-write-iops dns dns-option dns-search entrypoint env env-file env-merge expose gidmap gpus
  group-add group-entry health-cmd health-interval health-log-destination health-max-log-count health-max-log-size
  health-on-failure health-retries health-start-period health-startup-cmd health-startup-interval
  health-startup-retries health-startup-success health-startup-timeout health-timeout hostname hostuser image-volume
  init-path ip ip6 ipc label label-file log-driver log-opt mac-address memory memory-reservation memory-swap
  memory-swappiness mount name network net network-alias oom-score-adj os passwd-entry personality pid pidfile
  pids-limit platform pod pod-id-file preserve-fd preserve-fds publish pull rdt-class requires restart retry
  retry-delay sdnotify seccomp-policy secret security-opt shm-size shm-size-systemd stop-signal stop-timeout
  subgidname subuidname sysctl systemd timeout tmpfs tz uidmap ulimit umask unsetenv user userns uts variant volume
  volumes-from workdir
  infra-command infra-conmon-pidfile infra-image infra-name exit-policy share
`);
const CONTAINER_BOOL = words(`
  detach disable-content-trust env-host help http-proxy init interactive no-healthcheck no-hosts no-hostname
  oom-kill-disable passwd privileged publish-all quiet read-only read-only-tmpfs replace rm rmi rootfs sig-proxy
  tls-verify tty infra share-parent
`);
const CONTAINER_SHORT: Record<string, string> = {
  a: 'attach', c: 'cpu-shares', d: 'detach', e: 'env', h: 'hostname', i: 'interactive', l: 'label', m: 'memory',
  p: 'publish', P: 'publish-all', q: 'quiet', t: 'tty', u: 'user', v: 'volume', w: 'workdir',
};

const GLOBAL_VALUE = words(`
  cgroup-manager cni-config-dir config conmon connection db-backend events-backend hooks-dir identity imagestore
  log-level module network-cmd-path network-config-dir out root runroot runtime runtime-flag ssh storage-driver
  storage-opt tmpdir url volumepath
`);
const GLOBAL_BOOL = words('debug help noout remote syslog transient-store version');
/** Global options that reach beyond this command line: another service, other config, another runtime. */
const GLOBAL_UNJUDGEABLE = words('config conmon connection hooks-dir identity module network-cmd-path remote runtime runtime-flag ssh url');

const TABLES = {
  container: { value: CONTAINER_VALUE, bool: CONTAINER_BOOL, short: CONTAINER_SHORT },
  global: { value: GLOBAL_VALUE, bool: GLOBAL_BOOL, short: { c: 'connection', r: 'remote', h: 'help', v: 'version' } },
  volume: { value: words('driver opt label ignore-errors'), bool: words('ignore help'), short: { d: 'driver', o: 'opt', l: 'label' } },
  network: {
    value: words('driver opt label subnet gateway ip-range ipam-driver interface-name dns route network-dns-server'),
    bool: words('disable-dns internal ipv6 ignore help'),
    short: { d: 'driver', o: 'opt' },
  },
  pull: {
    value: words('arch authfile cert-dir creds decryption-key os platform policy retry retry-delay variant'),
    bool: words('all-tags disable-content-trust quiet tls-verify help'),
    short: { a: 'all-tags', q: 'quiet' },
  },
  exec: {
    value: words('cidfile detach-keys env env-file preserve-fd preserve-fds user workdir'),
    bool: words('detach interactive latest privileged tty help'),
    short: { d: 'detach', e: 'env', i: 'interactive', l: 'latest', t: 'tty', u: 'user', w: 'workdir' },
  },
} satisfies Record<string, FlagTable>;

/** Subcommands whose options start, pull or reach nothing the policy judges. */
const HARMLESS = words('rm stop kill start restart wait inspect logs ps pause unpause healthcheck version info images rmi top port exists cleanup');
const HARMLESS_IN = {
  pod: words('start stop rm kill restart pause unpause inspect ps exists logs'),
  volume: words('rm inspect ls exists'),
  network: words('rm inspect ls exists reload'),
  image: words('rm inspect ls exists'),
  container: HARMLESS,
} as Record<string, Set<string>>;

const unjudgeable = (value: string, as: string): Fact => ({ kind: 'unjudgeable', value, as });

/**
 * Every fact of one podman invocation (argv after the program). `fileAt` gives the content
 * of a file moor deployed, by absolute path: the YAML of `podman kube play`.
 */
export function podmanFacts(args: readonly string[], fileAt?: (path: string) => DeployedFile | undefined): Fact[] {
  const global = parseFlags(args, TABLES.global, false);
  if (global.error) return [unjudgeable(`podman: ${global.error}`, args.join(' '))];
  const facts: Fact[] = global.flags
    .filter((f) => GLOBAL_UNJUDGEABLE.has(f.name) && f.value !== 'false')
    .map((f) => unjudgeable(`podman ${f.as} reaches beyond this command line`, f.as));
  let [sub, ...rest] = global.positionals;
  if (sub === 'container' && rest[0] !== undefined && !HARMLESS.has(rest[0])) [sub, ...rest] = rest;
  const group = sub !== undefined ? HARMLESS_IN[sub] : undefined;
  if (sub === 'run' || sub === 'create') return [...facts, ...containerFacts(rest, 'run')];
  if (sub === 'pod' && rest[0] === 'create') return [...facts, ...containerFacts(rest.slice(1), 'pod')];
  if (sub === 'volume' && rest[0] === 'create') return [...facts, ...volumeCreateFacts(rest.slice(1))];
  if (sub === 'network' && rest[0] === 'create') return [...facts, ...checked(parseFlags(rest.slice(1), TABLES.network, true), 'network create')];
  if (sub === 'pull' || (sub === 'image' && rest[0] === 'pull')) return [...facts, ...pullFacts(sub === 'pull' ? rest : rest.slice(1))];
  if (sub === 'exec') return [...facts, ...execFacts(rest)];
  if (sub === 'unshare') return [...facts, ...unshareFacts(rest)];
  if (sub === 'kube') return [...facts, ...kubeFacts(rest, fileAt)];
  if (sub !== undefined && (HARMLESS.has(sub) || (group !== undefined && rest[0] !== undefined && group.has(rest[0])))) return facts;
  const what = [sub, group ? rest[0] : undefined].filter(Boolean).join(' ') || '(no subcommand)';
  return [...facts, unjudgeable(`podman ${what}: what it runs is not on its command line`, `podman ${args.join(' ')}`)];
}

function checked(parsed: Parsed, what: string): Fact[] {
  return parsed.error ? [unjudgeable(`podman ${what}: ${parsed.error}`, parsed.error)] : [];
}

/** `run`/`create` (options, image, command) and `pod create` (options, name). */
function containerFacts(args: readonly string[], kind: 'run' | 'pod'): Fact[] {
  const parsed = parseFlags(args, TABLES.container, kind === 'pod');
  if (parsed.error) return checked(parsed, kind === 'run' ? 'run' : 'pod create');
  const facts = flagFacts(parsed.flags);
  if (kind === 'run') {
    const image = parsed.positionals[0];
    const rootfs = parsed.flags.some((f) => f.name === 'rootfs' && f.value !== 'false');
    if (image === undefined) facts.push(unjudgeable('podman run: no image', args.join(' ')));
    else if (rootfs) facts.push({ kind: 'host-path', value: image.replace(/:O$/, ''), as: `--rootfs ${image}` });
    else facts.push({ kind: 'image', value: image, as: image });
    if (!parsed.flags.some((f) => f.name === 'pull')) facts.push({ kind: 'pull', value: 'missing', as: "no --pull (podman's default)" });
  }
  return facts;
}

/** The facts of options shared by run, create, pod create and Quadlet's PodmanArgs=. */
export function flagFacts(flags: readonly ParsedFlag[]): Fact[] {
  const facts: Fact[] = [];
  const on = (f: ParsedFlag) => f.value !== 'false';
  for (const f of flags) {
    const fact = (kind: Fact['kind'], value: string): void => void facts.push({ kind, value, as: f.as });
    switch (f.name) {
      case 'publish':
        fact('publish', hostPortOf(f.value));
        break;
      case 'publish-all':
        if (on(f)) fact('publish-all', 'every exposed port');
        break;
      case 'volume':
        for (const p of volumeHostPaths(f.value)) fact('host-path', p);
        break;
      case 'mount':
        for (const x of mountFacts(f.value)) fact(x.kind, x.value);
        break;
      case 'init-path':
        fact('host-path', f.value);
        break;
      case 'privileged':
        if (on(f)) fact('privileged', '--privileged');
        break;
      case 'security-opt':
        if (unconfining(f.value)) fact('privileged', f.value);
        break;
      case 'cap-add':
        for (const c of capabilities(f.value)) fact('capability', c);
        break;
      case 'network':
      case 'net':
        for (const v of f.value.split(',')) if (isHostNamespace(v)) fact('namespace', `network=${v}`);
        break;
      case 'pid':
      case 'ipc':
      case 'uts':
      case 'userns':
      case 'cgroupns':
        if (isHostNamespace(f.value)) fact('namespace', `${f.name}=${f.value}`);
        break;
      case 'device':
        fact('device', f.value.replace(/^-/, '').split(':')[0]!);
        break;
      case 'device-cgroup-rule':
        fact('device', `cgroup rule ${f.value}`);
        break;
      case 'gpus':
        fact('device', `gpus ${f.value}`);
        break;
      case 'pull':
        fact('pull', f.value);
        break;
      case 'infra-image':
        fact('image', f.value);
        break;
    }
  }
  return facts;
}

function volumeCreateFacts(args: readonly string[]): Fact[] {
  const parsed = parseFlags(args, TABLES.volume, true);
  if (parsed.error) return checked(parsed, 'volume create');
  const facts: Fact[] = [];
  for (const f of parsed.flags.filter((x) => x.name === 'opt')) {
    const [k, ...v] = f.value.split('=');
    const value = v.join('=');
    if (k === 'device' && /^[/.~]/.test(value)) facts.push({ kind: 'host-path', value, as: f.as });
    if (k === 'image') facts.push({ kind: 'image', value, as: f.as });
  }
  return facts;
}

function pullFacts(args: readonly string[]): Fact[] {
  const parsed = parseFlags(args, TABLES.pull, true);
  if (parsed.error) return checked(parsed, 'pull');
  return [
    ...parsed.positionals.map((image): Fact => ({ kind: 'image', value: image, as: `pull ${image}` })),
    { kind: 'pull', value: 'always', as: 'podman pull' },
  ];
}

function execFacts(args: readonly string[]): Fact[] {
  const parsed = parseFlags(args, TABLES.exec, false);
  if (parsed.error) return checked(parsed, 'exec');
  return parsed.flags.filter((f) => f.name === 'privileged' && f.value !== 'false').map((f) => ({ kind: 'privileged', value: '--privileged', as: `exec ${f.as}` }));
}

/** `podman unshare CMD`: CMD runs as the user in its user namespace, a program like any other. */
function unshareFacts(args: readonly string[]): Fact[] {
  const parsed = parseFlags(args, { value: new Set(), bool: words('rootless-netns rootless-cni help'), short: {} }, false);
  if (parsed.error) return checked(parsed, 'unshare');
  const program = parsed.positionals[0];
  if (program === undefined) return [unjudgeable('podman unshare without a command runs a shell', 'podman unshare')];
  return [{ kind: 'program', value: program, as: `podman unshare ${parsed.positionals.join(' ')}` }];
}

export { TABLES as FLAG_TABLES };
