// The pure parts of a removal: find arguments, process selection, subordinate ranges,
// tar's id maps, archive names and their garbage collection.
import { describe, expect, it } from 'vitest';
import { archiveFileName, decideArchiveGc, parseArchiveFileName, type ArchiveInfo } from '../../daemon/core/archive-policy';
import { journalFindArgv, leftoverFindArgv, namespaceMapLines, ownerTest, pidsOwnedBy } from '../../daemon/core/leftovers';
import { parseLoginDefs } from '../../daemon/core/parse/login-defs';
import { parseSubidFile, subidRangesOf } from '../../daemon/core/parse/subid';

const owners = { user: 'web', uid: 1001, ranges: [{ start: 165536, count: 65536 }] };

describe('find arguments', () => {
  it('a range is two numeric comparisons, never a list of ids', () => {
    expect(ownerTest(owners)).toEqual(['(', '-uid', '1001', '-o', '(', '-uid', '+165535', '-uid', '-231072', ')', ')']);
    expect(ownerTest({ ...owners, ranges: [] })).toEqual(['(', '-uid', '1001', ')']);
  });
  it('never follows a symlink, stays on one file system, and deletes or prints', () => {
    const argv = leftoverFindArgv('/tmp', owners, 'delete');
    expect(argv.slice(0, 5)).toEqual(['find', '-P', '/tmp', '-xdev', '-ignore_readdir_race']);
    expect(argv.at(-1)).toBe('-delete');
    expect(argv).not.toContain('-L');
    expect(leftoverFindArgv('/tmp', owners, 'print').at(-1)).toBe('-print');
  });
  it('the cron spool also matches the crontab by name (root-owned on some distributions)', () => {
    expect(leftoverFindArgv('/var/spool/cron', owners, 'delete').join(' ')).toContain('-o ( -type f ( -path /var/spool/cron/crontabs/web -o -path /var/spool/cron/web ) )');
    expect(leftoverFindArgv('/tmp', owners, 'delete').join(' ')).not.toContain('-path');
  });
  it('journal files by the uid in their name, one level below the machine id', () => {
    expect(journalFindArgv('/var/log/journal', 1001, 'delete').join(' ')).toBe(
      'find -P /var/log/journal -xdev -ignore_readdir_race -mindepth 2 -maxdepth 2 -type f ( -name user-1001.journal -o -name user-1001@*.journal -o -name user-1001@*.journal~ ) -delete',
    );
  });
});

describe('processes of the user', () => {
  it('any of real, effective or saved uid in the uid or the range', () => {
    const ps = ['    1     0     0     0', '  10  1001  1001  1001', '  11     0  1001  1001', '  12     0     0  1001', '  13 165536 165536 165536', '  14 231072 231072 231072', '  15 165535 165535 165535', 'garbage', ''].join('\n');
    expect(pidsOwnedBy(ps, owners)).toEqual([10, 11, 12, 13]);
  });
});

describe('subordinate ranges', () => {
  const file = ['# comment', 'web:165536:65536', 'api:231072:65536', '1005:296608:65536', 'bad line', 'zero:1:0', ''].join('\n');
  it('parses name:start:count lines, by name or uid', () => {
    expect(parseSubidFile(file).map((e) => e.owner)).toEqual(['web', 'api', '1005']);
    expect(subidRangesOf(parseSubidFile(file), 'web', 1001, 100000)).toEqual({ ranges: [{ start: 165536, count: 65536 }], problems: [] });
    expect(subidRangesOf(parseSubidFile(file), 'db', 1005, 100000).ranges).toEqual([{ start: 296608, count: 65536 }]);
    expect(subidRangesOf(parseSubidFile(file), 'none', 1009, 100000)).toEqual({ ranges: [], problems: [] });
  });
  it('a range shared with another entry, below SUB_UID_MIN or holding the uid is not the user alone', () => {
    const shared = parseSubidFile('web:165536:65536\nother:200000:10\n');
    expect(subidRangesOf(shared, 'web', 1001, 100000).problems).toEqual(["range 165536+65536 overlaps other's 200000+10"]);
    expect(subidRangesOf(parseSubidFile('web:1000:65536\n'), 'web', 1001, 100000).problems).toEqual(['range 1000+65536 starts below 100000', 'range 1000+65536 holds the user\'s own uid 1001']);
  });
  it('SUB_UID_MIN from login.defs', () => {
    expect(parseLoginDefs('SUB_UID_MIN\t\t 200000\nUID_MIN 1000\n').SUB_UID_MIN).toBe(200000);
    expect(parseLoginDefs('').SUB_UID_MIN).toBe(100000);
  });
});

describe("tar's id maps", () => {
  it('the uid becomes 0, the range 1..N in order', () => {
    const lines = namespaceMapLines(1001, [{ start: 165536, count: 3 }, { start: 300000, count: 2 }]).trimEnd().split('\n');
    expect(lines).toEqual(['+1001 +0', '+165536 +1', '+165537 +2', '+165538 +3', '+300000 +4', '+300001 +5']);
    expect(namespaceMapLines(1001, [{ start: 165536, count: 65536 }]).trimEnd().split('\n')).toHaveLength(65537);
  });
});

describe('archive names', () => {
  it('round-trips workload, uid and time (UTC, to the second)', () => {
    const at = new Date('2025-03-04T05:06:07.890Z');
    const name = archiveFileName('web-api', 1001, at);
    expect(name).toBe('web-api-1001-20250304T050607Z.tar.gz');
    expect(parseArchiveFileName(name)).toEqual({ workload: 'web-api', uid: 1001, createdAt: new Date('2025-03-04T05:06:07Z') });
  });
  it('anything else is not an archive', () => {
    for (const name of ['web-1001-20250304T050607Z.tar.gz.partial', '../x-1-20250304T050607Z.tar.gz', 'web-20250304T050607Z.tar.gz', 'Web-1-20250304T050607Z.tar.gz', 'web-1-20251304T050607Z.tar.gz']) {
      expect(parseArchiveFileName(name), name).toBeUndefined();
    }
  });
});

describe('archive garbage collection', () => {
  const now = new Date('2025-06-01T00:00:00Z');
  const day = 86_400_000;
  const archive = (name: string, daysOld: number, bytes: number): ArchiveInfo => ({ name, workload: name, uid: 1001, createdAt: new Date(now.getTime() - daysOld * day), bytes });
  it('deletes by age, then beyond the byte budget, newest first', () => {
    const decisions = decideArchiveGc([archive('old', 100, 1), archive('a', 1, 40), archive('b', 2, 40), archive('c', 3, 40)], { maxAgeMs: 90 * day, maxBytes: 100 }, now);
    expect(decisions.map((d) => [d.name, d.delete, d.reason])).toEqual([
      ['a', false, 'newest'],
      ['b', false, 'within the age and size budget'],
      ['c', true, 'beyond archive_max_bytes'],
      ['old', true, 'older than archive_max_age'],
    ]);
  });
  it('the newest archive is never deleted for its size', () => {
    expect(decideArchiveGc([archive('huge', 0, 1000), archive('small', 1, 1)], { maxAgeMs: 90 * day, maxBytes: 10 }, now).map((d) => d.delete)).toEqual([false, true]);
  });
});
