// The exposition text read back by a real Prometheus text-format parser (not by moor's own
// code), with lookups by metric name and labels.
import parsePrometheus from 'parse-prometheus-text-format';

export interface ParsedSample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
export interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: ParsedSample[];
}

export function parseExposition(text: string): ParsedFamily[] {
  return (parsePrometheus as (t: string) => ParsedFamily[])(text);
}

export function family(families: ParsedFamily[], name: string): ParsedFamily {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no metric ${name} in: ${families.map((x) => x.name).join(', ')}`);
  return f;
}

/** The value of the one sample of `name` whose labels include `labels`, as a number. */
export function value(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const f = family(families, name);
  const matches = f.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return Number(matches[0]!.value ?? matches[0]!.count);
}
