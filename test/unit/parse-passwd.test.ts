import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gecosFullName, parseGroupLine, parseGroups, parsePasswd, parsePasswdLine } from '../../daemon/core/parse/passwd';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/host/${name}`, import.meta.url), 'utf8');

describe('getent passwd', () => {
  it('parses a single getent line, trailing newline included', () => {
    expect(parsePasswdLine(fixture('getent-passwd-web.txt'))).toEqual({
      name: 'web',
      uid: 1001,
      gid: 1001,
      gecos: 'moor-managed',
      home: '/home/web',
      shell: '/usr/sbin/nologin',
    });
  });

  it('parses a whole database, keeping GECOS commas and homes outside /home', () => {
    const all = parsePasswd(fixture('getent-passwd.txt'));
    expect(all.map((u) => u.name)).toEqual(['root', 'daemon', 'bin', 'nobody', 'systemd-network', 'alice', 'web', 'api', 'ldapuser']);
    const alice = all.find((u) => u.name === 'alice');
    expect(alice?.gecos).toBe('Alice Example,Room 4,555-0100,,');
    expect(gecosFullName(alice?.gecos ?? '')).toBe('Alice Example');
    expect(all.find((u) => u.name === 'api')?.home).toBe('/var/home/api');
    expect(all.find((u) => u.name === 'nobody')?.uid).toBe(65534);
    expect(all.find((u) => u.name === 'ldapuser')).toMatchObject({ uid: 70001, gecos: '', shell: '' });
  });

  it('rejects lines that are not passwd entries', () => {
    expect(() => parsePasswdLine('web:x:1001:1001:/home/web:/bin/sh')).toThrow(/6 fields/);
    expect(() => parsePasswdLine('web:x:abc:1001::/home/web:/bin/sh')).toThrow(/bad uid/);
    expect(() => parsePasswdLine(':x:1:1::/:/bin/sh')).toThrow(/without a name/);
  });
});

describe('getent group', () => {
  it('parses members', () => {
    expect(parseGroupLine(fixture('getent-group-moor-managed.txt'))).toEqual({ name: 'moor-managed', gid: 997, members: ['web', 'api'] });
  });

  it('parses a group without members', () => {
    expect(parseGroupLine(fixture('getent-group-empty.txt'))).toEqual({ name: 'moor-managed', gid: 997, members: [] });
  });

  it('parses a whole database', () => {
    const groups = parseGroups(fixture('getent-group.txt'));
    expect(groups).toHaveLength(5);
    expect(groups.find((g) => g.name === 'users')?.members).toEqual(['alice', 'bob']);
    expect(groups.find((g) => g.name === 'web')?.members).toEqual([]);
  });

  it('rejects a malformed line', () => {
    expect(() => parseGroupLine('moor-managed:x:997')).toThrow(/3 fields/);
  });
});
