// What the daemon and its clients say to each other over the control socket. A pass that
// throws (fetch failed, invalid tree, refused plan) travels as a serialized error and is
// revived on the client as an error of the same category, so the client exits with the
// same code an in-process pass would have.
import { MoorError, GuardError, ValidationError } from '../core/errors';
import type { Problem } from '../core/problem';
import { exitCodeOfError, type ExitCode } from '../core/exit-codes';
import type { ItemOutcome, PassResult } from '../pass/pass-result';

export type TriggerReason = 'startup' | 'schedule' | 'watch' | 'reload' | 'control' | 'webhook';

export interface SerializedError {
  name: string;
  category: MoorError['category'];
  message: string;
  problems?: Problem[];
  removals?: string[];
}

/** How one pass ended: with a result, with an error before or during it, or not run at all. */
export type PassOutcome =
  | { kind: 'result'; result: PassResult }
  | { kind: 'error'; error: SerializedError; exitCode: ExitCode; summary: string }
  | { kind: 'cancelled'; summary: string };

/** Lines of the newline-delimited JSON stream of POST /v1/reconcile. */
export type ReconcileLine =
  | { type: 'accepted'; coalesced: boolean }
  | { type: 'item'; item: ItemOutcome }
  | { type: 'result'; result: PassResult }
  | { type: 'error'; error: SerializedError; exitCode: ExitCode };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof ValidationError) return { name: err.name, category: err.category, message: err.message, problems: [...err.problems] };
  if (err instanceof GuardError) return { name: err.name, category: err.category, message: err.message, removals: [...err.removals] };
  if (err instanceof MoorError) return { name: err.name, category: err.category, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { name: err instanceof Error ? err.name : 'Error', category: 'host', message: `unexpected error: ${message}` };
}

/** An error the daemon reported, carrying the category (and so the exit code) it had there. */
export class DaemonReportedError extends MoorError {
  override readonly name: string;
  readonly category: MoorError['category'];
  constructor(e: SerializedError) {
    super(e.message);
    this.name = e.name;
    this.category = e.category;
  }
}

export function reviveError(e: SerializedError): MoorError {
  if (e.category === 'validation') return new ValidationError(e.problems ?? []);
  if (e.category === 'guard') return new GuardError(e.message, e.removals ?? []);
  return new DaemonReportedError(e);
}

/** How a pass that threw reads as an outcome: its error, its exit code, one summary line. */
export function errorOutcome(err: unknown): Extract<PassOutcome, { kind: 'error' }> {
  const error = serializeError(err);
  const first = error.problems?.[0];
  const more = error.problems && error.problems.length > 1 ? ` (and ${error.problems.length - 1} more)` : '';
  const detail = first ? `: ${first.path}${first.line ? `:${first.line}` : ''}: ${first.message}${more}` : '';
  return { kind: 'error', error, exitCode: exitCodeOfError(err), summary: `pass failed: ${error.name}: ${error.message}${detail}` };
}
