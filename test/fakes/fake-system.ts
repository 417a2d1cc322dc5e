// A stateful stand-in for the host, answering the exact argv forms daemon/host/ emits,
// with the exit codes, output shapes and messages of the real tools (getent, shadow-utils,
// loginctl, systemctl, journalctl, Quadlet). The end-to-end suite checks the same flows
// against a real systemd, so a behaviour here that real tools lack is a bug here.
import { readFileSync, writeFileSync } from 'node:fs';
import type { CommandResult, CommandRunner, RunOptions } from '../../daemon/core/ports';
import type { UnitStateReader } from '../../daemon/host/user-bus';
import { parseUnitStatuses } from '../../daemon/core/parse/systemctl-show';
import type { GroupEntry, PasswdEntry } from '../../daemon/core/parse/passwd';
import { baseComponents, parseWriteFilesPayload, type WriteFilesResult } from '../../daemon/host/write-files-payload';
import { entriesOf, isEntry, parseUnit } from '../../daemon/core/unit-file';

export interface FakeUnit {
  loadState: string;
  activeState: string;
  subState: string;
  result: string;
  invocationId: string;
  unitFileState: string;
  generated: boolean;
  /** systemctl show's ExecMainCode (1 exited, 2 killed) and ExecMainStatus of the last run; "0" before any. */
  execMainCode?: string;
  execMainStatus?: string;
}

/** One journal entry, its fields as journalctl -o json prints them. */
export type FakeJournalEntry = Record<string, string>;

export interface FakeFile {
  content: string;
  mode: number;
}

/** A process of the host outside any user manager (or inside the user's slice). */
export interface FakeProcess {
  ruid: number;
  euid: number;
  suid: number;
  /** In user-UID.slice: stopping the slice ends it. */
  inSlice: boolean;
}

/** A file or directory outside the homes, by absolute path (/tmp/x, /var/log/journal/M/user-1000.journal). */
export interface FakeHostFile {
  uid: number;
  dir?: boolean;
}

export interface FakeSystemOptions {
  /** /etc/login.defs content; default sets UID_MIN 1000. */
  loginDefs?: string;
  /** Where useradd puts homes (HOME in /etc/default/useradd). */
  homeBase?: string;
  /** Users present before the test, besides root and nobody. */
  users?: PasswdEntry[];
  /** /etc/subuid and /etc/subgid content; default empty files, null for no file. */
  subuid?: string | null;
  subgid?: string | null;
}

type Out = { exitCode: number; stdout?: string; stderr?: string };

const QUADLET_DIR = '.config/containers/systemd/';
const UNIT_DIR = '.config/systemd/user/';
/** Quadlet file type → suffix of the generated service name. */
const QUADLET_SUFFIX: Record<string, string> = {
  container: '',
  kube: '',
  pod: '-pod',
  volume: '-volume',
  network: '-network',
  image: '-image',
  build: '-build',
};
const PLAIN_UNIT = /\.(service|timer|socket|path|target)$/;
/** The order systemctl prints these in: the type's own interface (Result) before Unit's. */
const SHOW_ORDER = ['Result', 'ExecMainCode', 'ExecMainStatus', 'Id', 'LoadState', 'ActiveState', 'SubState', 'UnitFileState', 'NeedDaemonReload', 'InvocationID'];

const passwdLine = (u: PasswdEntry) => `${u.name}:x:${u.uid}:${u.gid}:${u.gecos}:${u.home}:${u.shell}\n`;
const groupLine = (g: GroupEntry) => `${g.name}:x:${g.gid}:${g.members.join(',')}\n`;
const ok = (stdout = '', stderr = ''): Out => ({ exitCode: 0, stdout, stderr });
const fail = (exitCode: number, stderr: string): Out => ({ exitCode, stderr: `${stderr}\n` });
const lines = (items: readonly string[]) => items.map((l) => `${l}\n`).join('');

const msg = {
  jobFailed: (unit: string, scope: string) =>
    `Job for ${unit} failed because the control process exited with error code.\n` +
    `See "systemctl${scope} status ${unit}" and "journalctl${scope} -xeu ${unit}" for details.`,
  noInstall:
    'The unit files have no installation config (WantedBy=, RequiredBy=, UpheldBy=,\n' +
    'Also=, or Alias= settings in the [Install] section, and DefaultInstance= for\n' +
    'template units). This means they are not meant to be enabled or disabled using systemctl.',
  notTracked: (uid: number) => `User ID ${uid} is not logged in or lingering.`,
};

/** The generated unit for a Quadlet file name, or undefined for other files. */
function quadletUnit(file: string): string | undefined {
  const dot = file.lastIndexOf('.');
  const suffix = QUADLET_SUFFIX[file.slice(dot + 1)];
  return dot > 0 && suffix !== undefined ? `${file.slice(0, dot)}${suffix}.service` : undefined;
}

/** The lowest start at or above min where count ids overlap no range of a subid file. */
function lowestFreeRange(text: string, min: number, count: number): number {
  const ranges = text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length === 3)
    .map(([, start, n]) => ({ start: Number(start), end: Number(start) + Number(n) }))
    .sort((a, b) => a.start - b.start);
  let start = min;
  for (const r of ranges) if (start < r.end && r.start < start + count) start = r.end;
  return start;
}

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

export class FakeSystem implements CommandRunner {
  readonly calls: string[][] = [];
  /** Images each user loaded with `podman load`. */
  readonly images = new Map<string, Set<string>>();
  /** user → Podman secret name → its value, as `podman secret create` stored it (in the user's home). */
  readonly podmanSecrets = new Map<string, Map<string, Buffer>>();
  readonly passwd = new Map<string, PasswdEntry>();
  readonly groups = new Map<string, GroupEntry>();
  readonly linger = new Set<string>();
  /** UIDs whose user@UID.service is active. */
  readonly managers = new Set<number>();
  /** user → path relative to home → file. */
  readonly files = new Map<string, Map<string, FakeFile>>();
  /** user → unit → state, as of the last daemon-reload. */
  readonly units = new Map<string, Map<string, FakeUnit>>();
  loginDefs: string;
  /** /etc/subuid and /etc/subgid as files (null: absent), kept by useradd, usermod and userdel. */
  subuid: string | null;
  subgid: string | null;
  private readonly homeBase: string;
  private readonly enabled = new Set<string>();
  private readonly rejected = new Map<string, { message: string; whileContains?: string }>();
  private readonly failing = new Set<string>();
  /** user/unit → text: starting fails while the file the unit was loaded from holds it. */
  private readonly failingWith = new Map<string, string>();
  private readonly busy = new Map<string, number>();
  /** user/unit → what the unit writes each time it starts. */
  private readonly unitOutput = new Map<string, string[]>();
  /** user/unit → how its main process ends when it fails. */
  private readonly failExit = new Map<string, { code: 'exited' | 'killed'; status: number }>();
  /** The host's journal, oldest first (root's journalctl reads it). */
  readonly journal: FakeJournalEntry[] = [];
  /** user/unit → the file it was loaded from and its content then (for NeedDaemonReload). */
  private readonly loadedFrom = new Map<string, { path: string; content: string }>();
  private invocations = 0;
  /** pid → process, besides user managers (pid 4000 + uid). */
  readonly processes = new Map<number, FakeProcess>();
  /** Files outside the homes (the roots a removal searches). */
  readonly hostFiles = new Map<string, FakeHostFile>();
  /** Directories that exist (for the removal's search roots). */
  readonly hostDirs = new Set(['/tmp', '/var/tmp', '/dev/shm', '/var/spool/cron', '/var/log/journal']);
  /** tar --create fails with this message (a full disk). */
  archiveFailure?: string;
  /**
   * Podman as `podman --version` finds it: installed, not installed, or failing with this
   * stderr. 'missing' also holds for commands as a user (systemd-run's own answer).
   */
  podman: 'installed' | 'missing' | { failing: string } = 'installed';
  /** Podman's Quadlet generator is installed: without it, daemon-reload generates no unit. */
  quadletGenerator = true;
  /**
   * UIDs whose rootless Podman user namespace exists: its pause process runs in a scope of
   * the user's manager, so it ends with that manager.
   */
  readonly podmanNamespaces = new Set<number>();
  /**
   * "user/unit" of each generated (Quadlet) unit started while its user had no Podman
   * namespace: a start whose podman must create it, the one that can lose its READY=1.
   */
  readonly startsWithoutNamespace: string[] = [];
  private nextPid = 20000;

