// Every --json object starts with "schema": 1 (docs/design.md §10), lists under a key of
// their own, and every command that changes something has --json: redeploy, resume,
// install-units, gc (rollback and reconcile print a pass result).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateStore } from '../../daemon/state/store';
import { runMoor } from '../helpers/cli';

const root = mkdtempSync(join(tmpdir(), 'moor-cli-json-'));
const cfg = join(root, 'moor.toml');
const stateDir = join(root, 'state');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  writeFileSync(
    cfg,
    [`state_dir = ${JSON.stringify(stateDir)}`, `transforms_dir = ${JSON.stringify(join(root, 'none'))}`, `lock_path = ${JSON.stringify(join(root, 'lock'))}`, '[control]', `socket = ${JSON.stringify(join(root, 'none.sock'))}`, ''].join('\n'),
  );
  const store = await openStateStore(stateDir);
  for (let i = 0; i < 3; i++) {
    const id = await store.generations.begin({ kind: 'pass', commit: 'c'.repeat(40), source: 'origin', workloads: {} });
    await store.generations.finish(id, []);
  }
});

function json(args: string[]): Record<string, unknown> {
  const r = runMoor(['--config', cfg, ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  // The version comes first, so a script reading the start of the text sees it too.
  expect(Object.keys(out)[0]).toBe('schema');
  expect(out.schema).toBe(1);
  return out;
}

describe('--json carries the schema version', () => {
  it('moor generations: the list under "generations"', () => {
    const out = json(['generations']);
    expect((out.generations as { generation: number }[]).map((g) => g.generation)).toEqual([1, 2, 3]);
  });

  it('moor status: the report, with when the units were read', () => {
    const out = json(['status', '--no-daemon']);
    expect(out).toMatchObject({ workloads: [], latest: { generation: 3 } });
    expect(out.systemd).toBeDefined();
  });

  it('moor redeploy: the workload requested', () => {
    expect(json(['redeploy', 'web'])).toEqual({ schema: 1, requested: 'web' });
  });

  it('moor resume: null when nothing was pinned, no pass run', () => {
    expect(json(['resume'])).toEqual({ schema: 1, unpinned: null });
  });

  it('moor gc: the decisions and what was deleted', () => {
    const out = json(['gc']);
    expect(out).toMatchObject({ deleted: [], archives: { deleted: [] } });
    expect((out.decisions as unknown[]).length).toBe(3);
  });

  it('moor install-units: each file with what was done, and the next steps', () => {
    const prefix = join(root, 'image');
    const first = json(['install-units', '--prefix', prefix]);
    const files = first.files as { path: string; done: string }[];
    expect(files.length).toBeGreaterThan(0);
    expect(files).toContainEqual({ path: join(prefix, 'etc/systemd/system/moor.service'), done: 'installed' });
    expect(first.nextSteps).toContain('systemd-sysusers');
    const again = json(['install-units', '--prefix', prefix]);
    expect((again.files as { done: string }[]).every((f) => f.done === 'unchanged')).toBe(true);
  });
});
