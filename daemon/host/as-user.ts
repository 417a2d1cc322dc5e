// How moor runs a command as a workload user. Two rules hold for every such command:
//
// - It runs in a scope of the user's own slice (user-UID.slice), started by systemd-run,
//   never in moor's cgroup: whatever it leaves running is the user's, dies with the user,
//   and counts against the user's limits, not moor's.
// - Its environment is built from scratch: systemd-run itself is started with only PATH
//   and LANG, and adds the user's HOME, USER, LOGNAME and SHELL from passwd, so nothing of
//   root's environment (a proxy with credentials, a secret set on moor.service) reaches a
//   process the workload can read through /proc. Setting the variables here rather than
//   with `env -i` after the switch matters: the switched process is the user's, and its
//   environment is readable by the user from the moment it execs.
import type { CommandResult, CommandRunner, RunOptions } from '../core/ports';

/** A workload user as the commands run as it need it. */
export interface UserRef {
  user: string;
  uid: number;
}

/** systemd's own default PATH for services. */
export const USER_COMMAND_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The whole environment of systemd-run, and so of the command it starts (plus passwd's). */
export function userCommandEnv(): Record<string, string> {
  return { PATH: USER_COMMAND_PATH, LANG: 'C.UTF-8' };
}

/** The slice every process of the user lives in: the one logind makes for it. */
export function userSlice(uid: number): string {
  return `user-${uid}.slice`;
}

/**
 * argv that runs `argv` as the workload user in a scope of its slice, with its runtime
 * dir and user bus (what systemctl --user, journalctl --user and Podman need).
 */
export function asUser(who: UserRef, argv: readonly string[]): string[] {
  return [
    'systemd-run',
    '--scope',
    '--quiet',
    '--collect',
    `--slice=${userSlice(who.uid)}`,
    `--uid=${who.user}`,
    `--setenv=XDG_RUNTIME_DIR=/run/user/${who.uid}`,
    `--setenv=DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${who.uid}/bus`,
    '--',
    ...argv,
  ];
}

/** Runs `argv` as the workload user (see asUser), from a neutral cwd, with the clean environment. */
export function runAsUser(runner: CommandRunner, who: UserRef, argv: readonly string[], options: Omit<RunOptions, 'env' | 'cwd'>): Promise<CommandResult> {
  return runner.run(asUser(who, argv), { ...options, env: userCommandEnv(), cwd: '/' });
}
