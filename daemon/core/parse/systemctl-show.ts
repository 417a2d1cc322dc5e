// `systemctl show -p A,B,... UNIT...`: one KEY=VALUE per line, one block per unit in
// argument order, blocks separated by a blank line. A unit that does not exist still gets
// a block (LoadState=not-found), so a missing unit is data, not an error exit.

export type UnitProperties = Record<string, string>;

/** The state moor reads for each unit it manages. */
export interface UnitStatus {
  id?: string;
  loadState: string;
  activeState: string;
  subState: string;
  /** "" for unit types without a Result (targets). */
  result: string;
  /** "" when the unit never ran in this manager's lifetime. */
  invocationId: string;
  /** "generated" for Quadlet units, "" for a unit with no file. */
  unitFileState: string;
  properties: UnitProperties;
}

export const UNIT_STATUS_PROPERTIES = ['Id', 'LoadState', 'ActiveState', 'SubState', 'Result', 'InvocationID', 'UnitFileState'] as const;

/** Splits the output into one property map per unit, in output order. */
export function parseSystemctlShow(text: string): UnitProperties[] {
  const blocks: UnitProperties[] = [];
  let current: UnitProperties | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') {
      current = undefined;
      continue;
    }
    const eq = line.indexOf('=');
    // Values may contain '=' (ExecStart=...); only the first one separates.
    if (eq <= 0) throw new Error(`not a systemctl show line: ${line}`);
    if (!current) {
      current = {};
      blocks.push(current);
    }
    current[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return blocks;
}

export function toUnitStatus(props: UnitProperties): UnitStatus {
  return {
    ...(props.Id !== undefined ? { id: props.Id } : {}),
    loadState: props.LoadState ?? '',
    activeState: props.ActiveState ?? '',
    subState: props.SubState ?? '',
    result: props.Result ?? '',
    invocationId: props.InvocationID ?? '',
    unitFileState: props.UnitFileState ?? '',
    properties: props,
  };
}

/**
 * Pairs each requested unit with its block. systemctl prints blocks in argument order;
 * when Id was requested it is checked too, so a misaligned block is an error rather than
 * another unit's state.
 */
export function parseUnitStatuses(units: readonly string[], text: string): Map<string, UnitStatus> {
  const blocks = parseSystemctlShow(text);
  if (blocks.length !== units.length) {
    throw new Error(`systemctl show printed ${blocks.length} blocks for ${units.length} units`);
  }
  const out = new Map<string, UnitStatus>();
  units.forEach((unit, i) => {
    const status = toUnitStatus(blocks[i] as UnitProperties);
    if (status.id !== undefined && status.id !== unit) {
      throw new Error(`systemctl show block ${i + 1} is for ${status.id}, expected ${unit}`);
    }
    out.set(unit, status);
  });
  return out;
}
