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
import type dbusNative from 'dbus-native';
import { toUnitStatus, type UnitStatus } from '../core/parse/systemctl-show';
import { unitObjectPath, unitPropertiesFromDbus } from '../core/parse/dbus-unit-properties';

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

/** How long a request may wait unanswered before the manager is made to read again. */
const NUDGE_MS = 25;

/** A GetAll answer of a unit is a few kilobytes; nothing a manager says needs more. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

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
      // One GetAll per unit, all sent at once on the one connection: the manager answers
      // them in order, so the whole batch costs about one round trip more than one unit.
      const answers = await Promise.all(
        units.map((unit) =>
          bus.invoke(
            {
              destination: 'org.freedesktop.systemd1',
              path: unitObjectPath(unit),
              interface: 'org.freedesktop.DBus.Properties',
              member: 'GetAll',
              // "" asks every interface of the unit (Unit, Service, Timer...), as systemctl show does.
              signature: 's',
              body: [''],
            },
            { signal: deadline },
          ),
        ),
      );
      answers.forEach((answer, i) => {
        const unit = units[i]!;
        if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) throw new Error(`GetAll of ${unit}: not a property map`);
        const status = toUnitStatus(unitPropertiesFromDbus(answer as Record<string, unknown>, props.includes('Id') ? props : ['Id', ...props]));
        // The same pairing check as the command path: an answer for another unit is an error.
        if (status.id !== unit) throw new Error(`GetAll of ${unit} answered for ${status.id ?? 'no unit'}`);
        out.set(unit, status);
      });
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
