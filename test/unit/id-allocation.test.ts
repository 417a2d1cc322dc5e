import { describe, expect, it } from 'vitest';
import { allocateIds, formatRange, policyProblems, type IdPolicy } from '../../daemon/core/id-allocation';
import { HostError } from '../../daemon/core/errors';
import { parseSubidFile } from '../../daemon/core/parse/subid';
import { parseLoginDefs } from '../../daemon/core/parse/login-defs';

const policy: IdPolicy = { uidMin: 1000, uidMax: 60000, subidMin: 100000, subidMax: 600100000, subidCount: 65536 };
const none = { uid: 0, subidEnd: 0 };

describe('allocateIds', () => {
  it('starts at the bottom of the bounds on a fresh host', () => {
    expect(allocateIds({ policy, highWater: none, takenUids: [0, 65534], takenRanges: [] })).toEqual({
      uid: 1000,
      subids: { start: 100000, count: 65536 },
    });
  });

  it('skips uids in passwd and ranges in /etc/subuid or /etc/subgid', () => {
    const taken = [{ start: 100000, count: 65536 }, { start: 165536, count: 10 }, { start: 300000, count: 65536 }];
    expect(allocateIds({ policy, highWater: none, takenUids: [1000, 1001, 1003], takenRanges: taken })).toEqual({
      uid: 1002,
      subids: { start: 165546, count: 65536 },
    });
    // A gap too small for a range is passed over; ranges may come in any order.
    const gap = [{ start: 231082, count: 100 }, { start: 100000, count: 131000 }];
    expect(allocateIds({ policy, highWater: none, takenUids: [], takenRanges: gap }).subids.start).toBe(231182);
  });

  it('never goes back below the high-water marks, even when the numbers below are free again', () => {
    // A removed user's uid 1004 and range 100000.. are gone from passwd and /etc/subuid.
    const highWater = { uid: 1004, subidEnd: 165536 };
    expect(allocateIds({ policy, highWater, takenUids: [1000], takenRanges: [] })).toEqual({
      uid: 1005,
      subids: { start: 165536, count: 65536 },
    });
  });

  it('honours a range narrower than login.defs', () => {
    const narrow = { ...policy, uidMin: 20000, uidMax: 20010, subidMin: 2000000, subidMax: 2999999, subidCount: 1000 };
    expect(allocateIds({ policy: narrow, highWater: { uid: 1200, subidEnd: 170000 }, takenUids: [20000], takenRanges: [] })).toEqual({
      uid: 20001,
      subids: { start: 2000000, count: 1000 },
    });
  });

  it('fails with a clear error when the uids are used up', () => {
    const small = { ...policy, uidMin: 1000, uidMax: 1002 };
    const run = () => allocateIds({ policy: small, highWater: { uid: 1001, subidEnd: 0 }, takenUids: [1002], takenRanges: [] });
    expect(run).toThrow(HostError);
    expect(run).toThrow(/no uid left to hand out.*never reused, so raise users.uid_max/);
  });

  it('fails with a clear error when the subordinate ids are used up', () => {
    const small = { ...policy, subidMax: 100000 + 2 * 65536 - 1 };
    expect(allocateIds({ policy: small, highWater: { uid: 0, subidEnd: 165536 }, takenUids: [], takenRanges: [] }).subids.start).toBe(165536);
    expect(() => allocateIds({ policy: small, highWater: { uid: 0, subidEnd: 231072 }, takenUids: [], takenRanges: [] })).toThrow(
      /no subordinate-id range of 65536 left below users.subid_max 231071.*raise users.subid_max/,
    );
  });

  it('formats a range the way usermod takes it', () => {
    expect(formatRange({ start: 100000, count: 65536 })).toBe('100000-165535');
  });
});

describe('policyProblems', () => {
  it('accepts the defaults and names each bad bound', () => {
    expect(policyProblems(policy, { uidMin: 1000, uidMax: 60000 })).toEqual([]);
    expect(policyProblems({ ...policy, uidMin: 500 }, { uidMin: 1000, uidMax: 60000 })[0]).toMatch(/must lie within UID_MIN..UID_MAX/);
    expect(policyProblems({ ...policy, uidMin: 2000, uidMax: 1999 }, { uidMin: 1000, uidMax: 60000 })[0]).toMatch(/above users.uid_max/);
    expect(policyProblems({ ...policy, subidMax: 100001 }, { uidMin: 1000, uidMax: 60000 })[0]).toMatch(/cannot hold one range/);
  });
});

describe('parseSubidFile', () => {
  it('reads name and uid owners and skips what is not a range', () => {
    expect(parseSubidFile('alice:100000:65536\n# note\n\n1001:165536:65536\nbroken line\nbob:1:x\n')).toEqual([
      { owner: 'alice', start: 100000, count: 65536 },
      { owner: '1001', start: 165536, count: 65536 },
    ]);
  });
});

describe('parseLoginDefs', () => {
  it('reads the uid and subid bounds, with shadow-utils defaults', () => {
    expect(parseLoginDefs('UID_MIN 2000\nUID_MAX 0xEA60\nSUB_UID_MIN 200000\n')).toEqual({
      UID_MIN: 2000,
      UID_MAX: 60000,
      SUB_UID_MIN: 200000,
      SUB_UID_MAX: 600100000,
      SUB_GID_MIN: 100000,
      SUB_GID_MAX: 600100000,
    });
  });
});
