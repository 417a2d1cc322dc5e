// A unit's properties as systemd's D-Bus API gives them (org.freedesktop.DBus.Properties
// Get), written the way `systemctl show` prints them, so that both ways of asking a
// user manager feed the same parser (core/parse/systemctl-show.ts) and the same checks.
import type { UnitProperties } from './systemctl-show';

/**
 * The object path of a unit, as sd-bus escapes it (bus_path_escape): every byte that is
 * not an ASCII letter or digit becomes `_` and two lower-case hex digits. Asking this path
 * makes the manager load the unit, so a unit with no file reads as `LoadState=not-found`,
 * as `systemctl show` does.
 */
export function unitObjectPath(unit: string): string {
  let escaped = '';
  for (const byte of Buffer.from(unit, 'utf8')) {
    const c = String.fromCharCode(byte);
    escaped += /[A-Za-z0-9]/.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return `/org/freedesktop/systemd1/unit/${escaped || '_'}`;
}

/** Properties of every unit (org.freedesktop.systemd1.Unit) that moor reads. */
const UNIT_INTERFACE_PROPERTIES = new Set(['Id', 'Names', 'Description', 'LoadState', 'ActiveState', 'SubState', 'FreezerState', 'InvocationID', 'UnitFileState', 'UnitFilePreset', 'NeedDaemonReload', 'FragmentPath', 'SourcePath', 'DropInPaths', 'Job', 'ActiveEnterTimestamp', 'ActiveExitTimestamp', 'InactiveEnterTimestamp', 'InactiveExitTimestamp', 'StateChangeTimestamp']);

/**
 * The interface a property is on: the Unit interface for what every unit has, else the
 * interface of the unit's type, named for it (`web.service` → org.freedesktop.systemd1.Service:
 * Result, Type, ExecMainCode...), as systemd names them.
 */
export function propertyInterface(unit: string, property: string): string {
  if (UNIT_INTERFACE_PROPERTIES.has(property)) return 'org.freedesktop.systemd1.Unit';
  const type = unit.slice(unit.lastIndexOf('.') + 1);
  return `org.freedesktop.systemd1.${type.charAt(0).toUpperCase()}${type.slice(1)}`;
}

/** A property whose D-Bus value moor does not know how to print as systemctl would. */
export class UnreadableProperty extends Error {}

/**
 * The wanted properties out of the manager's answers, each as `systemctl show` prints it: a
 * string as it is, a boolean `yes`/`no`, a number in decimal, an id128 (`ay`, 16 bytes)
 * in hex and an empty one as nothing. A wanted property the unit does not have is left
 * out, as systemctl leaves it out (Result of a target). Anything else is refused rather
 * than guessed at: the caller then asks systemctl.
 */
export function unitPropertiesFromDbus(all: Readonly<Record<string, unknown>>, wanted: readonly string[]): UnitProperties {
  const out: UnitProperties = {};
  for (const name of wanted) {
    if (!Object.hasOwn(all, name)) continue;
    out[name] = printValue(name, all[name]);
  }
  return out;
}

function printValue(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (value instanceof Uint8Array && (value.length === 0 || value.length === 16)) return Buffer.from(value).toString('hex');
  throw new UnreadableProperty(`property ${name} has a value moor does not read over D-Bus`);
}
