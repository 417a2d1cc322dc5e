// Text for people built from repo- and workload-sourced strings (docs/design.md §10): a
// pass's result (moor reconcile, plan, rollback), the progress lines of a pass run through
// the daemon, and the tables of status, generations and gc.
import { describe, expect, it } from 'vitest';
import { table } from '../../daemon/cli/output';
import { formatPassResult } from '../../daemon/cli/pass-output';
import { progressLine } from '../../daemon/cli/via-daemon';
import { summarize, type ItemOutcome } from '../../daemon/pass/pass-result';

const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const generator = 'not loaded after daemon-reload: web.service — generator says: bad\r\x1b[2K\u202Eok\n<0>api: create ok';

const failed: ItemOutcome = { workload: 'web', user: 'web', uid: 1001, action: 'update', reason: 'content changed', changed: [], removed: [], result: 'failed', error: generator, durationMs: 1500 };

describe('a pass result for people', () => {
  it("keeps an item's error on its row, escaped, and escapes its diff keeping the lines", () => {
    const diff = '--- a\n+++ b\n@@ -1 +1 @@\n-Description=a\n+Description=\x1b[1A\x1b[2K\u202Eb\n';
    const text = formatPassResult(
      summarize({ kind: 'pass', dryRun: false, commit: 'c'.repeat(40), source: 'origin', items: [{ ...failed, diff }] }),
    );
    expect(text).not.toMatch(RAW);
    const lines = text.split('\n');
    expect(lines[1]).toContain('generator says: bad\\x0d\\x1b[2K\\u{202E}ok\\x0a<0>api: create ok');
    expect(lines.filter((l) => l.includes('api: create ok'))).toHaveLength(1);
    expect(text).toContain('\n+Description=\\x1b[1A\\x1b[2K\\u{202E}b\n');
  });

  it('progress lines through the daemon are one line each, escaped', () => {
    const line = progressLine(failed);
    expect(line).not.toMatch(RAW);
    expect(line).not.toContain('\n');
    expect(line).toBe('  web: update failed (1.5s): not loaded after daemon-reload: web.service — generator says: bad\\x0d\\x1b[2K\\u{202E}ok\\x0a<0>api: create ok');
  });
});

describe('table', () => {
  it('escapes each cell to one line and aligns on what is shown', () => {
    expect(table([['A', 'B'], ['x\ny', '1'], ['\x1b', '2']])).toBe(['A       B', 'x\\x0ay  1', '\\x1b    2'].join('\n'));
  });
});
