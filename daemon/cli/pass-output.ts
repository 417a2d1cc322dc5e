// How a pass's result reads for people.
import type { PassResult } from '../pass/pass-result';
import type { PassProfileReport } from '../pass/profile';
import { safeLines, safeText } from '../core/safe-text';
import { table } from './output';

export function formatPassResult(r: PassResult): string {
  const rows = [['WORKLOAD', 'USER', 'ACTION', 'RESULT', 'DETAIL']];
  for (const i of r.items) {
    const detail = i.error ?? (i.action === 'unchanged' ? '' : i.reason);
    rows.push([i.workload, i.uid !== undefined ? `${i.user} (${i.uid})` : i.user, i.action, i.result, detail]);
  }
  const lines = r.items.length > 0 ? [table(rows)] : ['no workloads'];
  for (const i of r.items) if (i.diff) lines.push('', safeLines(i.diff.trimEnd()));
  lines.push('', safeText(r.summary));
  return lines.join('\n');
}

/** `--profile`: where the pass's time went, by step and by kind of host command. */
export function formatProfile(p: PassProfileReport): string {
  const ms = (v: number) => v.toFixed(1);
  const steps = [['STEP', 'COUNT', 'MS'], ...p.steps.map((r) => [r.name, String(r.count), ms(r.ms)])];
  const commands = [['HOST COMMAND', 'COUNT', 'MS'], ...p.commands.map((r) => [r.name, String(r.count), ms(r.ms)])];
  return `profile: ${ms(p.totalMs)} ms in all, ${ms(p.cpuMs)} ms of moor's own CPU; apply.* are parts of the apply step, summed over workloads\n${table(steps)}\n${table(commands)}`;
}