  constructor(options: FakeSystemOptions = {}) {
    this.loginDefs = options.loginDefs ?? 'UID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n';
    this.homeBase = options.homeBase ?? '/home';
    this.subuid = options.subuid === undefined ? '' : options.subuid;
    this.subgid = options.subgid === undefined ? '' : options.subgid;
    const seed: PasswdEntry[] = [
      { name: 'root', uid: 0, gid: 0, gecos: 'root', home: '/root', shell: '/bin/bash' },
      { name: 'nobody', uid: 65534, gid: 65534, gecos: 'nobody', home: '/nonexistent', shell: '/usr/sbin/nologin' },
      ...(options.users ?? []),
    ];
    for (const u of seed) {
      this.passwd.set(u.name, u);
      const group = u.name === 'nobody' ? 'nogroup' : u.name;
      this.groups.set(group, { name: group, gid: u.gid, members: [] });
    }
  }

  // --- fault injection and inspection -------------------------------------------------

  /**
   * Quadlet's generator rejects this file (by name, e.g. "web.container"): its unit does not
   * load. With `whileContains`, only while the file holds that text (one version of it).
   */
  rejectFile(user: string, file: string, message = 'no Image or Rootfs key specified', whileContains?: string): void {
    this.rejected.set(`${user}/${file}`, { message, ...(whileContains !== undefined ? { whileContains } : {}) });
  }
  /** The generator's message for this file of the user's Quadlet dir, when it rejects it. */
  private rejection(u: PasswdEntry, path: string): string | undefined {
    const r = this.rejected.get(`${u.name}/${baseName(path)}`);
    if (!r || (r.whileContains !== undefined && !this.userFiles(u.name).get(path)?.content.includes(r.whileContains))) return undefined;
    return r.message;
  }
  /**
   * Starting this unit fails (ActiveState=failed): its main process exits with `status`
   * (Result=exit-code, default 1) or is killed by signal `signal` (Result=signal).
   */
  failUnit(user: string, unit: string, end: { status?: number; signal?: number } = {}): void {
    this.failing.add(`${user}/${unit}`);
    this.failExit.set(`${user}/${unit}`, end.signal !== undefined ? { code: 'killed', status: end.signal } : { code: 'exited', status: end.status ?? 1 });
  }
  /** Starting this unit fails while the file it was loaded from contains `text` (one version of a spec fails, another runs). */
  failUnitWhenLoadedWith(user: string, unit: string, text: string): void {
    this.failingWith.set(`${user}/${unit}`, text);
  }
  /** userdel answers "busy" (exit 8) this many more times. */
  makeUserBusy(user: string, times = 1): void {
    this.busy.set(user, times);
  }
  /**
   * What the unit writes each time it starts: for a Quadlet unit, its container's output
   * (conmon's entries), among the entries a real run leaves around it (the manager's
   * messages, Podman's events, conmon's cgroup warnings, the pause process killed).
   */
  setUnitOutput(user: string, unit: string, outputLines: string[]): void {
    this.unitOutput.set(`${user}/${unit}`, outputLines);
  }
  unit(user: string, unit: string): FakeUnit | undefined {
    return this.units.get(user)?.get(unit);
  }
  userFiles(user: string): Map<string, FakeFile> {
    return this.files.get(user) ?? new Map();
  }
  /** A process of this uid outside its user manager (runuser, a pause process); returns its pid. */
  spawn(uid: number, opts: { inSlice?: boolean; euid?: number } = {}): number {
    const pid = this.nextPid++;
    this.processes.set(pid, { ruid: uid, euid: opts.euid ?? uid, suid: opts.euid ?? uid, inSlice: opts.inSlice ?? false });
    return pid;
  }
  pidsOf(uid: number): number[] {
    return [...this.processes.entries()].filter(([, p]) => p.ruid === uid || p.euid === uid || p.suid === uid).map(([pid]) => pid);
  }
  /** lstat as the host layer sees it: the search roots and the homes of existing users are directories. */
  readonly pathKind = async (path: string): Promise<'directory' | 'missing' | 'other'> =>
    this.hostDirs.has(path) || [...this.passwd.values()].some((u) => u.home === path && this.files.has(u.name)) ? 'directory' : 'missing';
  callLines(): string[] {
    return this.calls.map((c) => c.join(' '));
  }
  /** Serves the files the host layer reads directly (UserAccounts' readFile option). */
  readonly readFile = async (path: string): Promise<string> => {
    if (path === '/etc/login.defs') return this.loginDefs;
    if (path === '/etc/subuid' && this.subuid !== null) return this.subuid;
    if (path === '/etc/subgid' && this.subgid !== null) return this.subgid;
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  };

  /** The user's subordinate uid range, as /etc/subuid holds it. */
  subuidRange(user: string): { start: number; count: number } | undefined {
    const line = (this.subuid ?? '').split('\n').find((l) => l.startsWith(`${user}:`));
    if (!line) return undefined;
    const [, start, count] = line.split(':');
    return { start: Number(start), count: Number(count) };
  }

  // --- the runner ---------------------------------------------------------------------

