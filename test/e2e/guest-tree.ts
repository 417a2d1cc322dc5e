// The cached Debian guest tree: built once per machine (debootstrap from the host's own
// Debian mirror), keyed by the package list and the guest-setup version, built in a
// temporary directory and renamed into place, so a killed build never leaves a tree that
// looks valid. An flock keeps two test processes from building at once.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUSYBOX_APPLETS,
  BUSYBOX_IMAGE,
  BUSYBOX_TAR,
  GUEST_FILES,
  GUEST_LINKS,
  GUEST_PACKAGES,
  GUEST_SETUP_VERSION,
  GUEST_SUITE,
  SHARED_IMAGE_STORE,
} from './guest-config';
import { describeProc, findBinary, holdFileLock, mountsBelow, mustRun, runProc } from './host-proc';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function cacheDir(): string {
  return process.env.MOOR_E2E_CACHE ?? join(REPO_ROOT, '.cache', 'e2e');
}

export interface TreeMeta {
  key: string;
  suite: string;
  packages: string[];
  setupVersion: number;
  mirror: string;
  builtAt: string;
  buildMs: number;
}

export interface GuestTree {
  /** The tree's directory: rootfs/ and tree.json. */
  dir: string;
  rootfs: string;
  meta: TreeMeta;
  /** True when this call built it (false: found in the cache). */
  built: boolean;
  /** Time this call spent, waiting for a lock and building included. */
  elapsedMs: number;
}

/** Raised when the machine cannot run the end-to-end guest: the suite must fail, never skip. */
export class GuestUnavailableError extends Error {
  override name = 'GuestUnavailableError';
}

export function treeKey(): string {
  const material = JSON.stringify({ suite: GUEST_SUITE, packages: [...GUEST_PACKAGES].sort(), version: GUEST_SETUP_VERSION, arch: arch() });
  return `${GUEST_SUITE}-${createHash('sha256').update(material).digest('hex').slice(0, 16)}`;
}

const HOST_BINARIES = ['systemd-nspawn', 'nsenter', 'flock', 'setpriv', 'tar', 'debootstrap', 'busybox'];

/** Every reason this machine cannot build or boot the guest (empty when it can). */
export function hostProblems(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push(`the end-to-end suite must run as root (uid is ${process.getuid?.()})`);
  for (const bin of HOST_BINARIES) {
    if (!findBinary(bin)) problems.push(`\`${bin}\` is not installed (Debian packages: systemd-container, debootstrap, busybox-static, util-linux, tar)`);
  }
  const busybox = findBinary('busybox');
  if (busybox && !isStaticElf(busybox)) problems.push(`${busybox} is dynamically linked: install Debian's busybox-static`);
  return problems;
}

export function assertHostCanRunGuests(): void {
  const problems = hostProblems();
  if (problems.length > 0) throw new GuestUnavailableError(`cannot run the systemd guest on this machine:\n  - ${problems.join('\n  - ')}`);
}

/** A static ELF has no PT_INTERP program header. */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false;
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * The Debian archive this machine already uses, read from its apt sources (deb822 .sources
 * or one-line .list files): the guest may reach no other server. MOOR_E2E_MIRROR overrides.
 */
export function debianMirror(): string {
  if (process.env.MOOR_E2E_MIRROR) return process.env.MOOR_E2E_MIRROR;
  const files: string[] = [];
  const listDir = '/etc/apt/sources.list.d';
  if (existsSync(listDir)) for (const f of readdirSync(listDir).sort()) files.push(join(listDir, f));
  files.push('/etc/apt/sources.list');
  const candidates: Array<{ uri: string; suites: string[] }> = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields = new Map<string, string>();
        for (const line of stanza.split('\n')) {
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
          if (m && !line.startsWith('#')) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
        }
        if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
        if ((fields.get('enabled') ?? 'yes') === 'no') continue;
        for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) {
          candidates.push({ uri, suites: (fields.get('suites') ?? '').split(/\s+/) });
        }
      }
    } else if (file.endsWith('.list') || file === '/etc/apt/sources.list') {
      for (const line of text.split('\n')) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
        if (m) candidates.push({ uri: m[1]!, suites: [m[2]!] });
      }
    }
  }
  // The main archive: a path ending in /debian, serving a plain suite (not -security etc.).
  const main = candidates.find((c) => /\/debian\/?$/.test(c.uri) && c.suites.some((s) => s !== '' && !s.includes('-') && !s.includes('/')));
  if (!main) {
    throw new GuestUnavailableError(`no Debian archive found in /etc/apt/sources.list.d or /etc/apt/sources.list (set MOOR_E2E_MIRROR to a Debian mirror URL)`);
  }
  return main.uri.replace(/\/$/, '');
}

