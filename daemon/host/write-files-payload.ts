// Runs AS the workload user (started in the user's slice, see as-user.ts and
// user-files.ts): writes and removes files under the user's home from a JSON payload on
// stdin. Because it holds the user's own rights, a symlink the user planted can at worst
// point it at the user's own files, never at root's (docs/design.md §5). The symlink
// checks below are defence in depth.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
// zod's mini build: this file is most of the writer bundle (dist/write-files.mjs), which a
// workload user starts per apply, and the full build is three quarters of a megabyte.
import * as z from 'zod/mini';

const relativePath = z.string().check(
  z.minLength(1),
  z.maxLength(4096),
  z.refine((p) => !p.startsWith('/'), 'must be relative'),
  z.refine((p) => p.split('/').every((c) => c !== '' && c !== '.' && c !== '..'), 'must not contain "..", "." or empty components'),
  // eslint-disable-next-line no-control-regex
  z.refine((p) => !/[\u0000-\u001f\u007f]/.test(p), 'must not contain control characters'),
);

const mode = z.int().check(z.minimum(0), z.maximum(0o777));

const payloadSchema = z.strictObject({
  /** "~" or "~/<relative>": the directory every path is relative to. */
  base: z.string().check(z.refine((b) => b === '~' || (b.startsWith('~/') && relativePath.safeParse(b.slice(2)).success), 'must be "~" or "~/<relative path>"')),
  files: z._default(z.array(z.strictObject({ path: relativePath, content: z.string(), mode })), []),
  remove: z._default(z.array(relativePath), []),
  /** Mode of directories this creates (existing ones are left as they are). */
  dirMode: z._default(mode, 0o700),
  /** When set, the process must run as this UID: a misrouted call writes nothing. */
  uid: z.optional(z.int().check(z.minimum(0))),
  /** When set, the home directory must be this one. */
  home: z.optional(z.string()),
});

export type WriteFilesPayload = z.output<typeof payloadSchema>;
export type WriteFilesPayloadInput = z.input<typeof payloadSchema>;

export interface WriteFilesResult {
  ok: boolean;
  /** Paths relative to base, as given. */
  written: string[];
  /** Files whose content and mode already matched; left untouched. */
  unchanged: string[];
  removed: string[];
  error?: string;
}

/** Parses and validates a payload; throws with a readable message. Pure. */
export function parseWriteFilesPayload(text: string): WriteFilesPayload {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`payload is not JSON: ${(e as Error).message}`);
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid payload at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const seen = new Set<string>();
  for (const p of [...parsed.data.files.map((f) => f.path), ...parsed.data.remove]) {
    if (seen.has(p)) throw new Error(`invalid payload: ${p} is listed twice`);
    seen.add(p);
  }
  return parsed.data;
}

/** The base's components below home, e.g. "~/.config" → [".config"]. */
export function baseComponents(base: string): string[] {
  return base === '~' ? [] : base.slice(2).split('/');
}

class Refused extends Error {}

// Every existing component below home must be a real directory (the last one, the file
// itself, a regular file). Missing ones are fine: they are created.
async function checkComponents(home: string, components: readonly string[], display: string): Promise<void> {
  let current = home;
  for (let i = 0; i < components.length; i++) {
    current = join(current, components[i] as string);
    const last = i === components.length - 1;
    let st;
    try {
      st = await lstat(current);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (st.isSymbolicLink()) throw new Refused(`refusing ${display}: ${current} is a symlink`);
    if (!last && !st.isDirectory()) throw new Refused(`refusing ${display}: ${current} is not a directory`);
    if (last && !st.isFile()) throw new Refused(`refusing ${display}: ${current} is not a regular file`);
  }
}

async function ensureDirs(home: string, components: readonly string[], dirMode: number): Promise<void> {
  let current = home;
  for (const c of components) {
    current = join(current, c);
    try {
      await mkdir(current, { mode: dirMode });
      // mkdir's mode passes through the umask; the payload's mode is meant exactly.
      await chmod(current, dirMode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await lstat(current);
      if (!st.isDirectory()) throw new Refused(`refusing ${current}: not a directory${st.isSymbolicLink() ? ' (symlink)' : ''}`);
    }
  }
}

// The rename is only durable once the directory entry is on disk.
async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function sameFile(path: string, content: string, fileMode: number): Promise<boolean> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || (st.mode & 0o777) !== fileMode) return false;
    return (await readFile(path, 'utf8')) === content;
  } catch {
    return false;
  }
}

/**
 * Applies a write-files payload under homeDir. Validates every path and checks every
 * existing component before changing anything; never throws, the result says what happened.
 */
export async function runWriteFilesPayload(stdinText: string, homeDir: string): Promise<WriteFilesResult> {
  const result: WriteFilesResult = { ok: false, written: [], unchanged: [], removed: [] };
  try {
    const payload = parseWriteFilesPayload(stdinText);
    if (payload.uid !== undefined && process.getuid?.() !== payload.uid) {
      throw new Refused(`running as uid ${process.getuid?.() ?? '?'}, payload is for uid ${payload.uid}`);
    }
    if (payload.home !== undefined && payload.home !== homeDir) {
      throw new Refused(`home is ${homeDir}, payload is for ${payload.home}`);
    }
    const base = baseComponents(payload.base);
    const split = (p: string) => [...base, ...p.split('/')];

    for (const f of payload.files) await checkComponents(homeDir, split(f.path), f.path);
    for (const r of payload.remove) await checkComponents(homeDir, split(r), r);

    for (const f of payload.files) {
      const components = split(f.path);
      const full = join(homeDir, ...components);
      await ensureDirs(homeDir, components.slice(0, -1), payload.dirMode);
      // Checked again right before the write: write-file-atomic resolves a symlinked target.
      await checkComponents(homeDir, components, f.path);
      if (await sameFile(full, f.content, f.mode)) {
        result.unchanged.push(f.path);
        continue;
      }
      await writeFileAtomic(full, f.content, { mode: f.mode, fsync: true, encoding: 'utf8' });
      await chmod(full, f.mode);
      await fsyncDir(join(homeDir, ...components.slice(0, -1)));
      result.written.push(f.path);
    }

    for (const r of payload.remove) {
      const components = split(r);
      await checkComponents(homeDir, components, r);
      try {
        await unlink(join(homeDir, ...components));
        result.removed.push(r);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    result.ok = true;
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
  }
  return result;
}
