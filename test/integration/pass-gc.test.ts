// The history the docs promise (docs/configuration.md [gc]): no generation younger than
// min_age is deleted, whatever its state. A failed generation stays listed by `moor
// generations` through the passes that follow it, however many, until it is older than
// min_age; then only the newest failed one is kept for diagnosis.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMoor } from '../helpers/cli';
import { PassHarness, containerSpec } from '../helpers/pass-harness';

const MINUTE = 60_000;
const DAY = 86_400_000;

let h: PassHarness;
beforeEach(() => {
  h = new PassHarness();
  // keep_max well below the number of passes: only min_age can keep the failed ones.
  h.config = h.makeConfig({ gc: { keep_min: 1, keep_max: 2, min_age: 7 * DAY, max_age: 30 * DAY } });
});
afterEach(() => h.cleanup());

/** `moor generations --json` of the harness's state dir, as an operator runs it. */
function listed(): { generation: number; state: string }[] {
  const cfg = join(h.root, 'moor.toml');
  writeFileSync(cfg, [`state_dir = ${JSON.stringify(h.stateDir)}`, `transforms_dir = ${JSON.stringify(h.transformsDir)}`, ''].join('\n'));
  const r = runMoor(['--config', cfg, 'generations', '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { generations: { generation: number; state: string }[] }).generations.map(({ generation, state }) => ({ generation, state }));
}

describe('garbage collection after a failed pass', () => {
  it('keeps every failed generation younger than min_age through many more passes, and lists it', async () => {
    // Two passes in a row fail the same workload: generations 1 and 2 are failed.
    h.fake.failUnit('db', 'db.service');
    h.commit({ 'db.container': containerSpec('localhost/db:1') });
    expect((await h.pass()).result.generationState).toBe('failed');
    h.clock.advance(MINUTE);
    h.commit({ 'db.container': containerSpec('localhost/db:2') });
    expect((await h.pass()).result.generationState).toBe('failed');

    // Then a fixed workload and five more complete passes, a minute apart.
    (h.fake as unknown as { failing: Set<string> }).failing.delete('db/db.service');
    for (let n = 3; n <= 8; n++) {
      h.clock.advance(MINUTE);
      h.commit({ 'db.container': containerSpec(`localhost/db:${n}`) });
      const { result } = await h.pass();
      expect(result.generationState).toBe('complete');
      expect(result.generation).toBe(n);
    }

    // All within min_age: nothing deleted, failed ones included, beyond keep_max or not.
    expect(h.logs.filter((l) => l.includes('deleted old generations'))).toEqual([]);
    expect(listed()).toEqual([
      { generation: 1, state: 'failed' },
      { generation: 2, state: 'failed' },
      ...[3, 4, 5, 6, 7, 8].map((generation) => ({ generation, state: 'complete' })),
    ]);

    // Past min_age the next pass collects by the counts: the newest failed one (2) stays
    // for diagnosis, the older failed one and the complete ones beyond keep_max go.
    h.clock.advance(8 * DAY);
    h.commit({ 'db.container': containerSpec('localhost/db:9') });
    expect((await h.pass()).result.generation).toBe(9);
    expect(listed()).toEqual([
      { generation: 2, state: 'failed' },
      { generation: 8, state: 'complete' },
      { generation: 9, state: 'complete' },
    ]);
  });
});
