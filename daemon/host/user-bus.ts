// Asking a user manager about its units over D-Bus, peer to peer on its private socket
// /run/user/UID/systemd/private, instead of running `systemctl --user show` as the user
// (host/as-user.ts: a systemd-run scope each time, 40-65 ms). The manager accepts root
// there (systemd checks the peer is uid 0 or its own uid); `systemctl --user` itself
// refuses to connect as root, and the user's bus broker refuses root, so a client that
// speaks D-Bus without a broker (no Hello) is the way. Besides reading, two things a push
// waits for go this way: daemon-reload (Reload) and restarting units (RestartUnit, then
// the job's JobRemoved signal, which the manager sends every direct connection): each
// spares a systemd-run scope and a systemctl process before the restart. Root's call
// leaves nothing running, which is what the scope is for on the command path. Starting,
// stopping and enabling stay on the command path.
//
// The socket lives in a directory the workload user owns, so what answers may be the
// user's own program: it can lie about its units (as it can through systemctl, which
// talks to the same socket), but it must not stall or bloat moor. Every call is bounded
// in time and every message in size, and anything unexpected is an error the caller
// answers by asking systemctl instead. The user can also swap a directory on the way for
// a symlink to a socket of root's: PID 1's own /run/systemd/private speaks the same
// protocol to root, and a Reload or RestartUnit there would reload the system manager or
// restart a system unit of the workload's unit name. So before anything else the manager
// is asked whose it is (its ControlGroup, which PID 1 and every other manager answer
// truthfully with their own): anything but user@UID.service's is refused.
import { setMaxListeners } from 'node:events';
import type dbusNative from 'dbus-native';
import { toUnitStatus, type UnitStatus } from '../core/parse/systemctl-show';
import { propertyInterface, unitObjectPath, unitPropertiesFromDbus } from '../core/parse/dbus-unit-properties';

/** What UserManager asks over D-Bus (a seam: the fake host has no bus). */
export interface UnitStateReader {
  /** Each unit's properties, as `systemctl --user show -p PROPS UNITS` would give them. */
  show(uid: number, units: readonly string[], props: readonly string[]): Promise<Map<string, UnitStatus>>;
}

/** What UserManager has a user manager do over D-Bus (a seam: the fake host has no bus). */
export interface UnitJobs {
  /** `systemctl --user daemon-reload`: resolves once the manager has reloaded. */
  reload(uid: number, timeoutMs: number): Promise<void>;
  /**
   * `systemctl --user restart UNITS`: resolves once every job finished `done`; rejects
   * with UnitJobFailed when one ended otherwise, with another error when the manager could
   * not be asked (no job queued: the caller may ask systemctl instead) or did not finish
   * in time.
   */
  restart(uid: number, units: readonly string[], timeoutMs: number): Promise<void>;
}

/** A job the manager ran and finished other than `done` (failed, timeout, dependency...). */
export class UnitJobFailed extends Error {
  constructor(
    readonly unit: string,
    readonly result: string,
  ) {
    super(`job for ${unit} ended with result '${result}'`);
  }
}

/** Asking failed after a job was queued: the manager may be acting on it, so nobody asks again. */
export class UnitJobLost extends Error {}

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER_INTERFACE = 'org.freedesktop.systemd1.Manager';

export interface UserBusOptions {
  /** Bound of the whole exchange with one manager. */
  timeoutMs: number;
  /** Where the managers' runtime directories are (a seam for tests). */
  runtimeDir?: string;
}

/** The errors of a Get that mean the unit has no such property: what systemctl show leaves out. */
const ABSENT = new Set(['org.freedesktop.DBus.Error.UnknownProperty', 'org.freedesktop.DBus.Error.UnknownInterface', 'org.freedesktop.DBus.Error.InvalidArgs']);

/** How long a request may wait unanswered before the manager is made to read again. */
const NUDGE_MS = 25;

/** One property of a unit is a few bytes; nothing a manager says to these questions needs more. */
const MAX_MESSAGE_BYTES = 64 * 1024;

type Bus = ReturnType<typeof dbusNative.createClient>;

export class UserBus implements UnitStateReader, UnitJobs {
  constructor(private readonly options: UserBusOptions) {}

