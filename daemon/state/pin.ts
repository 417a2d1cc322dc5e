// The rollback pin (pin.json): while it exists the scheduler stays on the pinned
// generation's rendered state instead of the branch tip, until `moor resume`.
import * as z from 'zod/mini';
import type { Clock } from '../core/ports';
import { readJsonIfExists, removeFile, writeJsonAtomic } from './atomic';
import type { StateLayout } from './layout';

export const Pin = z.object({
  generation: z.int().check(z.positive()),
  pinnedAt: z.iso.datetime({ offset: true }),
});
export type Pin = z.infer<typeof Pin>;

export class PinStore {
  constructor(
    private readonly layout: StateLayout,
    private readonly clock: Clock,
  ) {}

  async pin(generation: number): Promise<Pin> {
    const pin = Pin.parse({ generation, pinnedAt: this.clock.now().toISOString() });
    await writeJsonAtomic(this.layout.pin, pin);
    return pin;
  }

  /** Returns false when nothing was pinned. */
  unpin(): Promise<boolean> {
    return removeFile(this.layout.pin);
  }

  read(): Promise<Pin | undefined> {
    return readJsonIfExists(this.layout.pin, Pin);
  }
}
