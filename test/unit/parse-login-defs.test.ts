import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_UID_MIN, parseUidMin } from '../../daemon/core/parse/login-defs';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/host/${name}`, import.meta.url), 'utf8');

describe('login.defs UID_MIN', () => {
  it("reads Debian's file", () => {
    expect(parseUidMin(fixture('login.defs-debian'))).toBe(1000);
  });

  it('reads a site value and ignores commented-out ones', () => {
    expect(parseUidMin(fixture('login.defs-custom'))).toBe(5000);
  });

  it('defaults to 1000 when UID_MIN is absent', () => {
    expect(parseUidMin(fixture('login.defs-no-uid-min'))).toBe(DEFAULT_UID_MIN);
    expect(parseUidMin('')).toBe(1000);
  });

  it('does not confuse SYS_UID_MIN or UID_MINIMUM with UID_MIN', () => {
    expect(parseUidMin('SYS_UID_MIN 100\nUID_MINIMUM 7\n')).toBe(1000);
  });

  it('reads numbers the way shadow-utils does, last assignment wins', () => {
    expect(parseUidMin('UID_MIN 0x800\n')).toBe(2048);
    expect(parseUidMin('UID_MIN 0144\n')).toBe(100);
    expect(parseUidMin('UID_MIN 1000\nUID_MIN 2000\n')).toBe(2000);
    expect(parseUidMin('UID_MIN lots\n')).toBe(1000);
  });
});