  async show(uid: number, units: readonly string[], props: readonly string[]): Promise<Map<string, UnitStatus>> {
    const out = new Map<string, UnitStatus>();
    if (units.length === 0) return out;
    return this.session(uid, this.options.timeoutMs, async (bus, deadline) => {
      // One Get per wanted property of each unit, all sent at once on the one connection:
      // the manager answers them in order, so the batch costs about one round trip. Not
      // GetAll: a service's every property is some 14 KB to parse per question, and the
      // heap that churn grows stays with the daemon.
      const wanted = props.includes('Id') ? props : ['Id', ...props];
      const asked = units.flatMap((unit) =>
        wanted.map(async (name): Promise<[string, string, unknown]> => {
          try {
            const value: unknown = await bus.invoke(
              {
                destination: SYSTEMD,
                path: unitObjectPath(unit),
                interface: 'org.freedesktop.DBus.Properties',
                member: 'Get',
                signature: 'ss',
                body: [propertyInterface(unit, name), name],
              },
              { signal: deadline },
            );
            return [unit, name, value];
          } catch (err) {
            // A property this kind of unit does not have (Result of a target): left out, as
            // systemctl show leaves it out. Anything else fails the question.
            if (ABSENT.has((err as { dbusName?: string }).dbusName ?? '')) return [unit, name, undefined];
            throw err;
          }
        }),
      );
      const values = new Map<string, Record<string, unknown>>(units.map((u) => [u, {}]));
      for (const [unit, name, value] of await Promise.all(asked)) if (value !== undefined) values.get(unit)![name] = value;
      for (const unit of units) {
        const status = toUnitStatus(unitPropertiesFromDbus(values.get(unit)!, wanted));
        // The same pairing check as the command path: an answer for another unit is an error.
        if (status.id !== unit) throw new Error(`the manager answered for ${status.id ?? 'no unit'} when asked for ${unit}`);
        out.set(unit, status);
      }
      return out;
    });
  }

  async reload(uid: number, timeoutMs: number): Promise<void> {
    // The manager answers once the reload is done (the generators have run), as systemctl waits.
    await this.session(
      uid,
      timeoutMs,
      async (bus, deadline) => {
        await bus.invoke({ destination: SYSTEMD, path: MANAGER_PATH, interface: MANAGER_INTERFACE, member: 'Reload' }, { signal: deadline });
      },
    );
  }

  async restart(uid: number, units: readonly string[], timeoutMs: number): Promise<void> {
    if (units.length === 0) return;
    let queued = false;
    try {
      await this.session(uid, timeoutMs, async (bus, deadline, asking) => {
        // Every JobRemoved seen, by job path: one can arrive before the continuation that
        // learns the job's path runs.
        const ended = new Map<string, string>();
        const waiting = new Map<string, () => void>();
        bus.connection.on('message', (msg: { type?: number; interface?: string; member?: string; path?: string; body?: unknown[] }) => {
          if (msg.type !== 4 || msg.interface !== MANAGER_INTERFACE || msg.member !== 'JobRemoved' || msg.path !== MANAGER_PATH) return;
          const [, job, , result] = msg.body ?? [];
          if (typeof job !== 'string' || typeof result !== 'string' || ended.size >= 4096) return;
          ended.set(job, result);
          waiting.get(job)?.();
        });
        // Private connections get the manager's signals unasked; Subscribe says so for clarity and costs one round trip.
        await bus.invoke({ destination: SYSTEMD, path: MANAGER_PATH, interface: MANAGER_INTERFACE, member: 'Subscribe' }, { signal: asking });
        const jobs = await Promise.all(
          units.map(async (unit) => {
            const job = await bus.invoke({ destination: SYSTEMD, path: MANAGER_PATH, interface: MANAGER_INTERFACE, member: 'RestartUnit', signature: 'ss', body: [unit, 'replace'] }, { signal: asking });
            queued = true;
            if (typeof job !== 'string') throw new Error(`RestartUnit of ${unit} answered no job path`);
            return [unit, job] as const;
          }),
        );
        const results = await Promise.all(
          jobs.map(
            ([unit, job]) =>
              new Promise<[string, string]>((resolve, reject) => {
                const done = () => resolve([unit, ended.get(job)!]);
                if (ended.has(job)) return done();
                waiting.set(job, done);
                deadline.addEventListener('abort', () => reject(deadline.reason instanceof Error ? deadline.reason : new Error(String(deadline.reason))), { once: true });
                bus.connection.once('close', () => reject(new Error('the manager closed the connection')));
              }),
          ),
        );
        const failed = results.find(([, result]) => result !== 'done');
        if (failed) throw new UnitJobFailed(failed[0], failed[1]);
      });
    } catch (err) {
      if (err instanceof UnitJobFailed || !queued) throw err;
      throw new UnitJobLost(`restarting ${units.join(' ')} over D-Bus: ${(err as Error).message}`);
    }
  }

