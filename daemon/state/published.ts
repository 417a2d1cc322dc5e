// `published.json`: what this host last published to its status branch (docs/fleet.md
// "Status branches"), so that a pass saying the same as the last one publishes nothing,
// and the newest commit it ever ran healthy is carried into every document after it.
// Written without the state store's lock: only the publisher writes it, after a pass.
import { join } from 'node:path';
import * as z from 'zod/mini';
import { StatusDocument } from '../core/fleet-status';
import { ensureDir, readJsonIfExists, writeJsonAtomic } from './atomic';

const Published = z.object({
  /** The newest commit a pass of this host ran healthy, published or not yet. */
  lastHealthy: z.nullable(z.string()),
  /** The document on the status branch, once a push of it succeeded. */
  document: z.optional(StatusDocument),
  /** The status commit that holds it. */
  statusCommit: z.optional(z.string()),
});
export type Published = z.infer<typeof Published>;

export function publishedPath(stateDir: string): string {
  return join(stateDir, 'published.json');
}

export async function readPublished(stateDir: string): Promise<Published | undefined> {
  return readJsonIfExists(publishedPath(stateDir), Published);
}

export async function writePublished(stateDir: string, value: Published): Promise<void> {
  await ensureDir(stateDir);
  await writeJsonAtomic(publishedPath(stateDir), value);
}