function readMeta(dir: string): TreeMeta | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'tree.json'), 'utf8')) as TreeMeta;
  } catch {
    return undefined;
  }
}

/** Removes a directory that a killed build may have left with mounts inside (debootstrap mounts /proc, /sys). */
async function removeBuildDir(dir: string): Promise<void> {
  for (const mountPoint of mountsBelow(dir)) await runProc(['umount', '--lazy', mountPoint], { timeoutMs: 30_000 });
  await mustRun(['rm', '-rf', '--one-file-system', dir], { timeoutMs: 300_000 });
}

/** Trees of other keys, unless a running nspawn still uses one as its lower layer. */
async function pruneOldTrees(root: string, keep: string): Promise<void> {
  const ps = await runProc(['pgrep', '-a', '-f', 'systemd-nspawn'], { timeoutMs: 10_000 });
  for (const entry of readdirSync(root)) {
    const dir = join(root, entry);
    if (entry === keep || entry.startsWith('.') || !statSync(dir).isDirectory() || !readMeta(dir)) continue;
    if (ps.stdout.includes(dir)) continue;
    await removeBuildDir(dir);
  }
}

/** The cached guest tree, built first if this machine has none for the current key. */
export async function ensureGuestTree(log: (msg: string) => void = (m) => console.log(m)): Promise<GuestTree> {
  const started = Date.now();
  assertHostCanRunGuests();
  const root = cacheDir();
  mkdirSync(root, { recursive: true });
  const key = treeKey();
  const dir = join(root, key);
  const cached = readMeta(dir);
  if (cached) return { dir, rootfs: join(dir, 'rootfs'), meta: cached, built: false, elapsedMs: Date.now() - started };

  const lock = await holdFileLock(join(root, 'lock'), 60 * 60_000);
  try {
    // Another process may have built it while this one waited for the lock.
    const meanwhile = readMeta(dir);
    if (meanwhile) return { dir, rootfs: join(dir, 'rootfs'), meta: meanwhile, built: false, elapsedMs: Date.now() - started };
    // Under the lock every .build-* directory is a leftover of a killed build.
    for (const entry of readdirSync(root)) if (entry.startsWith('.build-')) await removeBuildDir(join(root, entry));
    const build = join(root, `.build-${key}-${process.pid}`);
    mkdirSync(build);
    const meta = await buildTree(build, key, log);
    renameSync(build, dir);
    await pruneOldTrees(root, key);
    log(`e2e: guest tree ${key} built in ${(meta.buildMs / 1000).toFixed(1)} s`);
    return { dir, rootfs: join(dir, 'rootfs'), meta, built: true, elapsedMs: Date.now() - started };
  } finally {
    await lock.release();
  }
}