  async run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    this.calls.push([...argv]);
    const out = this.dispatch([...argv], options);
    return { argv: [...argv], exitCode: out.exitCode, stdout: out.stdout ?? '', stderr: out.stderr ?? '', durationMs: 0, timedOut: false };
  }

  private dispatch([cmd, ...args]: string[], options: RunOptions): Out {
    if (cmd === 'getent') return this.getent(args);
    if (cmd === 'useradd') return this.useradd(args);
    if (cmd === 'groupadd') return this.groupadd(args);
    if (cmd === 'userdel') return this.userdel(args);
    if (cmd === 'usermod') return this.usermod(args);
    if (cmd === 'loginctl') return this.loginctl(args);
    if (cmd === 'systemctl') return this.systemScope(args);
    if (cmd === 'systemd-run') return this.systemdRun(args, options);
    if (cmd === 'ps') return this.ps(args);
    if (cmd === 'kill') return this.kill(args);
    if (cmd === 'find') return this.find(args);
    if (cmd === 'tar') return this.tarCreate(args);
    if (cmd === 'journalctl') return this.journalctl(args);
    if (cmd === 'podman' && args.length === 1 && args[0] === '--version') return this.podmanVersion();
    if (cmd === 'test' && args[0] === '-x' && args.length === 2) return { exitCode: args[1]!.endsWith('/podman-user-generator') && this.quadletGenerator ? 0 : 1 };
    return fail(127, `fake: ${cmd ?? ''}: command not found`);
  }

  // --- NSS and shadow-utils -----------------------------------------------------------

  private getent([db, key, ...more]: string[]): Out {
    if (db === 'passwd' && key === undefined) return ok([...this.passwd.values()].map(passwdLine).join(''));
    if (db === 'passwd') {
      // Every key answered in order; exit 2 when one or more is not found, as getent does.
      const found = [key!, ...more].map((k) => this.passwd.get(k) ?? [...this.passwd.values()].find((e) => String(e.uid) === k));
      const lines = found.flatMap((u) => (u ? [passwdLine(u)] : [])).join('');
      return { ...ok(lines), exitCode: found.every(Boolean) ? 0 : 2 };
    }
    if (db === 'group') {
      const g = this.groups.get(key ?? '') ?? [...this.groups.values()].find((e) => String(e.gid) === key);
      return g ? ok(groupLine(g)) : { exitCode: 2 };
    }
    return fail(1, `Unknown database: ${db ?? ''}`);
  }

  private useradd(args: string[]): Out {
    const opt = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
    const name = args[args.length - 1] ?? '';
    // -K KEY=VALUE overrides login.defs for this call.
    const defs = new Map(args.flatMap((a, i) => (args[i - 1] === '-K' ? [a.split('=', 2) as [string, string]] : [])));
    const def = (key: string, fallback: number) => Number(defs.get(key) ?? new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(this.loginDefs)?.[1] ?? fallback);
    if (!/^[a-z_][a-z0-9_-]*\$?$/.test(name) || name.length > 32) {
      return fail(3, `useradd: invalid user name '${name}': use --badname to ignore`);
    }
    if (this.passwd.has(name)) return fail(9, `useradd: user '${name}' already exists`);
    if (args.includes('--user-group') && this.groups.has(name)) {
      return fail(9, `useradd: group ${name} exists - if you want to add this user to that group, use -g.`);
    }
    const extra = (opt('--groups') ?? '').split(',').filter((g) => g !== '');
    const missing = extra.find((g) => !this.groups.has(g));
    if (missing) return fail(6, `useradd: group '${missing}' does not exist`);
    // useradd takes --uid when it is free, else one above the highest UID in
    // [UID_MIN, UID_MAX], and the same GID when free.
    const uidMin = def('UID_MIN', 1000);
    const uidMax = def('UID_MAX', 60000);
    const asked = opt('--uid');
    if (asked !== undefined && !/^\d+$/.test(asked)) return fail(3, `useradd: invalid user ID '${asked}'`);
    if (asked !== undefined && [...this.passwd.values()].some((u) => u.uid === Number(asked))) return fail(4, `useradd: UID ${asked} is not unique`);
    const inRange = [...this.passwd.values()].map((u) => u.uid).filter((id) => id >= uidMin && id <= uidMax);
    const uid = asked !== undefined ? Number(asked) : inRange.length ? Math.max(...inRange) + 1 : uidMin;
    const gids = new Set([...this.groups.values()].map((g) => g.gid));
    let gid = uid;
    while (gids.has(gid)) gid++;
    const home = `${this.homeBase}/${name}`;
    this.passwd.set(name, { name, uid, gid, gecos: opt('--comment') ?? '', home, shell: opt('--shell') ?? '/bin/sh' });
    this.groups.set(name, { name, gid, members: [] });
    for (const g of extra) this.groups.get(g)?.members.push(name);
    this.files.set(name, new Map());
    // Like the real one, useradd gives a user in [UID_MIN, UID_MAX] the lowest free range of
    // SUB_UID_COUNT (SUB_GID_COUNT) ids when the file exists and the count is not 0.
    if (uid >= uidMin && uid <= uidMax) {
      const uidCount = def('SUB_UID_COUNT', 65536);
      const gidCount = def('SUB_GID_COUNT', 65536);
      if (this.subuid !== null && uidCount > 0) this.subuid += `${name}:${lowestFreeRange(this.subuid, def('SUB_UID_MIN', 100000), uidCount)}:${uidCount}\n`;
      if (this.subgid !== null && gidCount > 0) this.subgid += `${name}:${lowestFreeRange(this.subgid, def('SUB_GID_MIN', 100000), gidCount)}:${gidCount}\n`;
    }
    return ok();
  }

  // Only the forms moor uses: --add-subuids FIRST-LAST and --add-subgids FIRST-LAST.
  private usermod(args: string[]): Out {
    const name = args[args.length - 1] ?? '';
    const flags = args.slice(0, -1);
    const adds: { file: 'subuid' | 'subgid'; range: string }[] = [];
    for (let i = 0; i < flags.length; i += 2) {
      const file = ({ '--add-subuids': 'subuid', '--add-subgids': 'subgid' } as const)[flags[i] ?? ''];
      if (!file) return fail(2, `fake: usermod ${flags[i] ?? ''} is not simulated`);
      adds.push({ file, range: flags[i + 1] ?? '' });
    }
    if (!this.passwd.has(name)) return fail(6, `usermod: user '${name}' does not exist`);
    for (const { file, range } of adds) {
      const m = /^(\d+)-(\d+)$/.exec(range);
      if (!m || Number(m[2]) < Number(m[1])) return fail(2, `usermod: invalid subordinate ${file === 'subuid' ? 'uid' : 'gid'} range '${range}'`);
      if (this[file] === null) return fail(2, `usermod: /etc/${file} does not exist, you cannot use the flags -v or -V`);
    }
    for (const { file, range } of adds) {
      const [first, last] = range.split('-').map(Number) as [number, number];
      const line = `${name}:${first}:${last - first + 1}`;
      // Like the real one: a range the user already has is not added twice; others' ranges are not looked at.
      if (!this[file]!.split('\n').includes(line)) this[file] += `${line}\n`;
    }
    return ok();
  }

  private groupadd(args: string[]): Out {
    const name = args[args.length - 1] ?? '';
    if (this.groups.has(name)) return fail(9, `groupadd: group '${name}' already exists`);
    const system = args.includes('--system');
    const gids = new Set([...this.groups.values()].map((g) => g.gid));
    let gid = system ? 999 : 1000;
    while (gids.has(gid)) gid += system ? -1 : 1;
    this.groups.set(name, { name, gid, members: [] });
    return ok();
  }

  private userdel(args: string[]): Out {
    const name = args[args.length - 1] ?? '';
    const u = this.passwd.get(name);
    if (!u) return fail(6, `userdel: user '${name}' does not exist`);
    const busy = this.busy.get(name) ?? 0;
    // Real userdel refuses while any process of the user runs; the user manager is one.
    const stray = this.pidsOf(u.uid)[0];
    if (this.managers.has(u.uid) || busy > 0 || stray !== undefined) {
      if (busy > 0) this.busy.set(name, busy - 1);
      return fail(8, `userdel: user ${name} is currently used by process ${stray ?? 4000 + u.uid}`);
    }
    this.passwd.delete(name);
    for (const [gname, g] of this.groups) {
      if (gname === name && g.gid === u.gid) this.groups.delete(gname);
      else g.members = g.members.filter((m) => m !== name);
    }
    // The user's Podman secrets live in its home (~/.local/share/containers/storage/secrets).
    if (args.includes('--remove')) {
      this.files.delete(name);
      this.podmanSecrets.delete(name);
    }
    // Like the real one, userdel drops the user's subordinate ranges.
    const others = (text: string | null) => (text === null ? null : text.split('\n').filter((l) => l !== '' && !l.startsWith(`${name}:`)).map((l) => `${l}\n`).join(''));
    this.subuid = others(this.subuid);
    this.subgid = others(this.subgid);
    this.units.delete(name);
    // Like the real one, userdel leaves logind's linger flag alone.
    return ok('', `userdel: ${name} mail spool (/var/mail/${name}) not found\n`);
  }

  // --- logind and the system manager --------------------------------------------------

  private loginctl([verb, name = '', ...rest]: string[]): Out {
    const u = this.passwd.get(name);
    if (!u) return fail(1, `Failed to look up user ${name}: No such process`);
    const tracked = this.linger.has(name) || this.managers.has(u.uid);
    switch (verb) {
      case 'enable-linger':
        this.linger.add(name);
        this.startManager(u);
        return ok();
      case 'disable-linger':
        // With no sessions left, logind stops the user's manager.
        if (this.linger.delete(name)) this.stopManager(u);
        return ok();
      case 'terminate-user':
        if (!tracked) return fail(1, `Could not terminate user: ${msg.notTracked(u.uid)}`);
        this.stopManager(u);
        return ok();
      default:
        return fail(1, `Unknown command verb '${verb ?? ''}'.`);
    }
  }

  // A fresh manager runs the generators and loads units, as a daemon-reload does. Units
  // wanted by default.target are not auto-started here: no flow under test relies on it.
  private startManager(u: PasswdEntry): void {
    if (this.managers.has(u.uid)) return;
    this.managers.add(u.uid);
    this.reload(u);
  }

  private stopManager(u: PasswdEntry): void {
    this.managers.delete(u.uid);
    this.podmanNamespaces.delete(u.uid);
    for (const unit of this.units.get(u.name)?.values() ?? []) Object.assign(unit, { activeState: 'inactive', subState: 'dead' });
  }

  private systemScope([verb, unit = '', ...more]: string[]): Out {
    if (verb === 'is-active' && more.length > 0) {
      // One state per unit, in order; exit 0 only when every one is active.
      const states = [unit, ...more].map((u) => {
        const managed = Number(/^user@(\d+)\.service$/.exec(u)?.[1] ?? NaN);
        return !Number.isNaN(managed) && this.managers.has(managed) ? 'active' : 'inactive';
      });
      return { exitCode: states.every((st) => st === 'active') ? 0 : 3, stdout: `${states.join('\n')}\n` };
    }
    const sliceUid = Number(/^user-(\d+)\.slice$/.exec(unit)?.[1] ?? NaN);
    if (!Number.isNaN(sliceUid)) return this.sliceScope(verb ?? '', sliceUid, unit);
    const uid = Number(/^user@(\d+)\.service$/.exec(unit)?.[1] ?? NaN);
    if (Number.isNaN(uid)) return fail(1, `fake systemctl: only user@UID.service is simulated, not ${unit}`);
    const u = [...this.passwd.values()].find((e) => e.uid === uid);
    switch (verb) {
      case 'start':
        if (!u) return fail(1, msg.jobFailed(unit, ''));
        this.startManager(u);
        return ok();
      case 'stop':
        if (u) this.stopManager(u);
        else this.managers.delete(uid);
        return ok();
      case 'is-active':
        return this.managers.has(uid) ? ok('active\n') : { exitCode: 3, stdout: 'inactive\n' };
      default:
        return fail(1, `fake systemctl: unsupported verb ${verb ?? ''}`);
    }
  }

  private sliceScope(verb: string, uid: number, unit: string): Out {
    if (verb !== 'stop') return fail(1, `fake systemctl: unsupported verb ${verb} for ${unit}`);
    const inSlice = [...this.processes.entries()].filter(([, p]) => p.inSlice && p.ruid === uid);
    if (!this.managers.has(uid) && inSlice.length === 0) return fail(5, `Failed to stop ${unit}: Unit ${unit} not loaded.`);
    const u = [...this.passwd.values()].find((e) => e.uid === uid);
    if (u) this.stopManager(u);
    else this.managers.delete(uid);
    for (const [pid] of inSlice) this.processes.delete(pid);
    return ok();
  }

  // --- processes ---------------------------------------------------------------------

  // Only `ps -e -o pid= -o ruid= -o euid= -o suid=`; a user manager is a process of its uid.
  private ps(args: string[]): Out {
    if (args.join(' ') !== '-e -o pid= -o ruid= -o euid= -o suid=') return fail(1, `fake ps: unsupported ${args.join(' ')}`);
    const rows: string[] = ['    1     0     0     0'];
    for (const uid of this.managers) rows.push(`${4000 + uid} ${uid} ${uid} ${uid}`);
    for (const [pid, p] of this.processes) rows.push(`${String(pid).padStart(5)} ${p.ruid} ${p.euid} ${p.suid}`);
    return ok(lines(rows));
  }

  private kill(args: string[]): Out {
    if (args[0] !== '-s' || args[1] !== 'KILL' || args[2] !== '--') return fail(1, `fake kill: unsupported ${args.join(' ')}`);
    const errors: string[] = [];
    for (const pid of args.slice(3).map(Number)) {
      const manager = [...this.managers].find((uid) => 4000 + uid === pid);
      if (pid === 1) return fail(1, 'fake kill: refusing to kill pid 1');
      if (manager !== undefined) {
        const u = [...this.passwd.values()].find((e) => e.uid === manager);
        if (u) this.stopManager(u);
        else this.managers.delete(manager);
      } else if (!this.processes.delete(pid)) errors.push(`kill: (${pid}) - No such process`);
    }
    return errors.length ? fail(1, errors.join('\n')) : ok();
  }

  // --- find and tar -------------------------------------------------------------------

  // find -P ROOT [global options] EXPR (-delete | -print), over hostFiles, with the tests
  // moor uses: -uid N/+N/-N, -path, -name (* only), -type f, -mindepth, -maxdepth, ( ) -o.
  private find(args: string[]): Out {
    if (args[0] !== '-P') return fail(1, 'fake find: moor always passes -P');
    const root = args[1] ?? '';
    if (!this.hostDirs.has(root)) return fail(1, `find: '${root}': No such file or directory`);
    const action = args[args.length - 1];
    if (action !== '-delete' && action !== '-print') return fail(1, `fake find: unsupported action ${action ?? ''}`);
    let rest = args.slice(2, -1);
    let minDepth = 0;
    let maxDepth = Infinity;
    for (;;) {
      if (rest[0] === '-xdev' || rest[0] === '-ignore_readdir_race') rest = rest.slice(1);
      else if (rest[0] === '-mindepth') (minDepth = Number(rest[1])), (rest = rest.slice(2));
      else if (rest[0] === '-maxdepth') (maxDepth = Number(rest[1])), (rest = rest.slice(2));
      else break;
    }
    const matches = (path: string, f: FakeHostFile) => evalFind(rest, { path, file: f });
    const found = [...this.hostFiles.entries()]
      .filter(([p]) => p.startsWith(`${root}/`))
      .filter(([p]) => {
        const depth = p.slice(root.length + 1).split('/').length;
        return depth >= minDepth && depth <= maxDepth;
      })
      .filter(([p, f]) => matches(p, f))
      .map(([p]) => p)
      .sort((a, b) => b.length - a.length); // -depth: contents before their directory
    if (action === '-print') return ok(lines(found));
    const errors: string[] = [];
    for (const p of found) {
      if (this.hostFiles.get(p)?.dir && [...this.hostFiles.keys()].some((q) => q.startsWith(`${p}/`))) errors.push(`find: cannot delete '${p}': Directory not empty`);
      else this.hostFiles.delete(p);
    }
    return errors.length ? fail(1, errors.join('\n')) : ok();
  }

  // Only `tar --create ... --file=F --directory=HOME .`: the archive holds the home's files
  // (as JSON) and the first line of each map.
  private tarCreate(args: string[]): Out {
    if (args[0] !== '--create' || args[args.length - 1] !== '.') return fail(2, `fake tar: unsupported ${args.join(' ')}`);
    const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? '';
    if (!args.includes('--numeric-owner')) return fail(2, 'fake tar: moor archives with --numeric-owner');
    const home = value('directory');
    const user = [...this.passwd.values()].find((u) => u.home === home);
    if (!user) return fail(2, `tar: ${home}: Cannot open: No such file or directory`);
    if (this.archiveFailure !== undefined) return fail(2, `tar: ${value('file')}: Cannot write: ${this.archiveFailure}`);
    const ownerMap = readFileSync(value('owner-map'), 'utf8');
    const files = Object.fromEntries(this.userFiles(user.name));
    writeFileSync(value('file'), JSON.stringify({ home, ownerMap: ownerMap.split('\n').slice(0, 2), files }));
    return ok();
  }

  // --- as the workload user -----------------------------------------------------------

  // Only the form moor uses: `systemd-run --scope ... --slice=user-UID.slice --uid=USER
  // --setenv=K=V... -- CMD`, started with a clean environment.
  private systemdRun(args: string[], options: RunOptions): Out {
    const dashes = args.indexOf('--');
    const flags = dashes < 0 ? args : args.slice(0, dashes);
    const cmd = dashes < 0 ? [] : args.slice(dashes + 1);
    const value = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
    const name = value('uid') ?? '';
    if (!flags.includes('--scope') || dashes < 0) return fail(1, 'fake: systemd-run is known only as "--scope ... -- CMD"');
    if (options.env?.PATH === undefined || Object.keys(options.env).some((k) => !['PATH', 'LANG'].includes(k))) {
      return fail(1, `fake: systemd-run started with root's environment: ${Object.keys(options.env ?? process.env).join(',')}`);
    }
    const u = this.passwd.get(name);
    if (!u) return fail(1, `Failed to resolve user ${name}: No such process`);
    if (cmd[cmd.length - 1] === '__write-files') return this.writeFiles(u, typeof options.input === 'string' ? options.input : '');
    const env = new Map(flags.filter((f) => f.startsWith('--setenv=')).map((f) => f.slice('--setenv='.length).split('=', 2) as [string, string]));
    const runtimeDir = env.get('XDG_RUNTIME_DIR');
    if (runtimeDir === undefined) return fail(127, `fake: unexpected command as ${name}: ${cmd.join(' ')}`);
    const [tool, ...rest] = cmd;
    if (tool?.endsWith('/podman-user-generator') && !this.quadletGenerator) return fail(127, `env: '${tool}': No such file or directory`);
    if (tool?.endsWith('/podman-user-generator') && rest[0] === '-dryrun') return this.generatorDryRun(u);
    if (tool === 'podman' && this.podman === 'missing') return fail(1, 'Failed to find executable podman: No such file or directory');
    if (tool === 'podman' && rest.join(' ') === 'unshare /bin/true') return this.podmanUnshare(u);
    if (tool === 'podman' && rest[0] === 'unshare' && rest[1] === 'tar') return this.tarExtract(u, rest.slice(2), options);
    if (tool === 'podman' && rest[0] === 'load' && rest.length === 1) return this.podmanLoad(u, options);
    if (tool === 'podman' && rest[0] === 'secret') return this.podmanSecret(u, rest.slice(1), options, false);
    // `sh -c 'cat | podman secret create ... "$1" -' sh NAME`: podman's stdin is then a pipe.
    if (tool === 'sh' && rest[0] === '-c' && rest[1] === 'cat | podman secret create --replace "$1" -' && rest[2] === 'sh' && rest.length === 4) {
      return this.podmanSecret(u, ['create', '--replace', rest[3]!, '-'], options, true);
    }
    if (tool === 'rm' && rest[0] === '-f' && rest[1] === '--') return this.removeAsUser(u, rest.slice(2));
    if (tool !== 'systemctl') return fail(127, `env: '${tool ?? ''}': No such file or directory`);
    if (rest[0] !== '--user') return fail(1, `fake: ${tool} as ${name} without --user`);
    if (runtimeDir !== `/run/user/${u.uid}`) return fail(1, 'Failed to connect to user scope bus via local transport: Permission denied');
    if (!this.managers.has(u.uid)) return fail(1, 'Failed to connect to user scope bus via local transport: No such file or directory');
    return this.userScope(u, rest.slice(1));
  }

  // As ExecaRunner reports a program that does not exist: exit 127, spawn ENOENT.
  private podmanVersion(): Out {
    if (this.podman === 'missing') return { exitCode: 127, stderr: 'spawn podman ENOENT' };
    if (this.podman !== 'installed') return { exitCode: 125, stderr: this.podman.failing };
    return ok('podman version 5.4.2\n');
  }

  // `podman unshare /bin/true`: the user's namespace and pause process exist afterwards.
  // Podman moves the pause process into a scope of the user's manager over the user bus;
  // without a manager it would stay in the caller's scope, which the fake does not model.
  private podmanUnshare(u: PasswdEntry): Out {
    if (!this.managers.has(u.uid)) return fail(1, 'fake: podman unshare before the user manager runs');
    this.podmanNamespaces.add(u.uid);
    return ok();
  }

  // `rm -f -- PATH...` as the user: only paths in its own home.
  private removeAsUser(u: PasswdEntry, paths: string[]): Out {
    const files = this.files.get(u.name) ?? new Map<string, FakeFile>();
    for (const path of paths) {
      if (!path.startsWith(`${u.home}/`)) return fail(1, `rm: cannot remove '${path}': Permission denied`);
      files.delete(path.slice(u.home.length + 1));
    }
    return ok();
  }

  // `podman load`, the archive on stdin. A fake archive is a file of image names, one a
  // line; anything else is "not an archive", as podman says of a file it cannot read.
  private podmanLoad(u: PasswdEntry, options: RunOptions): Out {
    if (options.inputFile === undefined) return fail(125, 'Error: cannot read from terminal, use command-line redirection or the --input flag');
    const names = readFileSync(options.inputFile, 'utf8').split('\n').filter(Boolean);
    if (names.length === 0 || names.some((n) => !/^[a-z0-9./:_-]+$/.test(n))) return fail(125, 'Error: payload does not match any of the supported image formats');
    const loaded = this.images.get(u.name) ?? new Set<string>();
    for (const n of names) loaded.add(n);
    this.images.set(u.name, loaded);
    return ok(names.map((n) => `Loaded image: ${n}\n`).join(''));
  }

  // `podman secret create [--replace] NAME -` (the value on stdin, which must be a pipe)
  // and `podman secret rm NAME`, with podman's own answers to a name in use or unknown.
  private podmanSecret(u: PasswdEntry, args: string[], options: RunOptions, piped: boolean): Out {
    const store = this.podmanSecrets.get(u.name) ?? new Map<string, Buffer>();
    this.podmanSecrets.set(u.name, store);
    const [verb, ...rest] = args;
    const names = rest.filter((a) => !a.startsWith('-'));
    if (verb === 'create') {
      const name = names[0] ?? '';
      if (names.length !== 1 || rest[rest.length - 1] !== '-') return fail(125, `fake podman: secret create is known only as "create [--replace] NAME -": ${args.join(' ')}`);
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) return fail(125, `Error: secret name "${name}" is not valid`);
      if (store.has(name) && !rest.includes('--replace')) return fail(125, `Error: ${name}: secret name in use`);
      // Podman reads "-" only from a FIFO; a child of Node has a socket as its stdin.
      if (!piped) return fail(125, 'Error: if `-` is used, data must be passed into stdin');
      if (options.input === undefined || options.input.length === 0) return fail(125, 'Error: secret data must be larger than 0 and less than 512000 bytes');
      store.set(name, Buffer.from(options.input));
      return ok(`${'ab12'.repeat(6)}\n`);
    }
    if (verb === 'rm' && names.length === 1) {
      if (!store.delete(names[0]!)) return fail(125, `Error: no secret with name or id "${names[0]}": no such secret`);
      return ok(`${'ab12'.repeat(6)}\n`);
    }
    return fail(125, `fake podman: unsupported secret command: ${args.join(' ')}`);
  }

  // `podman unshare tar --extract ... --file=- --directory=HOME`, the archive on stdin.
  private tarExtract(u: PasswdEntry, args: string[], options: RunOptions): Out {
    if (args[0] !== '--extract' || !args.includes('--file=-') || !args.includes('--numeric-owner')) return fail(2, `fake tar: unsupported ${args.join(' ')}`);
    if (options.inputFile === undefined) return fail(2, 'tar: Refusing to read archive contents from terminal (missing -f option?)');
    if (!args.includes(`--directory=${u.home}`)) return fail(2, `fake tar: extracting as ${u.name} outside its home`);
    const archive = JSON.parse(readFileSync(options.inputFile, 'utf8')) as { files: Record<string, FakeFile> };
    const files = this.files.get(u.name) ?? new Map<string, FakeFile>();
    for (const [path, f] of Object.entries(archive.files)) files.set(path, f);
    this.files.set(u.name, files);
    return ok();
  }

  private writeFiles(u: PasswdEntry, input: string): Out {
    const result: WriteFilesResult = { ok: false, written: [], unchanged: [], removed: [] };
    try {
      const payload = parseWriteFilesPayload(input);
      if (payload.uid !== undefined && payload.uid !== u.uid) throw new Error(`running as uid ${u.uid}, payload is for uid ${payload.uid}`);
      if (payload.home !== undefined && payload.home !== u.home) throw new Error(`home is ${u.home}, payload is for ${payload.home}`);
      const files = this.files.get(u.name) ?? new Map<string, FakeFile>();
      this.files.set(u.name, files);
      const full = (p: string) => [...baseComponents(payload.base), p].join('/');
      for (const f of payload.files) {
        const old = files.get(full(f.path));
        if (old && old.content === f.content && old.mode === f.mode) {
          result.unchanged.push(f.path);
        } else {
          files.set(full(f.path), { content: f.content, mode: f.mode });
          result.written.push(f.path);
        }
      }
      for (const r of payload.remove) if (files.delete(full(r))) result.removed.push(r);
      result.ok = true;
    } catch (e) {
      result.error = (e as Error).message;
    }
    return { exitCode: result.ok ? 0 : 1, stdout: `${JSON.stringify(result)}\n` };
  }

  /** Questions the fake user bus (`userBus()`) answered. */
  busQuestions = 0;

  /**
   * The real host's D-Bus reader (host/user-bus.ts), answered from the same units as
   * `systemctl --user show`: the same blocks, through the same parser. Like the real one it
   * fails (and the caller asks systemctl) when the user's manager does not run.
   */
  userBus(): UnitStateReader {
    return {
      show: async (uid, units, props) => {
        const u = [...this.passwd.values()].find((e) => e.uid === uid);
        if (!u || !this.managers.has(uid)) throw new Error(`no user manager of uid ${uid} answers`);
        this.busQuestions++;
        return parseUnitStatuses(units, units.map((n) => this.showBlock(u, n, [...props])).join('\n'));
      },
    };
  }

  private userScope(u: PasswdEntry, [verb = '', ...args]: string[]): Out {
    const names = args.filter((a, i) => !a.startsWith('-') && args[i - 1] !== '-p');
    switch (verb) {
      case 'daemon-reload':
        this.reload(u);
        return ok();
      case 'start':
      case 'restart':
        return this.startUnits(u, verb, names);
      case 'stop':
        return this.stopUnits(u, names);
      case 'enable':
      case 'disable':
        return this.enableUnits(u, verb, names, args.includes('--now'));
      case 'show':
        return ok(names.map((n) => this.showBlock(u, n, (args[args.indexOf('-p') + 1] ?? '').split(','))).join('\n'));
      case 'cat':
        return this.cat(u, names);
      default:
        return fail(1, `Unknown command verb '${verb}'.`);
    }
  }

  private unitsOf(u: PasswdEntry): Map<string, FakeUnit> {
    const units = this.units.get(u.name) ?? new Map<string, FakeUnit>();
    this.units.set(u.name, units);
    return units;
  }

  /** What daemon-reload does: run the generator over the Quadlet dir and load plain units. */
  private reload(u: PasswdEntry): void {
    const sources = new Map<string, boolean>(); // unit → generated
    const paths = new Map<string, string>(); // unit → the file it is loaded from
    for (const path of this.userFiles(u.name).keys()) {
      const file = baseName(path);
      const generated = path.startsWith(QUADLET_DIR) && this.quadletGenerator ? quadletUnit(file) : undefined;
      if (generated && this.rejection(u, path) === undefined) sources.set(generated, true);
      if (generated) paths.set(generated, path);
      if (path.startsWith(UNIT_DIR) && path.lastIndexOf('/') === UNIT_DIR.length - 1 && PLAIN_UNIT.test(file)) {
        sources.set(file, false);
        paths.set(file, path);
      }
    }
    const units = this.unitsOf(u);
    for (const [name, unit] of units) {
      this.loadedFrom.delete(`${u.name}/${name}`);
      if (sources.has(name)) continue;
      // A running unit whose file is gone stays, as not-found, until it stops.
      if (unit.activeState === 'inactive' || unit.activeState === 'failed') units.delete(name);
      else Object.assign(unit, { loadState: 'not-found', unitFileState: '' });
    }
    for (const [name, generated] of sources) {
      const fileState = generated
        ? 'generated'
        : this.enabled.has(`${u.name}/${name}`)
          ? 'enabled'
          : this.hasInstall(u, name)
            ? 'disabled'
            : 'static';
      const fresh: FakeUnit = {
        loadState: 'loaded',
        activeState: 'inactive',
        subState: 'dead',
        result: 'success',
        invocationId: '',
        unitFileState: '',
        generated,
      };
      units.set(name, Object.assign(units.get(name) ?? fresh, { loadState: 'loaded', unitFileState: fileState, generated }));
      const path = paths.get(name)!;
      this.loadedFrom.set(`${u.name}/${name}`, { path, content: this.userFiles(u.name).get(path)?.content ?? '' });
    }
  }

  /**
   * systemd's NeedDaemonReload: the unit's file (for a Quadlet unit its SourcePath=, the
   * .container file) was deleted or changed since the unit was loaded.
   */
  private needsReload(u: PasswdEntry, name: string): boolean {
    const loaded = this.loadedFrom.get(`${u.name}/${name}`);
    if (!loaded) return false;
    return this.userFiles(u.name).get(loaded.path)?.content !== loaded.content;
  }

  private startUnits(u: PasswdEntry, verb: 'start' | 'restart', names: string[]): Out {
    const errors: string[] = [];
    let exitCode = 0;
    for (const n of names) {
      const unit = this.unit(u.name, n);
      if (!unit || unit.loadState !== 'loaded') {
        errors.push(`Failed to ${verb} ${n}: Unit ${n} not found.`);
        exitCode = 5;
      } else if (verb === 'restart' || unit.activeState !== 'active') {
        if (unit.generated && !this.podmanNamespaces.has(u.uid)) this.startsWithoutNamespace.push(`${u.name}/${n}`);
        if (!this.activate(u, n, unit)) {
          errors.push(msg.jobFailed(n, ' --user'));
          exitCode ||= 1;
        }
      }
    }
    return { exitCode, stderr: lines(errors) };
  }

  private stopUnits(u: PasswdEntry, names: string[]): Out {
    const missing = names.filter((n) => !this.unit(u.name, n));
    for (const n of names) Object.assign(this.unit(u.name, n) ?? {}, { activeState: 'inactive', subState: 'dead' });
    return missing.length ? fail(5, missing.map((n) => `Failed to stop ${n}: Unit ${n} not loaded.`).join('\n')) : ok();
  }

  private enableUnits(u: PasswdEntry, verb: 'enable' | 'disable', names: string[], now: boolean): Out {
    for (const n of names) {
      if (this.unit(u.name, n)?.generated) {
        return fail(1, `Failed to ${verb} unit: Unit /run/user/${u.uid}/systemd/generator/${n} is transient or generated.`);
      }
      if (!this.userFiles(u.name).has(`${UNIT_DIR}${n}`)) return fail(1, `Failed to ${verb} unit: Unit file ${n} does not exist.`);
    }
    const notes: string[] = [];
    for (const n of names) {
      const key = `${u.name}/${n}`;
      if (!this.hasInstall(u, n)) {
        if (verb === 'enable') notes.push(msg.noInstall);
        continue;
      }
      if (verb === 'enable' && !this.enabled.has(key)) {
        const content = this.userFiles(u.name).get(`${UNIT_DIR}${n}`)?.content ?? '';
        const target = /^WantedBy=\s*(\S+)/m.exec(content)?.[1] ?? 'default.target';
        notes.push(`Created symlink '${u.home}/${UNIT_DIR}${target}.wants/${n}' → '${u.home}/${UNIT_DIR}${n}'.`);
      }
      if (verb === 'enable') this.enabled.add(key);
      else this.enabled.delete(key);
      const unit = this.unit(u.name, n);
      if (unit) unit.unitFileState = verb === 'enable' ? 'enabled' : 'disabled';
    }
    if (now) return verb === 'enable' ? this.startUnits(u, 'start', names) : this.stopUnits(u, names);
    return ok('', lines(notes));
  }

  private showBlock(u: PasswdEntry, name: string, props: string[]): string {
    const unit = this.unit(u.name, name);
    const values: Record<string, string> = {
      Result: unit?.result ?? 'success',
      Id: name,
      LoadState: unit?.loadState ?? 'not-found',
      ActiveState: unit?.activeState ?? 'inactive',
      SubState: unit?.subState ?? 'dead',
      UnitFileState: unit?.unitFileState ?? '',
      NeedDaemonReload: unit && this.needsReload(u, name) ? 'yes' : 'no',
      InvocationID: unit?.invocationId ?? '',
      ExecMainCode: unit?.execMainCode ?? '0',
      ExecMainStatus: unit?.execMainStatus ?? '0',
    };
    // Targets have no Result property at all.
    const shown = SHOW_ORDER.filter((p) => props.includes(p) && !(['Result', 'ExecMainCode', 'ExecMainStatus'].includes(p) && !name.endsWith('.service')));
    return lines(shown.map((p) => `${p}=${values[p] ?? ''}`));
  }

  private hasInstall(u: PasswdEntry, unit: string): boolean {
    return /^\[Install\]/m.test(this.userFiles(u.name).get(`${UNIT_DIR}${unit}`)?.content ?? '');
  }

  /** Starts a loaded unit with a new invocation; false when it is configured to fail. */
  private activate(u: PasswdEntry, name: string, unit: FakeUnit): boolean {
    unit.invocationId = (++this.invocations).toString(16).padStart(32, '0');
    const key = `${u.name}/${name}`;
    const marker = this.failingWith.get(key);
    const failing = this.failing.has(key) || (marker !== undefined && this.loadedFrom.get(key)?.content.includes(marker) === true);
    const end = failing ? (this.failExit.get(key) ?? { code: 'exited' as const, status: 1 }) : undefined;
    this.logRun(u, name, unit, end);
    if (end) {
      Object.assign(unit, {
        activeState: 'failed',
        subState: 'failed',
        result: end.code === 'killed' ? 'signal' : 'exit-code',
        execMainCode: end.code === 'killed' ? '2' : '1',
        execMainStatus: String(end.status),
      });
      return false;
    }
    // Quadlet's volume/network/image/build units are oneshots that remain after exit.
    let subState = 'active';
    if (name.endsWith('.timer')) subState = 'waiting';
    else if (/-(volume|network|image|build)\.service$/.test(name)) subState = 'exited';
    else if (name.endsWith('.service')) subState = 'running';
    Object.assign(unit, { activeState: 'active', subState, result: 'success' });
    return true;
  }

  /**
   * The entries one run of a unit leaves, as systemd 257 and Podman 5.4 write them (the
   * fields moor reads): the manager's own lines come from its init.scope with USER_UNIT=;
   * Podman's events, conmon's warnings and the container's output from the unit's cgroup.
   */
  private logRun(u: PasswdEntry, name: string, unit: FakeUnit, end: { code: 'exited' | 'killed'; status: number } | undefined): void {
    const uid = String(u.uid);
    const inv = unit.invocationId;
    const manager = (message: string, priority = '6') =>
      this.logEntry({ _UID: uid, _SYSTEMD_USER_UNIT: 'init.scope', USER_UNIT: name, USER_INVOCATION_ID: inv, SYSLOG_IDENTIFIER: 'systemd', _COMM: 'systemd', _TRANSPORT: 'journal', PRIORITY: priority, MESSAGE: message });
    const own = (fields: FakeJournalEntry) => this.logEntry({ _UID: uid, _SYSTEMD_USER_UNIT: name, _SYSTEMD_INVOCATION_ID: inv, ...fields });
    const output = this.unitOutput.get(`${u.name}/${name}`) ?? [];
    const container = `systemd-${name.replace(/\.service$/, '')}`;
    manager(`Starting ${name}...`);
    if (unit.generated) {
      own({ SYSLOG_IDENTIFIER: 'podman', _COMM: 'podman', _TRANSPORT: 'journal', PODMAN_EVENT: 'create', PRIORITY: '6', MESSAGE: `container create 0123 (name=${container})` });
      own({ SYSLOG_IDENTIFIER: 'conmon', _COMM: 'conmon', _TRANSPORT: 'syslog', PRIORITY: '6', MESSAGE: 'conmon 0123456789abcdef0123 <nwarn>: Failed to open cgroups file: /sys/fs/cgroup/memory.events' });
      own({ SYSLOG_IDENTIFIER: name.replace(/\.service$/, ''), _COMM: 'podman', _TRANSPORT: 'stdout', PRIORITY: '6', MESSAGE: '0123456789abcdef'.repeat(4) });
      for (const line of output) own({ SYSLOG_IDENTIFIER: container, CONTAINER_NAME: container, _COMM: 'conmon', _TRANSPORT: 'journal', PRIORITY: '3', MESSAGE: `${line}\n` });
    } else {
      for (const line of output) own({ SYSLOG_IDENTIFIER: 'sh', _COMM: 'sh', _TRANSPORT: 'stdout', PRIORITY: '6', MESSAGE: line });
    }
    manager(`Started ${name}.`);
    if (!end) return;
    if (unit.generated) own({ SYSLOG_IDENTIFIER: 'podman', _COMM: 'podman', _TRANSPORT: 'journal', PODMAN_EVENT: 'died', PRIORITY: '6', MESSAGE: `container died 0123 (name=${container})` });
    manager(end.code === 'killed' ? `${name}: Main process exited, code=killed, status=${end.status}` : `${name}: Main process exited, code=exited, status=${end.status}`, '5');
    manager(`${name}: Killing process 4242 (podman pause) with signal SIGKILL.`, '5');
    manager(`${name}: Failed with result '${end.code === 'killed' ? 'signal' : 'exit-code'}'.`, '4');
  }

  private logEntry(fields: FakeJournalEntry): void {
    const seq = this.journal.length + 1;
    this.journal.push({ __CURSOR: `s=fake;i=${seq.toString(16)}`, __REALTIME_TIMESTAMP: String(1_800_000_000_000_000 + seq * 1000), ...fields });
  }

  /**
   * Root's `journalctl`, in the forms moor uses: -o json (--output=json) with
   * --output-fields=, -n/--lines=, --after-cursor=, --no-pager, --quiet, and FIELD=VALUE
   * matches (one field's matches ORed, different fields ANDed). No --follow: a fake
   * command returns at once.
   */
  private journalctl(args: string[]): Out {
    let lines: number | undefined;
    let after: string | undefined;
    let fields: string[] | undefined;
    const matches = new Map<string, string[]>();
    for (const a of args) {
      if (a === '--no-pager' || a === '--quiet' || a === '--output=json') continue;
      if (a.startsWith('--lines=')) lines = Number(a.slice('--lines='.length));
      else if (a.startsWith('--after-cursor=')) after = a.slice('--after-cursor='.length);
      else if (a.startsWith('--output-fields=')) fields = a.slice('--output-fields='.length).split(',');
      else if (/^[A-Z_][A-Z0-9_]*=/.test(a)) {
        const eq = a.indexOf('=');
        matches.set(a.slice(0, eq), [...(matches.get(a.slice(0, eq)) ?? []), a.slice(eq + 1)]);
      } else return fail(1, `fake journalctl: unsupported argument ${a}`);
    }
    if (!args.includes('--output=json')) return fail(1, 'fake journalctl: only --output=json is simulated');
    let found = this.journal.filter((e) => [...matches].every(([k, vs]) => e[k] !== undefined && vs.includes(e[k]!)));
    if (after !== undefined) {
      const at = found.findIndex((e) => e.__CURSOR === after);
      found = at < 0 ? [] : found.slice(at + 1);
    } else if (lines !== undefined) found = lines === 0 ? [] : found.slice(-lines);
    const shown = found.map((e) => (fields ? Object.fromEntries(Object.entries(e).filter(([k]) => k.startsWith('__') || fields!.includes(k))) : e));
    return ok(shown.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  /**
   * `systemctl --user cat`: a plain unit's file; for a Quadlet unit, the generator's
   * output, derived from the written file for the keys simulated here (any other key of
   * the Quadlet section is an error, so a test never relies on a guess).
   */
  private cat(u: PasswdEntry, names: string[]): Out {
    const out: string[] = [];
    for (const n of names) {
      const unit = this.unit(u.name, n);
      const from = this.loadedFrom.get(`${u.name}/${n}`);
      if (!unit || unit.loadState !== 'loaded' || !from) return fail(1, `No files found for ${n}.`);
      const content = this.userFiles(u.name).get(from.path)?.content ?? '';
      if (!unit.generated) {
        out.push(`# ${u.home}/${from.path}\n${content}`);
        continue;
      }
      const generated = quadletOutput(baseName(from.path), content, (ref) => this.userFiles(u.name).get(`${QUADLET_DIR}${ref}`)?.content, `${u.home}/${QUADLET_DIR}`);
      if ('error' in generated) return fail(1, `fake quadlet: ${generated.error}`);
      out.push(`# /run/user/${u.uid}/systemd/generator/${n}\n# Automatically generated by quadlet-generator\n${generated.text}`);
    }
    return ok(out.join('\n'));
  }

  private generatorDryRun(u: PasswdEntry): Out {
    const errors: string[] = [];
    let stdout = '';
    for (const path of this.userFiles(u.name).keys()) {
      const file = baseName(path);
      const unit = quadletUnit(file);
      if (!path.startsWith(QUADLET_DIR) || !unit) continue;
      const message = this.rejection(u, path);
      if (message !== undefined) errors.push(`quadlet-generator[${2000 + u.uid}]: converting "${file}": ${message}`);
      else stdout += `---${unit}---\n# Automatically generated by quadlet-generator\n`;
    }
    return { exitCode: errors.length ? 1 : 0, stdout, stderr: lines(errors) };
  }
}

// --- find's expression, for the forms moor emits ---------------------------------------

interface FindSubject {
  path: string;
  file: FakeHostFile;
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return re.test(text);
}

/** Evaluates find's expression: OR of ANDs of primaries and parenthesised groups. */
function evalFind(tokens: string[], s: FindSubject): boolean {
  let i = 0;
  const or = (): boolean => {
    let value = and();
    while (tokens[i] === '-o') {
      i++;
      const right = and();
      value = value || right;
    }
    return value;
  };
  const and = (): boolean => {
    let value = primary();
    while (i < tokens.length && tokens[i] !== '-o' && tokens[i] !== ')') {
      const right = primary();
      value = value && right;
    }
    return value;
  };
  const primary = (): boolean => {
    const t = tokens[i++];
    if (t === '(') {
      const v = or();
      if (tokens[i++] !== ')') throw new Error('fake find: unbalanced parentheses');
      return v;
    }
    const arg = tokens[i++] ?? '';
    switch (t) {
      case '-uid': {
        const n = Number(arg.replace(/^[+-]/, ''));
        if (arg.startsWith('+')) return s.file.uid > n;
        if (arg.startsWith('-')) return s.file.uid < n;
        return s.file.uid === n;
      }
      case '-path':
        return globMatch(arg, s.path);
      case '-name':
        return globMatch(arg, s.path.slice(s.path.lastIndexOf('/') + 1));
      case '-type':
        if (arg !== 'f') throw new Error(`fake find: -type ${arg}`);
        return !s.file.dir;
      default:
        throw new Error(`fake find: unsupported primary ${t ?? ''}`);
    }
  };
  const value = or();
  if (i !== tokens.length) throw new Error(`fake find: trailing tokens ${tokens.slice(i).join(' ')}`);
  return value;
}

// --- Quadlet's output, for systemctl --user cat --------------------------------------

const quote = (w: string) => (/[\s"'\\]/.test(w) ? `"${w.replace(/["\\]/g, '\\$&')}"` : w);

/** The keys of each Quadlet section this fake turns into podman options, as Quadlet does. */
const QUADLET_OPTIONS: Record<string, Record<string, (v: string) => string[]>> = {
  Container: {
    PublishPort: (v) => ['--publish', v],
    Volume: (v) => ['-v', v],
    Network: (v) => [`--network=${v.endsWith('.network') ? `systemd-${v.slice(0, -8)}` : v}`],
    Pull: (v) => [`--pull=${v}`],
    AddCapability: (v) => v.split(/\s+/).map((c) => `--cap-add=${c.toLowerCase()}`),
    AddDevice: (v) => [`--device=${v}`],
    Environment: (v) => ['--env', v],
    EnvironmentFile: (v) => [`--env-file=${v}`],
    Label: (v) => ['--label', v],
    LogDriver: (v) => [`--log-driver=${v}`],
    Pod: (v) => [`--pod-id-file=%t/${v.replace(/\.pod$/, '')}-pod.pod-id`],
  },
  Pod: { PublishPort: (v) => ['--publish', v], Network: (v) => [`--network=${v}`] },
  Volume: { Device: (v) => ['--opt', `device=${v}`], Type: (v) => ['--opt', `type=${v}`], Options: (v) => ['--opt', `o=${v}`] },
  Network: {},
  Image: {},
  Kube: { PublishPort: (v) => ['--publish', v], Network: (v) => ['--network', v], UserNS: (v) => ['--userns', v] },
};
/** Keys placed elsewhere on the command line (PodmanArgs= is appended to the options). */
const PLACED: Record<string, string[]> = { Container: ['Image', 'Exec'], Image: ['Image'], Kube: ['Yaml'] };

function quadletOutput(file: string, content: string, sibling: (name: string) => string | undefined, dir: string): { text: string } | { error: string } {
  const dot = file.lastIndexOf('.');
  const stem = file.slice(0, dot);
  const ext = file.slice(dot + 1);
  const sectionName = ext.charAt(0).toUpperCase() + ext.slice(1);
  const table = QUADLET_OPTIONS[sectionName];
  if (!table) return { error: `converting "${file}": .${ext} is not simulated` };
  const unit = parseUnit(content).unit;
  const options: string[] = [];
  for (const section of unit.sections.filter((x) => x.name === sectionName)) {
    for (const e of section.items.filter(isEntry)) {
      if (e.key === 'PodmanArgs') options.push(e.value);
      else if (table[e.key]) options.push(...table[e.key]!(e.key === 'Volume' && e.value.startsWith('./') ? `${dir}${e.value.slice(2)}` : e.value).map(quote));
      else if (!PLACED[sectionName]?.includes(e.key)) return { error: `converting "${file}": key ${e.key} in [${sectionName}] is not simulated` };
    }
  }
  const value = (key: string) => entriesOf(unit, sectionName, key).at(-1)?.value;
  const kept = content.replace(new RegExp(`^\\[${sectionName}\\]`, 'm'), `[X-${sectionName}]`);
  const service: string[] = [];
  if (ext === 'container') {
    let image = value('Image') ?? '';
    if (image.endsWith('.image')) image = /^Image=(.*)$/m.exec(sibling(image) ?? '')?.[1] ?? image;
    const run = ['/usr/bin/podman', 'run', '--name=systemd-%N', '--cidfile=%t/%N.cid', '--replace', '--rm', '--cgroups=split', '--sdnotify=conmon', '-d', ...options, quote(image), ...(value('Exec') ? [value('Exec')!] : [])];
    service.push('Environment=PODMAN_SYSTEMD_UNIT=%n', 'KillMode=mixed', 'ExecStop=/usr/bin/podman rm -v -f -i --cidfile=%t/%N.cid', 'ExecStopPost=-/usr/bin/podman rm -v -f -i --cidfile=%t/%N.cid', 'Delegate=yes', 'Type=notify', 'NotifyAccess=all', `ExecStart=${run.join(' ')}`);
  } else if (ext === 'pod') {
    service.push(
      `ExecStartPre=/usr/bin/podman pod create --infra-conmon-pidfile=%t/%N.pid --pod-id-file=%t/%N.pod-id --exit-policy=stop --replace --infra-name=${stem}-infra ${options.join(' ')} systemd-${stem}`.replace(/ +/g, ' '),
      'ExecStart=/usr/bin/podman pod start --pod-id-file=%t/%N.pod-id',
      'ExecStop=/usr/bin/podman pod stop --pod-id-file=%t/%N.pod-id --ignore --time=10',
      'ExecStopPost=/usr/bin/podman pod rm --pod-id-file=%t/%N.pod-id --ignore --force',
      'Type=forking',
    );
  } else if (ext === 'kube') {
    // Quadlet makes a relative Yaml= absolute against the unit's directory; a specifier stays for systemd.
    const yaml = value('Yaml') ?? '';
    const path = /^[/%]/.test(yaml) ? yaml : `${dir}${yaml.replace(/^\.\//, '')}`;
    service.push('KillMode=mixed', 'Environment=PODMAN_SYSTEMD_UNIT=%n', 'Type=notify', 'NotifyAccess=all', `ExecStart=/usr/bin/podman kube play --replace --service-container=true ${options.join(' ')} ${path}`.replace(/ +/g, ' '), `ExecStopPost=/usr/bin/podman kube down ${path}`);
  } else if (ext === 'volume' || ext === 'network') {
    service.push('Type=oneshot', 'RemainAfterExit=yes', `ExecStart=/usr/bin/podman ${ext} create --ignore ${options.join(' ')} systemd-${stem}`.replace(/ +/g, ' '));
  } else {
    service.push('Type=oneshot', 'RemainAfterExit=yes', `ExecStart=/usr/bin/podman image pull ${options.join(' ')} ${quote(value('Image') ?? '')}`.replace(/ +/g, ' '));
  }
  return { text: `${kept}\n[Unit]\nSourcePath=${dir}${file}\n\n[Service]\n${service.join('\n')}\n` };
}
