// What goes into the end-to-end guest: the Debian packages and the guest-only settings
// that make rootless Podman work inside systemd-nspawn on this kind of machine (a guest
// on the unified cgroup v2 hierarchy of a host whose controllers stay on cgroup v1, no
// container network). None of this is a moor default: real hosts need none of it.

/** Debian suite of the guest: systemd 257 and Podman 5.4 with the Quadlet generators. */
export const GUEST_SUITE = 'trixie';

export const GUEST_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'libpam-systemd',
  'podman',
  'uidmap',
  'passt',
  // The user bus (dbus.socket in every user manager): Podman only recommends it, and
  // without it rootless Podman falls back to the cgroupfs manager. Real hosts have it.
  'dbus-user-session',
  // A pod's infra container (`.pod`, `.kube`) runs Podman's pause image, which rootless
  // Podman builds locally from catatonit: Podman only recommends it. Real hosts have it.
  'catatonit',
  'git',
  // [trust]: git verifies SSH signatures with ssh-keygen and OpenPGP ones with gpg; Debian's
  // git only suggests them. A host that requires signed commits needs them too.
  'openssh-client',
  'gnupg',
  'ca-certificates',
  // pgrep, ps: diagnostics inside the guest.
  'procps',
] as const;

/**
 * Bump when anything the tree build writes changes: it is part of the cache key, so a
 * bump makes every machine rebuild its tree.
 */
export const GUEST_SETUP_VERSION = 7;

/** The local image every workload user can run, without a registry and without an import. */
export const BUSYBOX_IMAGE = 'localhost/busybox:latest';
/** The image's tar inside the guest, for tests that want `podman import` themselves. */
export const BUSYBOX_TAR = '/opt/moor-e2e/busybox.tar';
/** A read-only image store prepared by root at build time, listed in every user's storage.conf. */
export const SHARED_IMAGE_STORE = '/usr/lib/moor-e2e/images';
/** Busybox applets linked in the image's /bin. */
export const BUSYBOX_APPLETS = ['sh', 'ash', 'sleep', 'echo', 'cat', 'true', 'false', 'ls', 'env', 'httpd', 'wget', 'nc', 'date', 'id', 'printf', 'test', 'kill'];

/** Where the harness bind-mounts the host's node and the moor bundle. */
export const GUEST_NODE = '/usr/local/bin/node';
export const GUEST_MOOR = '/opt/moor/moor.mjs';

/** File path in the guest tree → content. Written once, into the cached tree. */
export const GUEST_FILES: Record<string, string> = {
  // nspawn's seccomp filter denies keyctl; /proc/sys is read-only in the container.
  // pids_limit: the guest's cgroup v2 hierarchy has no pids controller (the host keeps it
  // on cgroup v1), and crun refuses a pids limit without it ("controller 'pids' is not
  // available"); 0 sets none. Real hosts delegate pids to user managers.
  '/etc/containers/containers.conf': `[containers]
keyring = false
default_sysctls = []
pids_limit = 0
`,
  // The guest's root is an overlayfs (one volatile instance per test file), on which
  // Podman's overlay driver refuses to work. vfs is fine for a 2 MB image.
  '/etc/containers/storage.conf': `[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"

[storage.options]
additionalimagestores = ["${SHARED_IMAGE_STORE}"]
`,
  // Rootless Podman ignores additionalimagestores from /etc/containers/storage.conf, but
  // honours a user's own storage.conf; useradd --create-home copies this one into every
  // new home, so each workload user sees the shared busybox image with no per-user import.
  '/etc/skel/.config/containers/storage.conf': `[storage]
driver = "vfs"

[storage.options]
additionalimagestores = ["${SHARED_IMAGE_STORE}"]
`,
  // Nothing brings network-online.target up in the guest, and every Quadlet container is
  // ordered after podman-user-wait-network-online.service, which waits up to 90 s for it.
  '/etc/systemd/system/moor-e2e-network-online.service': `[Unit]
Description=Test guest: declare the network online
DefaultDependencies=no
Before=network-online.target

[Service]
Type=oneshot
ExecStart=/bin/true
RemainAfterExit=yes

[Install]
WantedBy=network-online.target
`,
  // A bound on every stop, so tearing a guest down never waits 90 s on a container
  // whose PID 1 ignores SIGTERM.
  '/etc/systemd/system.conf.d/moor-e2e.conf': `[Manager]
DefaultTimeoutStopSec=10s
`,
  '/etc/systemd/user.conf.d/moor-e2e.conf': `[Manager]
DefaultTimeoutStopSec=10s
`,
};

/** Symlinks in the guest tree: enablement of the unit above, a unit masked. */
export const GUEST_LINKS: Record<string, string> = {
  '/etc/systemd/system/network-online.target.wants/moor-e2e-network-online.service': '/etc/systemd/system/moor-e2e-network-online.service',
  '/etc/systemd/system/multi-user.target.wants/network-online.target': '/usr/lib/systemd/system/network-online.target',
  // It reapplies netavark firewall rules on a firewalld reload; the guest shares the
  // host's network namespace, so it must never touch the host's firewall.
  '/etc/systemd/system/netavark-firewalld-reload.service': '/dev/null',
};

/**
 * The test transform: every workload container of the e2e repos gets it. Quadlet's own
 * cgroup defaults stay (`--cgroups=split`, the systemd cgroup manager over the user's bus),
 * as on a real host; only what this machine lacks is added. A default rule, so a spec can
 * still say more.
 *
 * Network=none: the guest shares the host's network namespace and has no network to give
 * a container (no bridge, no route out).
 *
 * Nothing here works around the first-start notify race of rootless Podman: moor makes
 * each user's Podman user namespace before it starts any unit (daemon/host/podman-userns.ts),
 * as on a real host.
 */
export const TEST_BASE_TRANSFORM = `# End-to-end guest only: no container network.
[Container]
Network=none
`;

/** The same for `.kube` workloads: their pods get no network either. */
export const TEST_KUBE_TRANSFORM = `# End-to-end guest only: no pod network.
[Kube]
Network=none
`;

/**
 * A long-running container command that exits at once on SIGTERM (PID 1 ignores it
 * otherwise). The shell waits on its `sleep` in the background: a trap runs only once the
 * command in the foreground ends, and `wait` is ended by the signal, where a `sleep 1` in
 * the foreground would hold every stop (and restart) up to a second.
 */
export const BUSYBOX_SERVE_FOREVER = `/bin/sh -c 'trap "exit 0" TERM; while true; do sleep 1 & wait; done'`;

/** The bare repository the tests and demos push to, inside the guest. */
export const GUEST_BARE_REPO = '/srv/git/desired.git';

/** /etc/moor/config.toml of the tests and demos: the guest's bare repo, the default transforms dir. */
export const GUEST_MOOR_CONFIG = `transforms_dir = "/etc/moor/transforms"

[source]
url = "${GUEST_BARE_REPO}"
branch = "main"
`;

/**
 * A host's `_base.container` transform (the shipped one, say) with the guest-only lines of
 * TEST_BASE_TRANSFORM appended (TEST_KUBE_TRANSFORM for `_base.kube`): a transform file may
 * repeat a section, so the host's own rules stay as they are and the guest's are added after them.
 */
export function withGuestOnlyLines(base: string, lines = TEST_BASE_TRANSFORM): string {
  return base.trim() === '' ? lines : `${base.replace(/\n*$/, '\n')}\n${lines}`;
}