async function buildTree(build: string, key: string, log: (msg: string) => void): Promise<TreeMeta> {
  const started = Date.now();
  const rootfs = join(build, 'rootfs');
  const mirror = debianMirror();
  log(`e2e: building the ${GUEST_SUITE} guest tree from ${mirror} (debootstrap, about a minute)`);
  const boot = await runProc(
    // setpriv: debootstrap dies with this process rather than write on into a dead build.
    ['setpriv', '--pdeathsig', 'KILL', '--', 'debootstrap', '--variant=minbase', `--include=${GUEST_PACKAGES.join(',')}`, '--components=main', GUEST_SUITE, rootfs, mirror],
    { timeoutMs: 45 * 60_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' } },
  );
  writeFileSync(join(build, 'debootstrap.log'), `${boot.stdout}\n${boot.stderr}`);
  if (boot.code !== 0 || boot.timedOut) {
    const inner = join(rootfs, 'debootstrap', 'debootstrap.log');
    const detail = existsSync(inner) ? `\n  debootstrap.log:\n    ${readFileSync(inner, 'utf8').trim().split('\n').slice(-20).join('\n    ')}` : '';
    throw new GuestUnavailableError(`building the guest tree failed: ${describeProc(boot)}${detail}`);
  }
  for (const [path, content] of Object.entries(GUEST_FILES)) {
    const target = join(rootfs, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content, { mode: 0o644 });
  }
  for (const [path, target] of Object.entries(GUEST_LINKS)) {
    const link = join(rootfs, path);
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(target, link);
  }
  await prepareBusyboxImage(build, rootfs, key);
  // The downloaded .debs are a fifth of the tree and never used again.
  await runProc(['find', join(rootfs, 'var/cache/apt/archives'), '-name', '*.deb', '-delete'], { timeoutMs: 60_000 });
  const meta: TreeMeta = {
    key,
    suite: GUEST_SUITE,
    packages: [...GUEST_PACKAGES],
    setupVersion: GUEST_SETUP_VERSION,
    mirror,
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - started,
  };
  writeFileSync(join(build, 'tree.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}

/**
 * A tar of the host's static busybox (kept in the guest for tests that import it), and
 * the same image imported once by root into a read-only store that every user's
 * storage.conf lists, so no workload user has to import anything.
 */
async function prepareBusyboxImage(build: string, rootfs: string, key: string): Promise<void> {
  const image = join(build, 'busybox-rootfs');
  mkdirSync(join(image, 'bin'), { recursive: true });
  await mustRun(['cp', findBinary('busybox')!, join(image, 'bin', 'busybox')], { timeoutMs: 10_000 });
  for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', join(image, 'bin', applet));
  for (const d of ['tmp', 'etc', 'proc', 'sys', 'dev', 'www']) mkdirSync(join(image, d), { recursive: true });
  writeFileSync(join(image, 'www', 'index.html'), 'moor e2e\n');
  const tar = join(rootfs, BUSYBOX_TAR);
  mkdirSync(dirname(tar), { recursive: true });
  await mustRun(['tar', '--numeric-owner', '--owner=0', '--group=0', '-C', image, '-cf', tar, '.'], { timeoutMs: 60_000 });
  rmSync(image, { recursive: true, force: true });

  const machine = `moor-e2e-build-${process.pid}`;
  const script = [
    'set -e',
    `mkdir -p -m 0755 ${SHARED_IMAGE_STORE}`,
    `podman --root ${SHARED_IMAGE_STORE} import --change CMD=/bin/sh ${BUSYBOX_TAR} ${BUSYBOX_IMAGE} >/dev/null`,
    `podman --root ${SHARED_IMAGE_STORE} image exists ${BUSYBOX_IMAGE}`,
    // Rootless readers need to see the layers; nothing in the store is secret.
    `chmod -R a+rX ${dirname(SHARED_IMAGE_STORE)}`,
  ].join('\n');
  try {
    await mustRun(
      [
        'setpriv',
        '--pdeathsig',
        'TERM',
        '--',
        'systemd-nspawn',
        '--quiet',
        `--directory=${rootfs}`,
        `--machine=${machine}`,
        '--register=no',
        '--keep-unit',
        '--resolv-conf=off',
        '--timezone=off',
        '--link-journal=no',
        '--setenv=PODMAN_IGNORE_CGROUPSV1_WARNING=1',
        '--',
        '/bin/sh',
        '-c',
        script,
      ],
      { timeoutMs: 5 * 60_000 },
    );
  } catch (e) {
    throw new GuestUnavailableError(`importing the busybox image in the guest tree ${key} failed: ${(e as Error).message}`);
  } finally {
    rmSync(`/run/systemd/nspawn/propagate/${machine}`, { recursive: true, force: true });
  }
}
