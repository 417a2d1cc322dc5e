// Redeploy requests (redeploy/<workload>): `moor redeploy` may run while a pass is in
// progress, so each request carries a token, and a pass clears only the request it saw:
// one made after the pass read the list survives for the next pass.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod/mini';
import type { Clock } from '../core/ports';
import { isNotFound, listDir, readJsonIfExists, removeFile, writeJsonAtomic } from './atomic';
import { assertSafeName, isSafeName, type StateLayout } from './layout';

export const RedeployRequest = z.object({
  workload: z.string(),
  requestedAt: z.iso.datetime({ offset: true }),
  token: z.string(),
});
export type RedeployRequest = z.infer<typeof RedeployRequest>;

export class RedeployRequests {
  constructor(
    private readonly layout: StateLayout,
    private readonly clock: Clock,
  ) {}

  private path(workload: string): string {
    assertSafeName('workload', workload);
    return join(this.layout.redeploy, workload);
  }

  /** A repeated request replaces the earlier one: either way one re-apply is due. */
  async request(workload: string): Promise<RedeployRequest> {
    const request: RedeployRequest = {
      workload,
      requestedAt: this.clock.now().toISOString(),
      token: randomBytes(8).toString('hex'),
    };
    await writeJsonAtomic(this.path(workload), request);
    return request;
  }

  /** Pending requests, sorted by workload name. */
  async list(): Promise<RedeployRequest[]> {
    const requests: RedeployRequest[] = [];
    for (const name of await listDir(this.layout.redeploy)) {
      // Names that are not workload names are temporary files of interrupted writes.
      if (!isSafeName(name)) continue;
      const request = await readJsonIfExists(this.path(name), RedeployRequest);
      if (request) requests.push({ ...request, workload: name });
    }
    return requests;
  }

  /**
   * Clears the request for `workload`. With `token`, only if the marker is still the
   * request the caller saw. A request made between that check and the unlink (a window
   * of a few system calls) is lost; all the others survive.
   */
  async clear(workload: string, token?: string): Promise<boolean> {
    const path = this.path(workload);
    if (token !== undefined) {
      const current = await readJsonIfExists(path, RedeployRequest);
      if (!current || current.token !== token) return false;
    }
    return removeFile(path);
  }

  async has(workload: string): Promise<boolean> {
    try {
      await fs.access(this.path(workload));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}
