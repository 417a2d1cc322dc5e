// Socket activation (sd_listen_fds(3)): systemd passes the listening sockets of
// moor.socket from fd 3 on, with LISTEN_PID naming the process they are meant for.

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export interface ListenFds {
  /** The descriptor to serve the control API on. */
  fd: number;
  /** Every descriptor passed; only the first is used. */
  count: number;
  names: string[];
}

/** The passed sockets, or undefined when none were passed to this process. */
export function listenFdsFromEnv(env: NodeJS.ProcessEnv, pid: number): ListenFds | undefined {
  const count = Number(env.LISTEN_FDS);
  if (!env.LISTEN_FDS || !Number.isInteger(count) || count < 1) return undefined;
  // Inherited from a parent that was activated, not meant for us.
  if (env.LISTEN_PID && Number(env.LISTEN_PID) !== pid) return undefined;
  return { fd: LISTEN_FDS_START, count, names: env.LISTEN_FDNAMES ? env.LISTEN_FDNAMES.split(':') : [] };
}

/** Consumed: the variables must not leak to the commands moor runs (as sd_listen_fds(1) does). */
export function unsetListenEnv(env: NodeJS.ProcessEnv): void {
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
}
