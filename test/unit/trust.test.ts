import { describe, expect, it } from 'vitest';
import { mergeConfigFiles, resolveConfig } from '../../daemon/core/config/resolve';
import { ConfigError, TrustError } from '../../daemon/core/errors';
import { ExitCode, exitCodeOfError } from '../../daemon/core/exit-codes';
import { judgeTip, parseSignatureFacts, primaryFingerprints, signatureProblem, type SignatureFacts, type TipFacts } from '../../daemon/core/trust';

const TIP = '1a2b3c4d5e6f708192a3b4c5d6e7f80912345678';
const LIVE = '99887766554433221100ffeeddccbbaa99887766';
const good: SignatureFacts = { status: 'G', fingerprint: 'SHA256:abc', signer: 'ops@example.org', key: 'SHA256:abc', primary: '' };
const tip = (signature: Partial<SignatureFacts>, live?: TipFacts['live']): TipFacts => ({ commit: TIP, signature: { ...good, ...signature }, ...(live ? { live } : {}) });

describe('signatureProblem: only G is trusted', () => {
  it.each([
    ['N', /commit 1a2b3c4d5e6f is not signed/],
    ['B', /bad signature: it does not match the commit/],
    ['U', /signed by SHA256:abc \(ops@example.org\), which is not an allowed signer/],
    ['E', /cannot be checked: its key SHA256:abc is not in the allowed signers/],
    ['X', /signature that has expired/],
    ['Y', /a key that has expired/],
    ['R', /a key that has been revoked/],
    ['?', /status "\?", which moor does not trust/],
  ])('%s is refused with its reason', (status, reason) => {
    expect(signatureProblem(TIP, { ...good, status })).toMatch(reason);
  });

  it('G is no problem', () => {
    expect(signatureProblem(TIP, good)).toBeUndefined();
  });
});

describe('judgeTip', () => {
  const rewritten = { commit: LIVE, generation: 7, ancestry: 'not-descendant' as const };

  it('require: a good signature on a descendant is accepted with its signer', () => {
    const v = judgeTip('require', tip({}, { commit: LIVE, generation: 7, ancestry: 'descendant' }), false);
    expect(v).toEqual({ accept: true, reasons: [], signer: { format: 'ssh', fingerprint: 'SHA256:abc', principal: 'ops@example.org' } });
  });

  it('require: an unsigned tip is refused', () => {
    const v = judgeTip('require', tip({ status: 'N', fingerprint: '', signer: '', key: '' }), false);
    expect(v.accept).toBe(false);
    expect(v.reasons).toEqual(['commit 1a2b3c4d5e6f is not signed']);
    expect(v.signer).toBeUndefined();
  });

  it('require: a rewrite names both commits and the fix, and the allowance waives it', () => {
    const v = judgeTip('require', tip({}, rewritten), false);
    expect(v.accept).toBe(false);
    expect(v.reasons[0]).toMatch(/commit 1a2b3c4d5e6f rewrites the branch's history: it does not descend from commit 998877665544 of the live generation 7/);
    expect(v.reasons[0]).toMatch(/--allow-history-rewrite.*trust\.allow_history_rewrite = true/);
    expect(judgeTip('require', tip({}, rewritten), true).accept).toBe(true);
  });

  it('a live commit missing from the history counts as not an ancestor', () => {
    const v = judgeTip('require', tip({}, { ...rewritten, ancestry: 'live-missing' }), false);
    expect(v.accept).toBe(false);
    expect(v.reasons[0]).toMatch(/commit 998877665544 of the live generation 7 is not in the fetched history/);
  });

  it('warn: every reason is given, and the tip is accepted', () => {
    const v = judgeTip('warn', tip({ status: 'U' }, rewritten), false);
    expect(v.accept).toBe(true);
    expect(v.reasons).toHaveLength(2);
    expect(v.signer).toBeUndefined();
  });

  it('off: nothing is judged', () => {
    expect(judgeTip('off', tip({ status: 'N' }, rewritten), false)).toEqual({ accept: true, reasons: [] });
  });

  it('an OpenPGP signer is recorded by its primary key', () => {
    const v = judgeTip('require', tip({ fingerprint: 'SUBKEYFPR', primary: 'PRIMARYFPR', signer: 'Ann <ann@example.org>', key: 'KEYID' }), false);
    expect(v.signer).toEqual({ format: 'openpgp', fingerprint: 'PRIMARYFPR', principal: 'Ann <ann@example.org>' });
  });
});

describe('parsing git and gpg output', () => {
  it('reads the NUL-separated signature fields', () => {
    expect(parseSignatureFacts('G\0SHA256:x\0a@b\0SHA256:x\0\n')).toEqual({ status: 'G', fingerprint: 'SHA256:x', signer: 'a@b', key: 'SHA256:x', primary: '' });
    expect(parseSignatureFacts('N\0\0\0\0\n').status).toBe('N');
  });

  it('takes primary fingerprints only, not subkeys', () => {
    const colons = ['tru::1:0:0:0:0:1', 'pub:-:255:22:AAAA:1:::-:::scESC::::::23::0:', 'fpr:::::::::PRIMARY1:', 'uid:-::::1::X::A <a@x>::::::::::0:', 'sub:-:255:18:BBBB:1::::::e::::::23:', 'fpr:::::::::SUB1:', 'pub:-:255:22:CCCC:1:::-:::scESC::::::23::0:', 'fpr:::::::::PRIMARY2:'].join('\n');
    expect(primaryFingerprints(colons)).toEqual(['PRIMARY1', 'PRIMARY2']);
  });
});

describe('[trust] config', () => {
  const resolve = (trust: Record<string, unknown>) => resolveConfig(mergeConfigFiles([{ trust } as never]), ['/etc/moor/config.toml']).trust;

  it('defaults to off without signers and to require once any is configured', () => {
    expect(resolveConfig({}, []).trust).toEqual({ mode: 'off', allowHistoryRewrite: false });
    expect(resolve({ allowed_signers: '/etc/moor/allowed_signers' })).toEqual({ mode: 'require', allowedSigners: '/etc/moor/allowed_signers', allowHistoryRewrite: false });
    expect(resolve({ gpg_keyring: '/etc/moor/keys', mode: 'warn' }).mode).toBe('warn');
  });

  it('refuses require with no signer, naming the key', () => {
    expect(() => resolve({ mode: 'require' })).toThrow(ConfigError);
    expect(() => resolve({ mode: 'require' })).toThrow(/trust\.allowed_signers or trust\.gpg_keyring/);
  });

  it('merges [trust] across drop-ins: the mode in one file, the signers in another', () => {
    const merged = mergeConfigFiles([{ trust: { allowed_signers: '/a' } }, { trust: { mode: 'require' } }]);
    expect(resolveConfig(merged, []).trust.mode).toBe('require');
  });
});

describe('TrustError', () => {
  it('exits with the source code and names the commit and reason', () => {
    const err = new TrustError(TIP, ['commit 1a2b3c4d5e6f is not signed']);
    expect(exitCodeOfError(err)).toBe(ExitCode.SourceUnavailable);
    expect(err.message).toBe(`refusing commit ${TIP}: commit 1a2b3c4d5e6f is not signed; nothing was changed`);
  });
});
