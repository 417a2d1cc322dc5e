// Values of podman options, read as podman reads them: the host side of a published
// port, a volume's or mount's host source, capabilities, a namespace mode, a security
// option that lifts a confinement. Shared by the command line, Quadlet keys and
// Kubernetes YAML.
/** The host side of `--publish`: a port, a range, or "random" when podman picks one. */
export function hostPortOf(spec: string): string {
  const noProto = spec.replace(/\/[a-z]+$/i, '');
  const parts: string[] = [];
  let cur = '';
  let bracket = false;
  for (const c of noProto) {
    if (c === '[') bracket = true;
    if (c === ']') bracket = false;
    if (c === ':' && !bracket) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  const host = parts.length === 2 ? parts[0]! : parts.length === 3 ? parts[1]! : '';
  return host === '' ? 'random' : host;
}

/** `-v SRC:DST[:OPTS]` and Quadlet's Volume=: the source when it is a host path. */
export function volumeHostPaths(spec: string): string[] {
  const parts = spec.split(':');
  if (parts.length < 2) return [];
  return /^[/.~%]/.test(parts[0]!) ? [parts[0]!] : [];
}

/** `--mount type=...,source=...`: a bind's (or glob's) host source, an image mount's image. */
export function mountFacts(spec: string): { kind: 'host-path' | 'image'; value: string }[] {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    fields.set(eq < 0 ? part : part.slice(0, eq), eq < 0 ? 'true' : part.slice(eq + 1));
  }
  const type = fields.get('type') ?? '';
  const source = fields.get('source') ?? fields.get('src');
  if (source === undefined) return [];
  if (type === 'image') return [{ kind: 'image', value: source }];
  if (['tmpfs', 'ramfs', 'devpts'].includes(type)) return [];
  return type === 'bind' || type === 'glob' || /^[/.~%]/.test(source) ? [{ kind: 'host-path', value: source }] : [];
}

export function capabilities(list: string): string[] {
  return list
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((c) => c.toUpperCase().replace(/^CAP_/, ''));
}

export function isHostNamespace(mode: string): boolean {
  return mode === 'host' || mode.startsWith('ns:');
}

/** A security option that lifts a confinement: seccomp, AppArmor or SELinux off, paths unmasked. */
export function unconfining(opt: string): boolean {
  return /=unconfined$/.test(opt) || opt === 'label=disable' || opt.startsWith('unmask=') || opt === 'label=type:spc_t';
}

