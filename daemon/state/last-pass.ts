// The outcome of the latest pass, also when it changed nothing and so made no generation
// (a pass every two minutes must not mint a generation each time).
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonIfExists, writeJsonAtomic } from './atomic';

export const LastPass = z.object({
  at: z.iso.datetime({ offset: true }),
  kind: z.enum(['pass', 'rollback']),
  commit: z.string(),
  source: z.string(),
  generation: z.number().int().positive().optional(),
  exitCode: z.number().int(),
  summary: z.string(),
  counts: z.record(z.string(), z.number().int()),
});
export type LastPass = z.infer<typeof LastPass>;

export class LastPassStore {
  constructor(private readonly stateDir: string) {}

  private get path(): string {
    return join(this.stateDir, 'last-pass.json');
  }

  read(): Promise<LastPass | undefined> {
    return readJsonIfExists(this.path, LastPass);
  }

  write(pass: LastPass): Promise<void> {
    return writeJsonAtomic(this.path, pass);
  }
}