  /**
   * One connection to the user's manager for `fn`, bounded by timeoutMs: the handshake,
   * the nudges that keep the manager reading, and the teardown whatever happens.
   */
  private async session<T>(uid: number, timeoutMs: number, fn: (bus: Bus, deadline: AbortSignal, asking: AbortSignal) => Promise<T>): Promise<T> {
    const socket = `${this.options.runtimeDir ?? '/run/user'}/${uid}/systemd/private`;
    // Loaded with the first question: a command that asks no manager never loads it.
    const { default: dbus } = await import('dbus-native');
    const bus = dbus.createClient({
      busAddress: `unix:path=${socket}`,
      direct: true,
      authMethods: ['EXTERNAL'],
      // No descriptors: a manager has none to give moor, and a user's program none to pass root.
      fdTransport: false,
      plainValues: true,
      maxMessageSize: MAX_MESSAGE_BYTES,
      // No timer per call: every call carries one of the signals below, which bound it.
      timeout: 0,
    });
    // A question is answered at once (`asking`); only a job's wait may take the whole
    // timeoutMs (`deadline`). Timers of their own, cleared at the end: a signal of
    // AbortSignal.timeout would keep this connection's listeners, and so the client,
    // reachable until it fires, minutes after a restart.
    const deadlineCtl = new AbortController();
    const askingCtl = new AbortController();
    const timers = [
      setTimeout(() => deadlineCtl.abort(new Error(`the user manager did not finish within ${timeoutMs} ms`)), timeoutMs),
      setTimeout(() => askingCtl.abort(new Error(`the user manager did not answer within ${Math.min(timeoutMs, this.options.timeoutMs)} ms`)), Math.min(timeoutMs, this.options.timeoutMs)),
    ];
    const deadline = deadlineCtl.signal;
    const asking = askingCtl.signal;
    let failed: Error | undefined;
    // A connection error is also the answer of every call in flight; kept so it is not unhandled.
    bus.connection.on('error', (err: Error) => {
      failed ??= err;
    });
    // Every call of the batch listens for the one deadline: not the leak Node warns of past ten.
    setMaxListeners(0, deadline, asking);
    let nudge: NodeJS.Timeout | undefined;
    try {
      await connected(bus, asking);
      // The manager leaves a request that reaches it in the same read as the client's
      // closing BEGIN unanswered until more input arrives (seen on systemd 257: most of a
      // burst of connections stalled). So the requests go out a turn after the handshake,
      // and while any is unanswered a Peer.Ping every NUDGE_MS makes the manager read again.
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Pings only while a question of moor's is unanswered: a job's wait can be long (a
      // restart that pulls an image), and needs none. Not "until the first answer": the
      // manager sends every direct connection its signals unasked, and a question asked
      // after one (RestartUnit after the identity question) can stall like the first.
      const invoke = bus.invoke.bind(bus);
      let unanswered = 0;
      bus.invoke = ((msg: Parameters<Bus['invoke']>[0], options: Parameters<Bus['invoke']>[1]) => {
        unanswered++;
        return invoke(msg, options).finally(() => unanswered--);
      }) as Bus['invoke'];
      nudge = setInterval(() => {
        if (unanswered === 0) return;
        invoke({ destination: SYSTEMD, path: MANAGER_PATH, interface: 'org.freedesktop.DBus.Peer', member: 'Ping' }, { signal: deadline }).catch(() => undefined);
      }, NUDGE_MS);
      await isUsersManager(bus, uid, asking);
      return await fn(bus, deadline, asking);
    } catch (err) {
      throw failed ?? err;
    } finally {
      clearInterval(nudge);
      for (const t of timers) clearTimeout(t);
      bus.connection.stream.destroy();
    }
  }
}

/** Asked before anything else: the manager at the socket is user@UID.service (see the head of this file). */
async function isUsersManager(bus: Bus, uid: number, asking: AbortSignal): Promise<void> {
  const cgroup: unknown = await bus.invoke(
    { destination: SYSTEMD, path: MANAGER_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [MANAGER_INTERFACE, 'ControlGroup'] },
    { signal: asking },
  );
  if (typeof cgroup !== 'string' || !cgroup.endsWith(`/user@${uid}.service`)) {
    throw new Error(`the socket of uid ${uid}'s manager is answered by a manager whose control group is ${JSON.stringify(String(cgroup).slice(0, 200))}, not user@${uid}.service's: refused`);
  }
}

/** Resolves once the handshake is done; rejects on a connection error or at the deadline. */
function connected(bus: Bus, deadline: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const abort = () => fail(deadline.reason);
    const closed = () => fail(new Error('the manager closed the connection'));
    const cleanup = () => {
      bus.connection.off('connect', done);
      bus.connection.off('error', fail);
      bus.connection.off('close', closed);
      deadline.removeEventListener('abort', abort);
    };
    if (deadline.aborted) return abort();
    bus.connection.once('connect', done);
    bus.connection.once('error', fail);
    bus.connection.once('close', closed);
    deadline.addEventListener('abort', abort);
  });
}
