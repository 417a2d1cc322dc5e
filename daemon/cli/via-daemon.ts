// How `moor status` and `moor reconcile --once` use a running daemon: they ask it over the
// control socket, say so on stderr, and return undefined (run in-process) when no daemon
// answers, or when one answers but fails before taking the request.
import type { MoorConfig } from '../core/config/schema';
import { safeText } from '../core/safe-text';
import { stderrLines } from '../host/journal-stream';
import type { ItemOutcome, PassResult } from '../pass/pass-result';
import { DaemonAbsent, getJson, reconcileViaDaemon } from './control-client';

/**
 * One line on stderr, with the journal priority prefix when stderr is the journal (as
 * daemon/main.ts does); an item's error or the daemon's answer in it stays on that line.
 */
function note(priority: 4 | 6, text: string): void {
  process.stderr.write(stderrLines(priority, safeText(text)));
}

export async function statusViaDaemon<T>(config: MoorConfig): Promise<T | undefined> {
  const socketPath = config.control.socket;
  try {
    const report = await getJson<T>({ socketPath }, '/v1/status');
    note(6, `moor: via the running daemon (${socketPath})`);
    return report;
  } catch (err) {
    if (!(err instanceof DaemonAbsent)) note(4, `moor: the daemon on ${socketPath} did not answer (${(err as Error).message}): reading the state here`);
    return undefined;
  }
}

export async function reconcileViaRunningDaemon(config: MoorConfig, opts: { progress: boolean }): Promise<PassResult | undefined> {
  const socketPath = config.control.socket;
  let accepted = false;
  try {
    return await reconcileViaDaemon(
      { socketPath },
      {
        onAccepted: (coalesced) => {
          accepted = true;
          note(6, `moor: via the running daemon (${socketPath})${coalesced ? ': a pass is running, waiting for the follow-up pass' : ''}`);
        },
        ...(opts.progress ? { onItem: (item: ItemOutcome) => note(6, progressLine(item)) } : {}),
      },
    );
  } catch (err) {
    // Once the daemon took the request, its answer (or its failure) is the pass's.
    if (accepted) throw err;
    if (!(err instanceof DaemonAbsent)) note(4, `moor: the daemon on ${socketPath} did not take the request (${(err as Error).message}): running the pass here`);
    return undefined;
  }
}

/** One line per finished item; its error (the generator's own words, say) stays on it. */
export function progressLine(item: ItemOutcome): string {
  const seconds = (item.durationMs / 1000).toFixed(1);
  return safeText(`  ${item.workload}: ${item.action} ${item.result} (${seconds}s)${item.error ? `: ${item.error}` : ''}`);
}
