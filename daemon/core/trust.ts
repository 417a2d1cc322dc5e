// The trust decision about a fetched branch tip (docs/design.md §6 step 2): is it signed by an
// allowed signer, and does it descend from the commit the host runs now. The facts come
// from git (host/commit-trust.ts); what they mean, and what each mode does with them, is
// decided here.

export const TRUST_MODES = ['off', 'warn', 'require'] as const;
export type TrustMode = (typeof TRUST_MODES)[number];

/** The trust settings of the config (`[trust]`). */
export interface TrustConfig {
  mode: TrustMode;
  /** An SSH allowed-signers file (ssh-keygen(1) ALLOWED SIGNERS). */
  allowedSigners?: string;
  /** A directory of exported OpenPGP public keys; every key in it is an allowed signer. */
  gpgKeyring?: string;
  /** A tip that does not descend from the live commit is deployed anyway. */
  allowHistoryRewrite: boolean;
}

/** Who signed a deployed commit, as git verified it. */
export interface Signer {
  format: 'ssh' | 'openpgp';
  /** `SHA256:...` for an SSH key; the primary key's fingerprint for OpenPGP. */
  fingerprint: string;
  /** The allowed-signers principal (SSH), or the key's user id (OpenPGP). */
  principal: string;
}

/** git's `%G?` letter and the fields beside it, for one commit. */
export interface SignatureFacts {
  status: string;
  /** `%GF`: the fingerprint of the key that made the signature. */
  fingerprint: string;
  /** `%GS`: the signer's name (SSH principal, OpenPGP user id). */
  signer: string;
  /** `%GK`: the key git names (SSH fingerprint, OpenPGP key id). */
  key: string;
  /** `%GP`: the primary key's fingerprint (OpenPGP; empty for SSH). */
  primary: string;
}

/** The `git log --format` that prints SignatureFacts, one NUL between fields. */
export const SIGNATURE_FORMAT = '%G?%x00%GF%x00%GS%x00%GK%x00%GP';

export function parseSignatureFacts(output: string): SignatureFacts {
  const [status = '', fingerprint = '', signer = '', key = '', primary = ''] = output.replace(/\n$/, '').split('\0');
  return { status: status.trim(), fingerprint, signer, key, primary: primary.trim() };
}

/** Whether the tip descends from the live commit, as `git merge-base --is-ancestor` said. */
export type Ancestry = 'descendant' | 'not-descendant' | 'live-missing';

export interface TipFacts {
  commit: string;
  signature: SignatureFacts;
  /** Unset when there is no live generation to compare with. */
  live?: { commit: string; generation: number; ancestry: Ancestry };
}

export interface TrustVerdict {
  /** false: nothing of this tip may be applied (require mode only). */
  accept: boolean;
  /** Why the tip is not trusted: the refusal in require mode, warnings in warn mode. */
  reasons: string[];
  /** Set only for a good signature by an allowed signer. */
  signer?: Signer;
}

/** The commit as people read it in a message. */
export function shortCommit(commit: string): string {
  return commit.slice(0, 12);
}

/**
 * Only `G` (a good signature by an allowed signer) is trusted. Every other letter is a
 * reason: N unsigned; B a signature that does not match the commit (tampered); U a good
 * signature by a key that is not an allowed signer (SSH: not in the allowed-signers
 * file; OpenPGP: a key moor did not import as trusted); E a signature that cannot be
 * checked (OpenPGP: its key is not in the keyring; or a malformed one); X an expired
 * signature; Y a key that has expired; R a revoked key.
 */
export function signatureProblem(commit: string, s: SignatureFacts): string | undefined {
  const c = `commit ${shortCommit(commit)}`;
  const key = s.fingerprint || s.key || 'an unknown key';
  switch (s.status) {
    case 'G':
      return undefined;
    case 'N':
      return `${c} is not signed`;
    case 'B':
      return `${c} has a bad signature: it does not match the commit (altered after signing, or corrupt)`;
    case 'U':
      return `${c} is signed by ${key}${s.signer ? ` (${s.signer})` : ''}, which is not an allowed signer`;
    case 'E':
      return `${c}'s signature cannot be checked: its key ${key} is not in the allowed signers, or the signature is malformed`;
    case 'X':
      return `${c} is signed by ${key} with a signature that has expired`;
    case 'Y':
      return `${c} is signed by ${key}, a key that has expired`;
    case 'R':
      return `${c} is signed by ${key}, a key that has been revoked`;
    default:
      return `${c}: git reported signature status "${s.status}", which moor does not trust`;
  }
}

/** A good signature's signer; an SSH fingerprint starts with its hash name. */
export function signerOf(s: SignatureFacts): Signer | undefined {
  if (s.status !== 'G') return undefined;
  const ssh = s.fingerprint.startsWith('SHA256:');
  return { format: ssh ? 'ssh' : 'openpgp', fingerprint: ssh ? s.fingerprint : s.primary || s.fingerprint, principal: s.signer };
}

/** The fix named by every history-rewrite refusal. */
export const HISTORY_REWRITE_FIX = 'if the rewrite is intended, run "moor reconcile --once --allow-history-rewrite" or set trust.allow_history_rewrite = true';

export function historyProblem(commit: string, live: NonNullable<TipFacts['live']>): string | undefined {
  if (live.ancestry === 'descendant') return undefined;
  const why =
    live.ancestry === 'live-missing'
      ? `commit ${shortCommit(live.commit)} of the live generation ${live.generation} is not in the fetched history`
      : `it does not descend from commit ${shortCommit(live.commit)} of the live generation ${live.generation}`;
  return `commit ${shortCommit(commit)} rewrites the branch's history: ${why} (a force-push to an older or unrelated history); ${HISTORY_REWRITE_FIX}`;
}

/**
 * What a mode does with the facts. off: nothing is checked (the caller does not even ask
 * git). warn: every reason is a warning and the tip is deployed. require: any reason
 * refuses the tip. The history rule is waived by `allowHistoryRewrite` (the config key or
 * the flag of one pass).
 */
export function judgeTip(mode: TrustMode, facts: TipFacts, allowHistoryRewrite: boolean): TrustVerdict {
  if (mode === 'off') return { accept: true, reasons: [] };
  const reasons: string[] = [];
  const signature = signatureProblem(facts.commit, facts.signature);
  if (signature) reasons.push(signature);
  const history = facts.live && !allowHistoryRewrite ? historyProblem(facts.commit, facts.live) : undefined;
  if (history) reasons.push(history);
  const signer = signerOf(facts.signature);
  return { accept: mode === 'warn' || reasons.length === 0, reasons, ...(signer ? { signer } : {}) };
}

/** The default mode: require once allowed signers are configured, off without any. */
export function defaultTrustMode(allowedSigners: string | undefined, gpgKeyring: string | undefined): TrustMode {
  return allowedSigners !== undefined || gpgKeyring !== undefined ? 'require' : 'off';
}

/** The primary keys' fingerprints in `gpg --with-colons --list-keys` output. */
export function primaryFingerprints(colons: string): string[] {
  const out: string[] = [];
  let afterPub = false;
  for (const line of colons.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === 'pub') afterPub = true;
    else if (fields[0] === 'fpr' && afterPub) {
      if (fields[9]) out.push(fields[9]);
      afterPub = false;
    } else if (fields[0] === 'sub') afterPub = false;
  }
  return out;
}
