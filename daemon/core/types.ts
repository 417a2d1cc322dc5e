// The shapes shared by discovery, transforms, rendering and the pass.

/** One path of a checkout as the scanner saw it (lstat: symlinks are never followed). */
export interface TreeEntry {
  /** Relative to the checkout root, '/'-separated, no leading './'. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** UTF-8 text of regular files within the size limit; for a secret (`.age`), its bytes in base64. */
  content?: string;
  /**
   * Set when the path is not valid UTF-8: the path with every such byte spelled `\xNN`
   * (`path` then holds U+FFFD in their place, for ignore patterns to match).
   */
  rawPath?: string;
}

/** Target path (relative to the user's ~/.config) → sha256 of its content: what the plan compares. */
export type FileHashes = Record<string, string>;

/** Target path (relative to the user's ~/.config) → the content written there: what a generation keeps. */
export type FileContents = Record<string, string>;

/**
 * How a file is deployed: Quadlet files, plain user units, files a `.kube` reads
 * (`Yaml=`, `ConfigMap=`: beside it, where Quadlet resolves them), data copied for the
 * workload's units to read, or a secret (`.age`): never written as a file, decrypted and
 * given to the user's Podman secret store (core/secrets.ts).
 */
export type FileKind = 'quadlet' | 'unit' | 'referenced' | 'data' | 'secret';

/** Kinds that are unit files moor parses, merges with transforms and validates. */
export function isUnitKind(kind: FileKind): kind is 'quadlet' | 'unit' {
  return kind === 'quadlet' || kind === 'unit';
}

export interface RepoFile {
  /** Relative to the checkout root, e.g. "apps/api.container". */
  path: string;
  /** Base name, e.g. "api.container". */
  name: string;
  /** Extension without the dot ("container", "env"); "" when the name has none. */
  ext: string;
  /** Group directory the file lives in, when not in the root. */
  group?: string;
  kind: FileKind;
  content: string;
  /**
   * Set for a file made from a companion template (`_base-<suffix>.<type>`, docs/transforms.md):
   * the template's path, which `path` then names too. Its placeholders are substituted for
   * the workload before anything else.
   */
  template?: string;
}

export interface Workload {
  /** The stem of the `.container`, `.pod` or `.kube`. */
  name: string;
  /** Linux user: user_prefix + name. */
  user: string;
  kind: 'container' | 'pod' | 'kube';
  group?: string;
  /** The `.container`, `.pod` or `.kube` file itself. */
  spec: RepoFile;
  /** `.container` files that are members of this pod (empty for a container workload). */
  members: RepoFile[];
  /** Every other file deployed under this workload's user (the files its `.kube` units read among them). */
  companions: RepoFile[];
}

export interface GroupInfo {
  name: string;
  /** The group holds a `.moor-no-transform` marker. */
  noTransform: boolean;
}

export interface DiscoveryOptions {
  userPrefix: string;
  /** Files larger than this are errors. */
  maxFileBytes: number;
  /** User names refused beyond the built-in reserved list (`prefix*` entries match a prefix). */
  reservedNames?: readonly string[];
  /** The host the tree is discovered for: `{{host}}` and `{{label.KEY}}` in a `.kube`'s `Yaml=`. */
  host?: { name: string; labels: Readonly<Record<string, string>> };
}
