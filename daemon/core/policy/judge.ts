// Policy × facts → violations, each naming the rule, the unit and the offending value.
// One judge for `moor check`, the pass's check of a spec before it is written, and the
// pass's check of what systemd has loaded after daemon-reload.
import type { Fact, Policy, Rule, Violation } from './model';

/** The user the unit runs as, to resolve systemd specifiers in host paths. */
export interface JudgeContext {
  home?: string;
  uid?: number;
  user?: string;
}

export function judge(policy: Policy, facts: readonly Fact[], unit: string, ctx: JudgeContext = {}): Violation[] {
  const out: Violation[] = [];
  const refuse = (rule: Rule, fact: Fact, what: string, allowed: string) =>
    out.push({
      rule,
      unit,
      fact,
      message: `policy rule "${rule}": ${unit} ${what} (${fact.as})${allowed ? `; this host allows ${allowed}` : ''}`,
      hint: rule === 'judgeable' ? judgeableHint(fact) : `remove it from the spec, or allow it in the host's [policy] ${rule}`,
    });
  for (const fact of facts) {
    const v = fact.value;
    switch (fact.kind) {
      case 'image':
        if (policy.images && !policy.images.some((p) => globMatch(p, v))) refuse('images', fact, `runs image "${v}"`, listed(policy.images));
        break;
      case 'publish':
        if (policy.ports && !portAllowed(policy.ports, v)) {
          refuse('ports', fact, v === 'random' ? 'publishes a port on a host port podman picks' : `publishes host port ${v}`, listed(policy.ports.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))));
        }
        break;
      case 'publish-all':
        if (policy.ports) refuse('ports', fact, 'publishes every exposed port on host ports podman picks', listed(policy.ports.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))));
        break;
      case 'host-path': {
        if (!policy.hostPaths) break;
        const path = hostPath(v, ctx);
        if (typeof path !== 'string') refuse('host_paths', fact, `mounts host path "${v}", ${path.why}`, listed(policy.hostPaths));
        else if (!policy.hostPaths.some((a) => under(path, a, ctx))) refuse('host_paths', fact, `mounts host path ${path}`, listed(policy.hostPaths));
        break;
      }
      case 'privileged':
        if (policy.privileged === false) refuse('privileged', fact, `runs privileged or unconfined (${v})`, '');
        break;
      case 'capability':
        if (policy.capabilities && !policy.capabilities.includes(v)) refuse('capabilities', fact, `adds capability ${v}`, listed(policy.capabilities));
        break;
      case 'namespace': {
        const kind = v.split('=')[0]!;
        if (policy.hostNamespaces && !policy.hostNamespaces.includes(kind as never)) refuse('host_namespaces', fact, `joins a namespace of the host (${v})`, listed(policy.hostNamespaces));
        break;
      }
      case 'device':
        if (policy.devices && !policy.devices.some((p) => globMatch(p, v))) refuse('devices', fact, `gets host device ${v}`, listed(policy.devices));
        break;
      case 'pull':
        if (policy.pull && !policy.pull.includes(v)) refuse('pull', fact, `pulls images with policy "${v}"`, listed(policy.pull));
        break;
      case 'program':
        if (!policy.programs.includes(v)) refuse('programs', fact, `runs ${v}, which is neither podman nor one of the programs the policy lists`, listed(policy.programs));
        break;
      case 'unjudgeable':
        refuse('judgeable', fact, `cannot be judged: ${v}`, '');
        break;
    }
  }
  return out;
}

/** A Kubernetes YAML is fixed by writing it plainly; a command line by writing it out. */
function judgeableHint(fact: Fact): string {
  const yaml = /\.ya?ml$/i.test(fact.source ?? '') || /\.ya?ml:\d+: /i.test(fact.as);
  return yaml
    ? 'write the YAML with only what the host policy judges (no aliases, tags or unknown fields, strings quoted when YAML could read them otherwise), or run it on a host without a [policy]'
    : 'write the command so podman runs with every option on its own Exec line, or run it on a host without a [policy]';
}

const listed = (items: readonly string[]) => (items.length === 0 ? 'none' : items.join(', '));

/** `*` matches any run of characters (slashes included); everything else is literal. */
export function globMatch(pattern: string, value: string): boolean {
  const re = pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${re}$`).test(value);
}

function portAllowed(ranges: readonly [number, number][], value: string): boolean {
  const m = /^(\d+)(?:-(\d+))?$/.exec(value);
  if (!m) return false;
  const first = Number(m[1]);
  const last = Number(m[2] ?? m[1]);
  return ranges.some(([a, b]) => first >= a && last <= b && first <= last);
}

/** systemd's specifiers of a user unit that name paths, and `%%`. */
function expand(path: string, ctx: JudgeContext): string {
  return path.replace(/%([%htUu])/g, (all, c: string) => {
    if (c === '%') return '\0';
    if (c === 'h') return ctx.home ?? all;
    if (c === 't') return ctx.uid !== undefined ? `/run/user/${ctx.uid}` : all;
    if (c === 'U') return ctx.uid !== undefined ? String(ctx.uid) : all;
    return ctx.user ?? all;
  });
}

/** An absolute, normalized path, or why the path cannot be judged. */
export function hostPath(raw: string, ctx: JudgeContext): string | { why: string } {
  const expanded = expand(raw, ctx);
  // Without a real home (moor check), "%h" stays a prefix both sides share.
  const rooted = expanded.startsWith('%h/') || expanded === '%h';
  if (expanded.replace(/^%h(?=\/|$)/, '').includes('%')) return { why: 'which holds a specifier moor does not resolve' };
  if (!expanded.startsWith('/') && !rooted) return { why: 'which is not an absolute path' };
  const parts: string[] = [];
  for (const p of expanded.slice(rooted ? 3 : 1).split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) return { why: 'which climbs above its root' };
      parts.pop();
    } else parts.push(p.replaceAll('\0', '%'));
  }
  if (rooted) return parts.length > 0 ? `%h/${parts.join('/')}` : '%h';
  return `/${parts.join('/')}`;
}

function under(path: string, allowed: string, ctx: JudgeContext): boolean {
  const base = hostPath(allowed, ctx);
  if (typeof base !== 'string') return false;
  if (base === '/') return true;
  return path === base || path.startsWith(`${base}/`);
}
