// Unified diffs of a workload's files for `moor plan`: what was last applied against what
// the pass would write.
import { createTwoFilesPatch } from 'diff';

export function workloadDiff(user: string, before: Record<string, string>, after: Record<string, string>): string {
  const paths = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return paths
    .filter((p) => before[p] !== after[p])
    .map((p) => {
      const label = `~${user}/.config/${p}`;
      return createTwoFilesPatch(p in before ? label : '/dev/null', p in after ? label : '/dev/null', before[p] ?? '', after[p] ?? '', '', '', { context: 3 })
        .split('\n')
        .filter((line) => !line.startsWith('====='))
        .join('\n');
    })
    .join('');
}
