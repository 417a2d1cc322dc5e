// The result last announced to the [notify] receivers, kept in the state dir so that a
// restarted daemon (or the next `moor reconcile --once` of a timer) compares a pass with
// what was last sent, not with nothing, and does not announce the same result again.
// Written without the state store's lock: only the sender writes it, after a pass.
import { join } from 'node:path';
import * as z from 'zod/mini';
import { ensureDir, readJsonIfExists, writeJsonAtomic } from './atomic';
import type { NotifyResult } from '../core/notify-policy';

const Notified = z.object({
  result: z.enum(['ok', 'failed']),
  exitCode: z.int(),
  at: z.iso.datetime({ offset: true }),
});
export type Notified = z.infer<typeof Notified>;

export function notifiedPath(stateDir: string): string {
  return join(stateDir, 'notified.json');
}

export async function readNotified(stateDir: string): Promise<NotifyResult | undefined> {
  return (await readJsonIfExists(notifiedPath(stateDir), Notified))?.result;
}

/** Creates the state dir if no pass has yet (a pass that failed before opening the store). */
export async function writeNotified(stateDir: string, value: Notified): Promise<void> {
  await ensureDir(stateDir);
  await writeJsonAtomic(notifiedPath(stateDir), value);
}
