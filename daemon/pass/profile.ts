// Where a pass spends its time: the wall time of each step (and of each part of applying a
// workload) and of each kind of host command, summed over the pass. Every span is also a
// debug line of the log; `moor reconcile --once --profile` prints the sums
// (bench/README.md publishes them).
import type { Logger } from 'pino';
import type { CommandResult, CommandRunner, RunOptions } from '../core/ports';

export interface ProfileRow {
  name: string;
  count: number;
  ms: number;
}

export interface PassProfileReport {
  totalMs: number;
  /**
   * CPU time of moor's own process over the pass (user and system, every thread): what the
   * pass's JavaScript, its I/O and its D-Bus cost, not the commands it runs.
   */
  cpuMs: number;
  /** Steps in the order they first ran; `apply.*` are the parts of applying a workload. */
  steps: ProfileRow[];
  /** Host commands by kind (`useradd`, `as user: systemctl --user show`...), slowest first. */
  commands: ProfileRow[];
}

export class PassProfile {
  private readonly started: number;
  private readonly cpuStarted: NodeJS.CpuUsage;
  private readonly steps = new Map<string, ProfileRow>();
  private readonly commands = new Map<string, ProfileRow>();

  constructor(
    private readonly log?: Logger,
    private readonly now: () => number = () => performance.now(),
    private readonly cpu: (since?: NodeJS.CpuUsage) => NodeJS.CpuUsage = (since) => process.cpuUsage(since),
  ) {
    this.started = now();
    this.cpuStarted = cpu();
  }

  /** Runs fn as the span `name`; spans of one name add up. */
  async span<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    try {
      return await fn();
    } finally {
      const ms = this.now() - t0;
      add(this.steps, name, ms);
      this.log?.debug({ span: name, ms: round(ms) }, `span ${name}: ${round(ms)} ms`);
    }
  }

  command(argv: readonly string[], ms: number): void {
    add(this.commands, commandKind(argv), ms);
  }

  report(): PassProfileReport {
    const rows = (m: Map<string, ProfileRow>) => [...m.values()].map((r) => ({ ...r, ms: round(r.ms) }));
    const cpu = this.cpu(this.cpuStarted);
    return {
      totalMs: round(this.now() - this.started),
      cpuMs: round((cpu.user + cpu.system) / 1000),
      steps: rows(this.steps),
      commands: rows(this.commands).sort((a, b) => b.ms - a.ms),
    };
  }
}

/** Runs fn as a span of the pass's profile, if it has one. */
/** The times a pass's metrics need from inside it (pass/pass-metrics.ts), measured whether or not a profile is. */
export interface PassTimings {
  lockWaitMs?: number;
  fetchMs?: number;
}

export function timed<T>(profile: PassProfile | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  return profile ? profile.span(name, fn) : fn();
}

/** A runner that reports the wall time of every command to the profile. */
export function profiledRunner(inner: CommandRunner, profile: PassProfile): CommandRunner {
  return {
    async run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
      const t0 = performance.now();
      try {
        return await inner.run(argv, options);
      } finally {
        profile.command(argv, performance.now() - t0);
      }
    },
  };
}

/**
 * What a command is, for the sums: the program and its subcommand, with systemd-run's
 * wrapper (a command run as a workload user) named as such; never its arguments, which
 * name users and files.
 */
export function commandKind(argv: readonly string[]): string {
  let rest = [...argv];
  let prefix = '';
  if (base(rest[0]) === 'systemd-run' && rest.includes('--')) {
    prefix = 'as user: ';
    rest = rest.slice(rest.indexOf('--') + 1);
  }
  const program = base(rest[0]);
  if (program === 'node' || /^node\d*$/.test(program)) {
    const sub = rest.find((a) => /^__?[a-z-]+$/.test(a));
    return `${prefix}moor ${sub ?? ''}`.trim();
  }
  const words = [program];
  for (const a of rest.slice(1)) {
    if (a === '--user') words.push(a);
    else if (!a.startsWith('-')) {
      words.push(a);
      break;
    }
  }
  // The subcommand is a word only for programs that have them.
  const sub = SUBCOMMANDS.has(program) ? words.join(' ') : program;
  return prefix + sub;
}

const SUBCOMMANDS = new Set(['systemctl', 'loginctl', 'podman', 'getent', 'git', 'journalctl']);

function base(program: string | undefined): string {
  return (program ?? '').split('/').pop() ?? '';
}

function add(m: Map<string, ProfileRow>, name: string, ms: number): void {
  const row = m.get(name) ?? { name, count: 0, ms: 0 };
  row.count += 1;
  row.ms += ms;
  m.set(name, row);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
