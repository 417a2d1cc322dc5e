// The result last announced to the [notify] receivers, kept in the state dir so that a
// restarted daemon (or the next `moor reconcile --once` of a timer) compares a pass with
// what was last sent, not with nothing, and does not announce the same result again.
// Written without the state store's lock: only the sender writes it, after a pass.
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonIfExists, writeJsonAtomic } from './atomic';
import type { NotifyResult } from '../core/notify-policy';

const Notified = z.object({
  result: z.enum(['ok', 'failed']),
  exitCode: z.number().int(),
  at: z.iso.datetime({ offset: true }),
});
export type Notified = z.infer<typeof Notified>;

export function notifiedPath(stateDir: string): string {
  return join(stateDir, 'notified.json');
}

export async function readNotified(stateDir: string): Promise<NotifyResult | undefined> {
  return (await readJsonIfExists(notifiedPath(stateDir), Notified))?.result;
}

export async function writeNotified(stateDir: string, value: Notified): Promise<void> {
  await writeJsonAtomic(notifiedPath(stateDir), value);
}
