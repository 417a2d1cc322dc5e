// `moor check DIR --verify-commit REV`: the signature check a host in require mode makes of
// a tip, run offline on a repository's own checkout, so its CI can test what hosts will
// accept. The history rule needs a host's live commit and is not checked here.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MoorConfig } from '../core/config/schema';
import { UsageError } from '../core/errors';
import { judgeTip, type Signer } from '../core/trust';
import { resolveCommit, tipFacts } from '../host/commit-trust';

export interface VerifyCommitOptions {
  verifyCommit: string;
  allowedSigners?: string;
  gpgKeyring?: string;
}

export interface CommitVerdict {
  rev: string;
  commit: string;
  accepted: boolean;
  /** Why a host in require mode would refuse it. */
  reasons: string[];
  signer?: Signer;
}

/** The signers come from the options, else from the config's `[trust]`. */
export async function verifyCommit(dir: string, opts: VerifyCommitOptions, config: MoorConfig): Promise<CommitVerdict> {
  const allowedSigners = opts.allowedSigners ?? (opts.gpgKeyring ? undefined : config.trust.allowedSigners);
  const gpgKeyring = opts.gpgKeyring ?? (opts.allowedSigners ? undefined : config.trust.gpgKeyring);
  if (!allowedSigners && !gpgKeyring) {
    throw new UsageError('--verify-commit needs the allowed signers: --allowed-signers FILE, --gpg-keyring DIR, or [trust] in the config (--config)');
  }
  // A directory of its own for GNUPGHOME and HOME: a CI runner's keyring takes no part.
  const workDir = await mkdtemp(join(tmpdir(), 'moor-verify-'));
  try {
    const base = { dir, workDir, timeoutMs: config.timeouts.commandMs };
    const verifyOpts = { ...base, ...(allowedSigners ? { allowedSigners } : {}), ...(gpgKeyring ? { gpgKeyring } : {}) };
    const commit = await resolveCommit(opts.verifyCommit, verifyOpts);
    const verdict = judgeTip('require', await tipFacts(commit, undefined, verifyOpts), false);
    return { rev: opts.verifyCommit, commit, accepted: verdict.accept, reasons: verdict.reasons, ...(verdict.signer ? { signer: verdict.signer } : {}) };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

export function formatCommitVerdict(v: CommitVerdict): string {
  if (v.accepted) return `commit ${v.commit} (${v.rev}): signed by ${v.signer?.principal ?? '?'} (${v.signer?.fingerprint ?? '?'}), an allowed signer`;
  return `commit ${v.commit} (${v.rev}) would be refused: ${v.reasons.join('; ')}`;
}
