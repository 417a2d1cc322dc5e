// A log record as one entry of systemd's native journal protocol (systemd.journal-fields(7),
// "Native Journal Protocol"): one datagram of fields, `NAME=value\n` each, or, for a value
// holding a newline, the binary-safe form `NAME\n`, the value's length as a 64-bit
// little-endian integer, the value, `\n`. journald reads the length, not the bytes, so a
// value can hold anything: a newline in a workload's error text cannot start a field of its
// own. Field names are checked here, not trusted: an invalid one would make journald drop
// the whole entry.
//
// Which pino fields become journal fields is one table, FIELD_OF_LOG_KEY, documented in
// docs/operations.md ("Journal fields"); the MESSAGE_ID of each event moor announces is
// MESSAGE_IDS, fixed for good: operators filter on them (`journalctl MESSAGE_ID=...`).

/** The identifier of every entry moor writes: `journalctl -t moor`. */
export const SYSLOG_IDENTIFIER = 'moor';

/** One 128-bit id per event, 32 lowercase hex digits, never changed once released. */
export const MESSAGE_IDS = {
  passStarted: '89fe5c701e8e84f16bc5f939050236c6',
  passFinished: '242e146b120b08e642e95d44878e7774',
  workloadFailed: '3678a7673ca6872c67415d5c492b8cc2',
  guardRefused: 'b14dbfdf09ae1c25db82f7d3bb9fb189',
} as const;

export type MessageId = (typeof MESSAGE_IDS)[keyof typeof MESSAGE_IDS];

/** The pino field a log call sets to give its record a MESSAGE_ID. */
export const MESSAGE_ID_KEY = 'message_id';

/** pino field → journal field. Other pino fields stay in MESSAGE's text only. */
export const FIELD_OF_LOG_KEY: Readonly<Record<string, string>> = {
  workload: 'MOOR_WORKLOAD',
  user: 'MOOR_USER',
  generation: 'MOOR_GENERATION',
  commit: 'MOOR_COMMIT',
  action: 'MOOR_ACTION',
  result: 'MOOR_RESULT',
  exit: 'MOOR_EXIT_CODE',
  [MESSAGE_ID_KEY]: 'MESSAGE_ID',
};

/**
 * Entries larger than this go to stderr as a line instead: a bigger one needs a memfd
 * passed with SCM_RIGHTS, which the datagram socket moor uses cannot do. It is well under
 * the default socket send buffer, so a send of this size does not fail for its size.
 */
export const MAX_ENTRY_BYTES = 64 * 1024;

/** journald's rule: uppercase letters, digits and `_`, not starting with `_` (trusted fields) or a digit, at most 64. */
const FIELD_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

export type JournalField = readonly [name: string, value: string];

/** syslog priority (0 emerg .. 7 debug) of a pino level. */
export function priorityOfLevel(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/**
 * The fields of one record: PRIORITY, SYSLOG_IDENTIFIER, MESSAGE (the readable line, as
 * on stderr), then each pino field the table maps, in the table's order. A field whose
 * value is undefined, null or empty is left out (journald would keep an empty one).
 */
export function journalFields(record: Record<string, unknown>, message: string): JournalField[] {
  const fields: JournalField[] = [
    ['PRIORITY', String(priorityOfLevel(Number(record.level ?? 30)))],
    ['SYSLOG_IDENTIFIER', SYSLOG_IDENTIFIER],
    ['MESSAGE', message],
  ];
  for (const [key, name] of Object.entries(FIELD_OF_LOG_KEY)) {
    const value = record[key];
    if (value === undefined || value === null || value === '') continue;
    fields.push([name, typeof value === 'string' ? value : JSON.stringify(value)]);
  }
  return fields;
}

/** The datagram of one entry. Throws on an invalid field name: a bug in moor, not data. */
export function encodeJournalEntry(fields: readonly JournalField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    if (!FIELD_NAME.test(name)) throw new Error(`invalid journal field name ${JSON.stringify(name)}`);
    const bytes = Buffer.from(value, 'utf8');
    if (!bytes.includes(0x0a)) {
      parts.push(Buffer.from(`${name}=`, 'utf8'), bytes, NEWLINE);
      continue;
    }
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(bytes.length));
    parts.push(Buffer.from(`${name}\n`, 'utf8'), length, bytes, NEWLINE);
  }
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from('\n', 'utf8');
