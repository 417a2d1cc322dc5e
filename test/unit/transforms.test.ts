import { describe, expect, it } from 'vitest';
import {
  applyTransforms,
  buildTransformSet,
  emptyTransformSet,
  groupsWithTransforms,
  loadTransformSet,
  parseTransformFile,
  type Identity,
  type Transform,
  type TransformSet,
} from '../../daemon/core/transforms';
import { cloneUnit, isEntry, parseUnit, writeUnit, type UnitFile } from '../../daemon/core/unit-file';

const identity: Identity = { name: 'api', user: 'api', uid: 1001, home: '/srv/api', host: 'h1', labels: {} };

function transform(name: string, content: string): Transform {
  const r = parseTransformFile(name, `transforms/${name}`, content);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.transform;
}

function set(files: Record<string, string>): TransformSet {
  const r = loadTransformSet(Object.entries(files).map(([name, content]) => ({ name, path: `transforms/${name}`, content })));
  expect(r.problems).toEqual([]);
  return r.set;
}

function spec(text: string): UnitFile {
  return parseUnit(text, 'apps/api.container').unit;
}

/** `null` for a spec in the repo root. */
function merge(specText: string, files: Record<string, string>, group: string | null = 'apps'): string {
  const opts = { type: 'container', group: group ?? undefined, transforms: set(files), identity };
  return writeUnit(applyTransforms(spec(specText), opts));
}

function problemsOf(name: string, content: string) {
  const r = parseTransformFile(name, `transforms/${name}`, content);
  return r.ok ? [] : r.problems;
}

describe('parseTransformFile', () => {
  it('reads base and group transforms with their prefixes', () => {
    const base = transform('_base.container', '[Container]\nA=1\n+B=2\n!C=3\n-D=\n');
    expect(base.group).toBeUndefined();
    expect(base.type).toBe('container');
    expect(base.sections[0]!.rules.map((r) => [r.op, r.key, r.value, r.line])).toEqual([
      ['default', 'A', '1', 2],
      ['prepend', 'B', '2', 3],
      ['force', 'C', '3', 4],
      ['remove', 'D', '', 5],
    ]);
    expect(transform('apps.timer', '[Timer]\n').group).toBe('apps');
  });

  it.each([
    ['container', 'transform-name'],
    ['.container', 'transform-name'],
    ['apps.', 'transform-name'],
    ['apps.conf', 'transform-type'],
    ['apps.artifact', 'transform-type'],
  ])('refuses the name %s', (name, code) => {
    expect(problemsOf(name, '[Container]\n')).toEqual([expect.objectContaining({ code, path: `transforms/${name}` })]);
  });

  it('reports syntax issues with their lines', () => {
    expect(problemsOf('_base.container', 'A=1\n[Container]\nnoequals\n')).toEqual([
      expect.objectContaining({ code: 'outside-section', line: 1 }),
      expect.objectContaining({ code: 'missing-equals', line: 3 }),
    ]);
  });

  it('refuses a -Key= with a value, naming the line', () => {
    const [p] = problemsOf('apps.container', '[Container]\n\n-PublishPort=80:80\n');
    expect(p).toMatchObject({ code: 'transform-remove-value', line: 3, path: 'transforms/apps.container' });
    expect(p!.hint).toContain('!PublishPort=80:80');
  });

  it('refuses a prefix with no key or a space after it', () => {
    expect(problemsOf('apps.container', '[Container]\n+=x\n! Key=y\n')).toEqual([
      expect.objectContaining({ code: 'transform-key', line: 2 }),
      expect.objectContaining({ code: 'transform-key', line: 3 }),
    ]);
  });

  it('refuses unknown placeholders with file, line and the placeholder, spaces included', () => {
    const problems = problemsOf('apps.container', '[Container]\nA={{name}}\nB={{ name }}\nC={{group}}-{{uid}}\n');
    expect(problems.map((p) => [p.code, p.line])).toEqual([
      ['unknown-placeholder', 3],
      ['unknown-placeholder', 4],
    ]);
    expect(problems[0]!.message).toBe('unknown placeholder {{ name }} in transforms/apps.container:3');
    expect(problems[1]!.message).toContain('{{group}}');
  });
});

describe('transform sets', () => {
  it('lists the groups that have a transform', () => {
    const s = set({ '_base.container': '[Container]\n', 'apps.container': '[Container]\n', 'db.volume': '[Volume]\n' });
    expect(groupsWithTransforms(s)).toEqual(new Set(['apps', 'db']));
    expect(groupsWithTransforms(emptyTransformSet())).toEqual(new Set());
  });

  it('reports two transforms for the same group and type', () => {
    const t = transform('apps.container', '[Container]\n');
    const r = buildTransformSet([t, { ...t, path: 'elsewhere/apps.container' }]);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'duplicate-transform', path: 'elsewhere/apps.container' })]);
  });
});

