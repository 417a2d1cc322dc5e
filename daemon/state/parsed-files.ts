// State files parsed once per version on disk. A pass lists every generation (step 1, gc)
// and reads every applied record; each is a JSON file validated by its schema, and most
// were written passes ago: 500 workloads' records and a few generations' manifests and
// statuses were 20-40 ms of parsing per pass, for files that had not changed.
//
// A file's version is its identity on disk: device, inode, size, and the nanoseconds of its
// last modification and last status change. Every write of state replaces the file (a new
// inode, a new ctime) or changes it in place (a new ctime). The kernel stamps those times
// from a clock that moves in ticks (1-10 ms), so two writes within one tick could leave the
// same identity: a file is only kept once its last change is SETTLED_MS older than the
// moment it was looked at (git's "racily clean" rule), so any later change is stamped with a
// later time than the one kept. A file changed that recently is read again every time.
import { statSync } from 'node:fs';
import type * as z from 'zod/mini';
import { StateError } from '../core/errors';
import { isNotFound, parseJsonFile } from './atomic';

/** How long ago a file's last change must be for its parse to be kept (far above a clock tick). */
export const SETTLED_MS = 100;
/** Parses kept at most (the oldest used go first): a thousand workloads' records and their generations. */
const MAX_ENTRIES = 4096;

/** Whether a read gets its own copy of a kept parse or the kept value, frozen (ParsedFiles.read). */
export type Sharing = 'copy' | 'shared';

interface Entry {
  identity: string;
  schema: unknown;
  value: unknown;
}

export interface ParsedFilesOptions {
  /** The wall clock, in ms (Date.now); file times are the kernel's wall clock too. */
  now?: () => number;
  maxEntries?: number;
}

export class ParsedFiles {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(options: ParsedFilesOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? MAX_ENTRIES;
  }

  /**
   * `path` parsed by `schema`, or undefined when there is no such file; a StateError naming
   * the file when it is unreadable, not JSON or not of the schema's shape. `copy`: each
   * read gets its own (a pass deletes an applied record's rolledBack once it is stale),
   * which costs half of what parsing would. `shared`: the kept value itself, frozen, for
   * records no reader changes (a generation's manifest and status): one that tried would
   * fail at once rather than change what every later reader gets.
   */
  read<T>(path: string, schema: z.ZodMiniType<T>, sharing: Sharing = 'copy'): T | undefined {
    const lookedAt = this.now();
    let stat;
    try {
      stat = statSync(path, { bigint: true });
    } catch (err) {
      this.entries.delete(path);
      if (isNotFound(err)) return undefined;
      throw new StateError(`${path}: unreadable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const identity = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
    const kept = this.entries.get(path);
    if (kept && kept.identity === identity && kept.schema === schema) {
      // Most recently used last: the first entry is the one to drop.
      this.entries.delete(path);
      this.entries.set(path, kept);
      return (sharing === 'shared' ? kept.value : structuredClone(kept.value)) as T;
    }
    this.entries.delete(path);
    const value = parseJsonFile(path, schema);
    if (value === undefined) return undefined;
    // Changed in the same tick as `lookedAt` or after it: a later change could carry this very identity.
    const settled = Number(stat.ctimeNs / 1_000_000n) < lookedAt - SETTLED_MS && Number(stat.mtimeNs / 1_000_000n) < lookedAt - SETTLED_MS;
    // Shared values are frozen whether kept or not, so a reader that changes one fails the
    // first time it runs, not only once the file has settled.
    if (sharing === 'shared') deepFreeze(value);
    if (settled) {
      this.entries.set(path, { identity, schema, value: sharing === 'shared' ? value : deepFreeze(structuredClone(value)) });
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The process's own: the daemon's passes share it, as do a command's several reads of one file. */
export const stateFiles = new ParsedFiles();
