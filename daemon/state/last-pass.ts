// The outcome of the latest pass, also when it changed nothing and so made no generation
// (a pass every two minutes must not mint a generation each time).
import * as z from 'zod/mini';
import { readJsonIfExists, writeJsonAtomic } from './atomic';
import type { StateLayout } from './layout';

export const LastPass = z.object({
  at: z.iso.datetime({ offset: true }),
  kind: z.enum(['pass', 'rollback']),
  commit: z.string(),
  source: z.string(),
  generation: z.optional(z.int().check(z.positive())),
  exitCode: z.int(),
  summary: z.string(),
  counts: z.record(z.string(), z.int()),
});
export type LastPass = z.infer<typeof LastPass>;

export class LastPassStore {
  constructor(private readonly layout: StateLayout) {}

  private get path(): string {
    return this.layout.lastPass;
  }

  read(): Promise<LastPass | undefined> {
    return readJsonIfExists(this.path, LastPass);
  }

  write(pass: LastPass): Promise<void> {
    return writeJsonAtomic(this.path, pass);
  }
}
