import type { Problem } from './problem';

// The name rule for Linux users moor creates (and for group directories, which name
// transforms). It is the portable subset every distribution's useradd accepts: no dots,
// no upper case, no trailing '$', so one repository deploys the same on every host.

export const USER_NAME_MAX = 32;

/**
 * The characters of the rule, unanchored, for patterns that embed a name (temporary
 * file names in the state dir). Everything else uses the functions below.
 */
export const USER_NAME_CHARS = '[a-z_][a-z0-9_-]*';

/** The whole rule but the length: one line of `[a-z_][a-z0-9_-]*`. */
export const USER_NAME_PATTERN = new RegExp(`^${USER_NAME_CHARS}$`);

/** True when `name` is a valid user name: `[a-z_][a-z0-9_-]*`, at most 32 characters. */
export function isValidUserName(name: string): boolean {
  return USER_NAME_PATTERN.test(name) && name.length <= USER_NAME_MAX;
}

/**
 * Why `name` breaks the character rule, or undefined when it follows it. Length is left
 * to the caller, which knows whether a prefix is added.
 */
export function nameCharsViolation(name: string): string | undefined {
  if (name === '') return 'is empty';
  const first = name[0] ?? '';
  if (!/[a-z_]/.test(first)) {
    return `starts with ${JSON.stringify(first)}; it must start with a lowercase letter or "_"`;
  }
  const bad = [...new Set([...name].filter((c) => !/[a-z0-9_-]/.test(c)))];
  if (bad.length > 0) {
    const list = bad.map((c) => JSON.stringify(c)).join(', ');
    return `contains ${list}; only lowercase letters, digits, "_" and "-" are allowed`;
  }
  return undefined;
}

/** Why `name` is not a valid user name (characters or length), or undefined. */
export function userNameViolation(name: string): string | undefined {
  return (
    nameCharsViolation(name) ??
    (name.length > USER_NAME_MAX
      ? `is ${name.length} characters long; Linux user names are at most ${USER_NAME_MAX}`
      : undefined)
  );
}

export const NAME_RULE_HINT =
  'use only lowercase letters, digits, "_" and "-", starting with a letter or "_"';

/**
 * Names that carry privilege on some distribution, now or once a package is installed:
 * a group of that name, made by moor as the workload's user group, would be handed the
 * powers a later package install grants it (`docker`, `libvirt`, `sudo`...). No workload
 * user may have one. An entry ending in `*` is a prefix. `root` is a protected user
 * already. The config's `reserved_names` adds to this list.
 */
export const RESERVED_NAMES: readonly string[] = [
  'adm', 'admin', 'audio', 'backup', 'bin', 'bluetooth', 'cdrom', 'crontab', 'daemon', 'dbus', 'dialout',
  'dip', 'disk', 'docker', 'floppy', 'games', 'incus', 'incus-admin', 'input', 'kmem', 'kvm', 'libvirt',
  'libvirt-qemu', 'libvirtd', 'lp', 'lpadmin', 'lxd', 'mail', 'man', 'mem', 'messagebus', 'moor',
  'moor-managed', 'netdev', 'news', 'nobody', 'nogroup', 'operator', 'plugdev', 'podman', 'polkitd',
  'proxy', 'qemu', 'render', 'sambashare', 'sgx', 'shadow', 'ssh', 'sshd', 'ssl-cert', 'staff', 'sudo',
  'sys', 'systemd-*', 'tape', 'tss', 'tty', 'users', 'utmp', 'uucp', 'video', 'voice', 'wheel',
  'wireshark', 'www-data', '_*',
];

/** The entry of the reserved list (built-in, then `extra`) that `name` matches, if any. */
export function reservedNameEntry(name: string, extra: readonly string[] = []): string | undefined {
  for (const entry of [...RESERVED_NAMES, ...extra]) {
    if (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry) return entry;
  }
  return undefined;
}

/**
 * A group of the workload's user name already exists on the host, and no user of moor's
 * owns it: useradd would either fail or, given the chance, make moor's user a member of
 * whatever that group grants.
 */
export function existingGroupProblem(path: string, workload: string, user: string): Problem {
  return {
    path,
    code: 'existing-group',
    message: `a group named ${JSON.stringify(user)} already exists on this host; moor creates each workload user with a group of its own name, and adopts no existing group`,
    hint: `rename the workload (or set user_prefix) so its user name is not a group of this host`,
    workload,
  };
}
