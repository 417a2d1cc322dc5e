// `fleet.publish`: after a pass, off the pass lock, this host's status document is
// committed to its branch `moor-status/<host.name>` of the source and pushed, when it says
// something the last published one did not (docs/fleet.md "Status branches"). The commit
// is made in moor's own bare git dir (`state_dir/fleet.git`), so the pass's checkout is
// never touched outside the lock. A push that fails is not recorded as published: the
// next pass tries again.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { MoorConfig } from '../core/config/schema';
import { buildStatusDocument, sameStatus, statusJson, type StatusDocument } from '../core/fleet-status';
import type { Clock } from '../core/ports';
import { systemClock } from '../host/clock';
import { ensureFleetDir, fetchOwnStatus, pushStatus, writeStatusCommit } from '../host/fleet-git';
import { readPublished, writePublished } from '../state/published';
import { openStateStore } from '../state/store';
import type { PassResult } from './pass-result';

/** How a pass ended, as far as its status needs: its result, or the exit code of the error that ended it. */
export type PublishedPass = PassResult | { kind: 'error'; exitCode: number };

export interface PublishDeps {
  log: Logger;
  /** Home directories of users, by name (getent); a failure leaves homes out of the document. */
  homes: (users: string[]) => Promise<ReadonlyMap<string, string>>;
  clock?: Clock;
}

export type PublishOutcome = 'off' | 'unchanged' | 'published' | 'failed';

export function fleetDir(config: MoorConfig): string {
  return join(config.stateDir, 'fleet.git');
}

/** The document of this host after `pass`, from the state the pass left. */
export async function statusAfter(config: MoorConfig, pass: PublishedPass, deps: PublishDeps, lastHealthy: string | undefined): Promise<StatusDocument> {
  const store = await openStateStore(config.stateDir, { readOnly: true, ...(deps.clock ? { clock: deps.clock } : {}) });
  const id = await store.generations.current();
  const info = id !== undefined ? await store.generations.info(id) : undefined;
  const applied = await store.applied.list();
  const users = [...new Set([...applied.map((a) => a.user), ...('items' in pass ? pass.items.map((i) => i.user) : [])])];
  const homes = await deps.homes(users).catch((err: unknown) => {
    deps.log.debug({ err: (err as Error).message }, 'fleet: the homes of the workload users could not be looked up; published without them');
    return new Map<string, string>();
  });
  return buildStatusDocument({
    host: config.host.name,
    ring: config.fleet.ring,
    labels: config.host.labels,
    ...(id !== undefined && info?.manifest?.commit ? { live: { generation: id, commit: info.manifest.commit } } : {}),
    pass: 'items' in pass ? { exitCode: pass.exitCode, commit: pass.commit, kind: pass.kind, items: pass.items } : { exitCode: pass.exitCode },
    applied: applied.map((a) => ({ workload: a.workload, user: a.user, uid: a.uid, hash: a.hash })),
    homes,
    ...(lastHealthy ? { lastHealthy } : {}),
    at: (deps.clock ?? systemClock).now(),
  });
}

/**
 * Publishes this host's status after `pass` when `fleet.publish` is on and it differs
 * (`at` aside) from the last one published. Never throws: a failure is logged at error
 * priority naming the branch, and the next pass tries again.
 */
export async function publishStatus(config: MoorConfig, pass: PublishedPass, deps: PublishDeps): Promise<PublishOutcome> {
  if (!config.fleet.publish || !config.source.url) return 'off';
  const branch = `moor-status/${config.host.name}`;
  try {
    const previous = await readPublished(config.stateDir);
    const doc = await statusAfter(config, pass, deps, previous?.lastHealthy ?? undefined);
    // lastHealthy is kept whether or not the push works: a healthy pass whose push failed still counts.
    const record = { lastHealthy: doc.lastHealthy, ...(previous?.document ? { document: previous.document } : {}), ...(previous?.statusCommit ? { statusCommit: previous.statusCommit } : {}) };
    if (previous?.document && sameStatus(previous.document, doc)) {
      deps.log.debug({ branch }, 'fleet: status unchanged since the last one published: nothing pushed');
      return 'unchanged';
    }
    await writePublished(config.stateDir, record);
    const dir = fleetDir(config);
    const remote = { url: config.source.url, timeoutMs: config.timeouts.fetchMs, ...(config.source.sshKey ? { sshKey: config.source.sshKey } : {}) };
    try {
      await ensureFleetDir(dir, config.timeouts.commandMs);
      const parent = await fetchOwnStatus(dir, remote, config.host.name);
      const message = `${config.host.name}: ${doc.result}${doc.commit ? ` at ${doc.commit.slice(0, 12)}` : ''}${doc.generation !== null ? `, generation ${doc.generation}` : ''}`;
      const commit = await writeStatusCommit(dir, { host: config.host.name, json: statusJson(doc), ...(parent ? { parent } : {}), message, at: new Date(doc.at), timeoutMs: config.timeouts.commandMs });
      await pushStatus(dir, remote, config.host.name, commit);
      await writePublished(config.stateDir, { lastHealthy: doc.lastHealthy, document: doc, statusCommit: commit });
      deps.log.info({ branch, status_commit: commit.slice(0, 12), result: doc.result, healthy: doc.healthy }, `fleet: status published to ${branch}`);
      return 'published';
    } catch (err) {
      deps.log.error({ branch, err: (err as Error).message }, `fleet: publishing the status to ${branch} of ${config.source.url} failed: ${(err as Error).message}; tried again after the next pass`);
      return 'failed';
    }
  } catch (err) {
    deps.log.error({ branch, err: (err as Error).message }, `fleet: the status for ${branch} could not be built: ${(err as Error).message}; tried again after the next pass`);
    return 'failed';
  }
}