describe('applyTransforms: each rule alone', () => {
  it('uses a default only where the spec does not set the key', () => {
    const out = merge('[Container]\nImage=x\nLogDriver=k8s-file\n', {
      'apps.container': '[Container]\nLogDriver=journald\nLabel=a=1\n',
    });
    expect(out).toBe('[Container]\nImage=x\nLogDriver=k8s-file\nLabel=a=1\n');
  });

  it('counts an empty assignment in the spec as setting the key', () => {
    expect(merge('[Container]\nImage=x\nLabel=\n', { 'apps.container': '[Container]\nLabel=a=1\n' })).toBe(
      '[Container]\nImage=x\nLabel=\n',
    );
  });

  it('applies two defaults for one key, as the spec set neither', () => {
    expect(merge('[Container]\nImage=x\n', { 'apps.container': '[Container]\nLabel=a\nLabel=b\n' })).toBe(
      '[Container]\nImage=x\nLabel=a\nLabel=b\n',
    );
  });

  it('prepends + values before the spec values, keeping their order', () => {
    const out = merge('[Container]\nImage=x\nEnvironment=S=1\nEnvironment=S=2\n', {
      'apps.container': '[Container]\n+Environment=T=1\n+Environment=T=2\n',
    });
    expect(out).toBe('[Container]\nImage=x\nEnvironment=T=1\nEnvironment=T=2\nEnvironment=S=1\nEnvironment=S=2\n');
  });

  it('adds + values when the spec has none', () => {
    expect(merge('[Container]\nImage=x\n', { 'apps.container': '[Container]\n+Environment=T=1\n' })).toBe(
      '[Container]\nImage=x\nEnvironment=T=1\n',
    );
  });

  it('forces ! values in place of every spec value, across repeated sections', () => {
    const out = merge('[Container]\nImage=x\nPodmanArgs=--a\n[Unit]\nX=1\n[Container]\nPodmanArgs=--b\n', {
      'apps.container': '[Container]\n!PodmanArgs=--log-level=info\n!PodmanArgs=--c\n',
    });
    expect(out).toBe('[Container]\nImage=x\nPodmanArgs=--log-level=info\nPodmanArgs=--c\n\n[Unit]\nX=1\n\n[Container]\n');
  });

  it('removes -Key= from the spec, everywhere', () => {
    const out = merge('[Container]\nImage=x\nPublishPort=80:80\n# keep me\nPublishPort=443:443\n', {
      'apps.container': '[Container]\n-PublishPort=\n-NotThere=\n',
    });
    expect(out).toBe('[Container]\nImage=x\n# keep me\n');
  });

  it('adds the sections the spec lacks, also empty ones', () => {
    const out = merge('[Container]\nImage=x\n', { 'apps.container': '[Service]\nRestart=always\n[Install]\n' });
    expect(out).toBe('[Container]\nImage=x\n\n[Service]\nRestart=always\n\n[Install]\n');
  });
});

describe('applyTransforms: rules together, base then group', () => {
  const files = {
    '_base.container': '[Container]\nLabel=moor.workload={{name}}\n!LogDriver=journald\n[Service]\nRestart=on-failure\n',
    'apps.container':
      '[Container]\n+Environment=HOME_DIR={{home}}\n-PublishPort=\nLogDriver=k8s-file\n!Label=owner={{user}}:{{uid}}\n',
  };

  it('applies the base first, the group sees its result', () => {
    const out = merge('[Container]\nImage=x\nEnvironment=A=1\nPublishPort=80:80\n', files);
    expect(out).toBe(
      [
        '[Container]',
        'Image=x',
        'Environment=HOME_DIR=/srv/api',
        'Environment=A=1',
        // The group forces over the base default, in its place.
        'Label=owner=api:1001',
        // The group default does not override the base-forced value: the key is set by then.
        'LogDriver=journald',
        '',
        '[Service]',
        'Restart=on-failure',
        '',
      ].join('\n'),
    );
  });

  it('applies only the base outside any group', () => {
    expect(merge('[Container]\nImage=x\n', files, null)).toBe(
      '[Container]\nImage=x\nLabel=moor.workload=api\nLogDriver=journald\n\n[Service]\nRestart=on-failure\n',
    );
  });

  it('applies nothing of another type', () => {
    const s = set(files);
    const volume = parseUnit('[Volume]\n').unit;
    expect(writeUnit(applyTransforms(volume, { type: 'volume', group: 'apps', transforms: s, identity }))).toBe('[Volume]\n');
  });

  it('lets a forced value win over a default for the same key in one transform', () => {
    expect(merge('[Container]\nImage=x\n', { 'apps.container': '[Container]\nLabel=d\n!Label=f\n+Label=p\n' })).toBe(
      '[Container]\nImage=x\nLabel=p\nLabel=f\n',
    );
  });

  it('places -Key= with +Key= and a default: removed, then the prepend, no default', () => {
    expect(
      merge('[Container]\nImage=x\nVolume=a:/a\n', { 'apps.container': '[Container]\n-Volume=\n+Volume=b:/b\nVolume=c:/c\n' }),
    ).toBe('[Container]\nImage=x\nVolume=b:/b\n');
  });

  it('marks added entries with the transform path and line, and never mutates the spec', () => {
    const input = spec('[Container]\nImage=x\n');
    const before = cloneUnit(input);
    const out = applyTransforms(input, { type: 'container', group: 'apps', transforms: set(files), identity });
    expect(input).toEqual(before);
    const env = out.sections[0]!.items.filter(isEntry).find((e) => e.key === 'Environment');
    expect(env).toMatchObject({ source: 'transforms/apps.container', line: 2 });
    expect(out.sections[0]!.items[0]).toMatchObject({ key: 'Image', source: 'apps/api.container', line: 2 });
    expect(out.sections[1]).toMatchObject({ name: 'Service', source: 'transforms/_base.container', line: 4 });
  });
});

describe('the example transforms shipped with the project', () => {
  it('parse without problems', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../../transforms/', import.meta.url);
    const names = readdirSync(dir).filter((n) => !n.endsWith('.md'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const r = parseTransformFile(name, `transforms/${name}`, readFileSync(new URL(name, dir), 'utf8'));
      expect(r.ok ? [] : r.problems, name).toEqual([]);
    }
  });
});
