// Per-workload applied records (applied/<workload>.json): what the host runs now, as far as
// moor knows. The plan compares desired hashes against these, so a record is written only
// after the workload's apply succeeded, and deleted only after its removal did.
import { join } from 'node:path';
import * as z from 'zod/mini';
import type { Clock } from '../core/ports';
import { StateError } from '../core/errors';
import { listDir, removeFile, writeJsonAtomic } from './atomic';
import { stateFiles } from './parsed-files';
import { assertRelativePath, assertSafeName, isSafeName, type StateLayout } from './layout';

const recordFields = {
  workload: z.string(),
  user: z.string(),
  uid: z.int().check(z.nonnegative()),
  /** The workload's content hash, as in the manifest of `generation`. */
  hash: z.string(),
  generation: z.int().check(z.positive()),
  commit: z.string(),
  appliedAt: z.iso.datetime({ offset: true }),
  /**
   * Set when an update of this workload failed and the version this record describes was
   * brought back up: the failing version, its generation, why it failed, and when.
   */
  rolledBack: z.optional(
    z.object({
      hash: z.string(),
      commit: z.string(),
      generation: z.int().check(z.positive()),
      error: z.string(),
      at: z.iso.datetime({ offset: true }),
    }),
  ),
};
const fileHashes = z.record(z.string(), z.string());

export const AppliedRecord = z.object({
  ...recordFields,
  /** Path relative to the user's ~/.config → sha256 (hex) of the content written there. */
  hashes: fileHashes,
});
export type AppliedRecord = z.infer<typeof AppliedRecord>;

/** What a record file may hold: records of earlier versions name the hashes `files`. */
const AppliedRecordFile = z.union([
  AppliedRecord,
  z.pipe(
    z.object({ ...recordFields, files: fileHashes }),
    z.transform(({ files, ...rest }: { files: Record<string, string> } & Omit<AppliedRecord, 'hashes'>): AppliedRecord => ({ ...rest, hashes: files })),
  ),
]);

/** A record to write; `appliedAt` defaults to now. */
export type AppliedRecordInput = Omit<AppliedRecord, 'appliedAt'> & { appliedAt?: string };

const SUFFIX = '.json';

export class AppliedStore {
  constructor(
    private readonly layout: StateLayout,
    private readonly clock: Clock,
  ) {}

  private path(workload: string): string {
    assertSafeName('workload', workload);
    return join(this.layout.applied, `${workload}${SUFFIX}`);
  }

  async read(workload: string): Promise<AppliedRecord | undefined> {
    const path = this.path(workload);
    // Every pass reads every record, and a pass changes few: parsed once per version.
    const record = stateFiles.read(path, AppliedRecordFile);
    if (record && record.workload !== workload) {
      throw new StateError(`${path}: holds the record of workload ${JSON.stringify(record.workload)}`);
    }
    return record;
  }

  async write(input: AppliedRecordInput): Promise<AppliedRecord> {
    assertSafeName('user', input.user);
    for (const relPath of Object.keys(input.hashes)) assertRelativePath(relPath);
    const parsed = AppliedRecord.safeParse({ ...input, appliedAt: input.appliedAt ?? this.clock.now().toISOString() });
    if (!parsed.success) throw new StateError(`applied record of ${input.workload}: ${parsed.error.message}`);
    await writeJsonAtomic(this.path(input.workload), parsed.data);
    return parsed.data;
  }

  /** Returns false when there was no record. */
  async delete(workload: string): Promise<boolean> {
    return removeFile(this.path(workload));
  }

  /** Every record, sorted by workload name. */
  async list(): Promise<AppliedRecord[]> {
    const records: AppliedRecord[] = [];
    for (const name of await listDir(this.layout.applied)) {
      // Anything else here is a temporary file of an interrupted write.
      if (!name.endsWith(SUFFIX) || !isSafeName(name.slice(0, -SUFFIX.length))) continue;
      const record = await this.read(name.slice(0, -SUFFIX.length));
      if (record) records.push(record);
    }
    return records;
  }
}
