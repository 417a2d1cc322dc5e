// Asking a user manager about its units over D-Bus, peer to peer on its private socket
// /run/user/UID/systemd/private, instead of running `systemctl --user show` as the user
// (host/as-user.ts: a systemd-run scope each time, 40-65 ms). The manager accepts root
// there (systemd checks the peer is uid 0 or its own uid); `systemctl --user` itself
// refuses to connect as root, and the user's bus broker refuses root, so a client that
// speaks D-Bus without a broker (no Hello) is the way. Read-only: nothing the manager is
// told to do goes this way, so starting, stopping and reloading stay on the command path.
//
// The socket lives in a directory the workload user owns, so what answers may be the
// user's own program: it can lie about its units (as it can through systemctl, which
// talks to the same socket), but it must not stall or bloat moor. Every call is bounded
// in time and every message in size, and anything unexpected is an error the caller
// answers by asking systemctl instead.
import { setMaxListeners } from 'node:events';
import type dbusNative from 'dbus-native';
import { toUnitStatus, type UnitStatus } from '../core/parse/systemctl-show';
import { propertyInterface, unitObjectPath, unitPropertiesFromDbus } from '../core/parse/dbus-unit-properties';

/** What UserManager asks over D-Bus (a seam: the fake host has no bus). */
export interface UnitStateReader {
  /** Each unit's properties, as `systemctl --user show -p PROPS UNITS` would give them. */
  show(uid: number, units: readonly string[], props: readonly string[]): Promise<Map<string, UnitStatus>>;
}

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

export class UserBus implements UnitStateReader {
  constructor(private readonly options: UserBusOptions) {}

  async show(uid: number, units: readonly string[], props: readonly string[]): Promise<Map<string, UnitStatus>> {
    const out = new Map<string, UnitStatus>();
    if (units.length === 0) return out;
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
      timeout: this.options.timeoutMs,
    });
    let failed: Error | undefined;
    // A connection error is also the answer of every call in flight; kept so it is not unhandled.
    bus.connection.on('error', (err: Error) => {
      failed ??= err;
    });
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    // Every call of the batch listens for the one deadline: not the leak Node warns of past ten.
    setMaxListeners(0, deadline);
    let nudge: NodeJS.Timeout | undefined;
    try {
      await connected(bus, deadline);
      // The manager leaves a request that reaches it in the same read as the client's
      // closing BEGIN unanswered until more input arrives (seen on systemd 257: most of a
      // burst of connections stalled). So the requests go out a turn after the handshake,
      // and while any is unanswered a Peer.Ping every NUDGE_MS makes the manager read again.
      await new Promise<void>((resolve) => setImmediate(resolve));
      nudge = setInterval(() => {
        bus.invoke({ destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' }, { signal: deadline }).catch(() => undefined);
      }, NUDGE_MS);
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
                destination: 'org.freedesktop.systemd1',
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
    } catch (err) {
      throw failed ?? err;
    } finally {
      clearInterval(nudge);
      bus.connection.stream.destroy();
    }
  }
}

/** Resolves once the handshake is done; rejects on a connection error or at the deadline. */
function connected(bus: ReturnType<typeof dbusNative.createClient>, deadline: AbortSignal): Promise<void> {
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
