// The daemon maps none of ICU's data: Intl, localeCompare and toLocale* each map megabytes
// of it on first use, and stay resident in an idle daemon (bench/README.md, "Idle memory of
// the daemon"). Names are ordered by core/text-order.ts, the schedule by croner in local time.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..', 'daemon');
const ICU_CALLS = /\.localeCompare\(|\bIntl\.|\.toLocale\w*\(/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('no ICU in the daemon', () => {
  it('no source calls Intl, localeCompare or toLocale*', () => {
    const found = sources(ROOT).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) => (ICU_CALLS.test(line) && !line.trimStart().startsWith('//') ? [`${file.slice(ROOT.length + 1)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(found).toEqual([]);
  });
});
