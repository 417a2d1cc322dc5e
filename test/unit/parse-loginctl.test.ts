import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLoginctlShowUser } from '../../daemon/core/parse/loginctl';
import { parseGeneratorMessages, parseJournalLines } from '../../daemon/core/parse/journal';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/host/${name}`, import.meta.url), 'utf8');

describe('loginctl show-user', () => {
  it('reads a lingering user', () => {
    expect(parseLoginctlShowUser(fixture('loginctl-show-user-lingering.txt'))).toEqual({ linger: true, state: 'lingering' });
  });

  it('reads a logged-in user without linger', () => {
    expect(parseLoginctlShowUser(fixture('loginctl-show-user-active.txt'))).toEqual({ linger: false, state: 'active' });
  });

  it('does not depend on property order', () => {
    expect(parseLoginctlShowUser(fixture('loginctl-show-user-closing.txt'))).toEqual({ linger: false, state: 'closing' });
  });

  it('rejects what it does not understand', () => {
    expect(() => parseLoginctlShowUser('Linger=maybe\n')).toThrow(/Linger=maybe/);
    expect(() => parseLoginctlShowUser('nonsense\n')).toThrow(/not a loginctl/);
  });
});

describe('journal and generator output', () => {
  it('keeps journal lines', () => {
    const lines = parseJournalLines(fixture('journalctl-web.txt'));
    expect(lines).toHaveLength(5);
    expect(lines[3]).toContain("Failed with result 'exit-code'");
  });

  it('drops journalctl markers', () => {
    expect(parseJournalLines(fixture('journalctl-no-entries.txt'))).toEqual([]);
    expect(parseJournalLines('-- Boot 0a1b2c3d4e5f --\nMar 14 host x[1]: hi\n')).toEqual(['Mar 14 host x[1]: hi']);
  });

  it("extracts the generator's message about one file", () => {
    expect(parseGeneratorMessages(fixture('podman-user-generator-dryrun-error.txt'), 'web.container')).toEqual([
      'converting "web.container": no Image or Rootfs key specified',
    ]);
  });

  it('returns every message when none names the file', () => {
    expect(parseGeneratorMessages(fixture('podman-user-generator-dryrun-error.txt'), 'other.container')).toEqual([
      'converting "web.container": no Image or Rootfs key specified',
    ]);
    expect(parseGeneratorMessages('')).toEqual([]);
  });
});
