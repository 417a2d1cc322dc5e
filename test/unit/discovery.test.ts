import { describe, expect, it } from 'vitest';
import { discover } from '../../daemon/core/discovery';
import type { DiscoveryOptions, TreeEntry, Workload } from '../../daemon/core/types';
import type { Problem } from '../../daemon/core/problem';
import { isValidUserName, userNameViolation } from '../../daemon/core/user-name';

const MiB = 1024 * 1024;
const opts: DiscoveryOptions = { userPrefix: '', maxFileBytes: MiB };

function file(path: string, content = `# ${path}\n`): TreeEntry {
  return { path, type: 'file', size: Buffer.byteLength(content), content };
}
function big(path: string, size: number): TreeEntry {
  return { path, type: 'file', size };
}
function link(path: string): TreeEntry {
  return { path, type: 'symlink', size: 11 };
}
function dir(path: string): TreeEntry {
  return { path, type: 'dir', size: 0 };
}

function run(entries: TreeEntry[], o: Partial<DiscoveryOptions> = {}) {
  return discover(entries, { ...opts, ...o });
}
function byName(ws: Workload[], name: string): Workload {
  const w = ws.find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${name} in ${ws.map((x) => x.name).join(', ')}`);
  return w;
}
const paths = (fs: { path: string }[]) => fs.map((f) => f.path);
const codes = (ps: Problem[]) => ps.map((p) => `${p.code} ${p.path}`);

describe('workloads and companions', () => {
  it('attaches each file to the longest .container/.pod stem followed by "-" or "."', () => {
    const r = run([
      file('web.container'),
      file('web-cache.container'),
      file('web-cache-data.volume'),
      file('web.env'),
      file('web-nightly.timer'),
      file('web-nightly.service'),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.workloads.map((w) => w.name)).toEqual(['web', 'web-cache']);
    const web = byName(r.workloads, 'web');
    expect(web).toMatchObject({ user: 'web', kind: 'container', members: [] });
    expect(web.spec).toEqual({
      path: 'web.container',
      name: 'web.container',
      ext: 'container',
      kind: 'quadlet',
      content: '# web.container\n',
    });
    expect(paths(web.companions)).toEqual(['web-nightly.service', 'web-nightly.timer', 'web.env']);
    expect(paths(byName(r.workloads, 'web-cache').companions)).toEqual(['web-cache-data.volume']);
  });

  it('classifies companions as quadlet, unit or data by extension', () => {
    const names = [
      'a.volume', 'a.network', 'a.image', 'a.build', 'a.kube',
      'a.service', 'a.timer', 'a.socket', 'a.path', 'a.target',
      'a.env', 'a.conf', 'a-Dockerfile', 'a.tar.gz',
    ];
    const r = run([file('a.container'), ...names.map((n) => file(n))]);
    expect(r.problems).toEqual([]);
    const kinds = Object.fromEntries(byName(r.workloads, 'a').companions.map((c) => [c.name, c.kind]));
    expect(kinds).toEqual({
      'a.volume': 'quadlet', 'a.network': 'quadlet', 'a.image': 'quadlet', 'a.build': 'quadlet', 'a.kube': 'quadlet',
      'a.service': 'unit', 'a.timer': 'unit', 'a.socket': 'unit', 'a.path': 'unit', 'a.target': 'unit',
      'a.env': 'data', 'a.conf': 'data', 'a-Dockerfile': 'data', 'a.tar.gz': 'data',
    });
    const tar = byName(r.workloads, 'a').companions.find((c) => c.name === 'a.tar.gz');
    expect(tar?.ext).toBe('gz');
    expect(byName(r.workloads, 'a').companions.find((c) => c.name === 'a-Dockerfile')?.ext).toBe('');
  });

  it('needs "-" or "." right after the stem', () => {
    const r = run([file('web.container'), file('webserver.env')]);
    expect(codes(r.problems)).toEqual(['orphan webserver.env']);
  });

  it('a .pod is a workload and shop-*.container are its members, companions included', () => {
    const r = run([
      file('shop.pod'),
      file('shop-db.container'),
      file('shop-web.container'),
      file('shop-db.env'),
      file('shop-db-data.volume'),
      file('shop.network'),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.workloads.map((w) => w.name)).toEqual(['shop']);
    const shop = byName(r.workloads, 'shop');
    expect(shop).toMatchObject({ kind: 'pod', user: 'shop' });
    expect(shop.spec.path).toBe('shop.pod');
    expect(shop.members.map((m) => [m.path, m.kind])).toEqual([
      ['shop-db.container', 'quadlet'],
      ['shop-web.container', 'quadlet'],
    ]);
    expect(paths(shop.companions)).toEqual(['shop-db-data.volume', 'shop-db.env', 'shop.network']);
  });

  it('a member joins the longest pod stem, wherever it is in the tree', () => {
    const r = run([
      file('a/shop.pod'),
      file('shop-admin.pod'),
      file('b/shop-admin-ui.container'),
      file('b/shop-db.container'),
      file('shopping.container'),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.workloads.map((w) => w.name)).toEqual(['shop', 'shop-admin', 'shopping']);
    expect(paths(byName(r.workloads, 'shop').members)).toEqual(['b/shop-db.container']);
    expect(paths(byName(r.workloads, 'shop-admin').members)).toEqual(['b/shop-admin-ui.container']);
    expect(byName(r.workloads, 'shop').members[0]?.group).toBe('b');
  });

  it('applies the user prefix', () => {
    const r = run([file('web.container')], { userPrefix: 'moor-' });
    expect(byName(r.workloads, 'web').user).toBe('moor-web');
    expect(r.problems).toEqual([]);
  });
});

describe('groups', () => {
  it('lists group directories holding files or a marker, and the no-transform marker', () => {
    const r = run([
      dir('apps'),
      file('apps/api.container'),
      file('apps/api.env'),
      file('infra/.moor-no-transform', ''),
      file('infra/dns.container'),
      file('tools/.moor-no-transform', ''),
      file('docs/README.md'),
      dir('empty'),
      file('web.container'),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.groups).toEqual([
      { name: 'apps', noTransform: false },
      { name: 'infra', noTransform: true },
      { name: 'tools', noTransform: true },
    ]);
    const api = byName(r.workloads, 'api');
    expect(api.group).toBe('apps');
    expect(api.spec.group).toBe('apps');
    expect(api.companions[0]).toMatchObject({ path: 'apps/api.env', group: 'apps', kind: 'data' });
    expect(byName(r.workloads, 'web').group).toBeUndefined();
  });

  it('attaches a companion in another group to its workload', () => {
    const r = run([file('a/web.container'), file('b/web.env')]);
    expect(r.problems).toEqual([]);
    expect(paths(byName(r.workloads, 'web').companions)).toEqual(['b/web.env']);
  });

  it('refuses a group directory whose name is not a valid name', () => {
    const r = run([file('My Apps/api.container'), file('Infra/dns.container'), file(`${'g'.repeat(33)}/x.container`)]);
    // Sorted by code unit (core/text-order.ts), whatever the locale: capitals first.
    expect(codes(r.problems)).toEqual([
      'bad-group-name Infra',
      'bad-group-name My Apps',
      `bad-group-name ${'g'.repeat(33)}`,
    ]);
    expect(r.problems.every((p) => p.workload === undefined && p.hint)).toBe(true);
    expect(r.problems.find((p) => p.path === 'Infra')?.message).toMatch(/"I"/);
    expect(r.groups).toEqual([]);
  });

  it('refuses anything below a group directory, once per directory', () => {
    const r = run([
      file('apps/api.container'),
      dir('apps/sub'),
      file('apps/sub/x.container'),
      file('apps/sub/y.env'),
      dir('apps/sub/deeper'),
      dir('infra/nested/more'),
      file('apps/docs/README.md'),
    ]);
    expect(codes(r.problems)).toEqual(['too-deep apps/sub', 'too-deep infra/nested']);
    expect(r.problems[0]?.hint).toMatch(/\.moorignore/);
    expect(r.workloads.map((w) => w.name)).toEqual(['api']);
  });
});

describe('sections', () => {
  it("fails the whole tree on quadsync's [Secrets] or another unknown section, in any file of a workload", () => {
    const r = run([
      file('web.container', '[Container]\nImage=x\n[Secrets]\nEnvironment=PASSWORD=hunter2\n'),
      file('web-nightly.timer', '[Timer]\nOnCalendar=daily\n[Secret]\n'),
      file('web.env', '[Secrets]\nA=1\n'),
      file('api.container', '[Container]\nImage=x\n'),
    ]);
    expect(r.problems.map((p) => `${p.code} ${p.path}:${p.line}`)).toEqual(['unknown-section web-nightly.timer:3', 'secrets-section web.container:3']);
    expect(r.problems.every((p) => p.workload === undefined)).toBe(true);
  });
});

describe('ignored files', () => {
  it('skips .git/, .gitignore and *.md without a word', () => {
    const r = run([
      dir('.git'),
      file('.git/config'),
      dir('.git/objects/ab/cd'),
      file('.git/objects/ab/cdef'),
      file('.gitignore'),
      file('apps/.gitignore'),
      file('README.md'),
      file('CHANGELOG.MD'),
      file('apps/NOTES.md'),
      file('sub/.git', 'gitdir: ../.git/modules/sub'),
      file('web.container'),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.workloads.map((w) => w.name)).toEqual(['web']);
    expect(r.groups).toEqual([]);
  });

  it('skips the usual repository files by default, at the root and in a group', () => {
    const r = run([
      file('web.container'),
      file('.editorconfig'),
      file('.github/workflows/ci.yml'),
      file('.gitlab-ci.yml'),
      file('LICENSE'),
      file('LICENSE-MIT'),
      file('licence.txt'),
      file('COPYING'),
      file('NOTICE'),
      file('AUTHORS'),
      file('CODEOWNERS'),
      file('README'),
      file('readme.rst'),
      file('CHANGELOG'),
      file('CONTRIBUTING.adoc'),
      file('SECURITY.txt'),
      file('renovate.json'),
      file('apps/renovate.json5'),
      file('apps/LICENSE'),
      file('apps/api.container'),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.workloads.map((w) => w.name)).toEqual(['api', 'web']);
    expect(byName(r.workloads, 'web').companions).toEqual([]);
  });

  it('ignores a repository file only where it would be an orphan: a companion is still deployed', () => {
    const r = run([file('license.container'), file('license.txt'), file('readme-web.container'), file('readme-web.env'), file('README')]);
    expect(r.problems).toEqual([]);
    expect(r.workloads.map((w) => w.name)).toEqual(['license', 'readme-web']);
    expect(paths(byName(r.workloads, 'license').companions)).toEqual(['license.txt']);
    expect(paths(byName(r.workloads, 'readme-web').companions)).toEqual(['readme-web.env']);
  });

  it('ignores only whole repository file names: a companion that starts like one is still deployed', () => {
    const r = run([file('web.container'), file('web-license.txt'), file('licenses.json'), file('readmeweb.conf')]);
    expect(codes(r.problems)).toEqual(['orphan licenses.json', 'orphan readmeweb.conf']);
    expect(paths(byName(r.workloads, 'web').companions)).toEqual(['web-license.txt']);
  });

  it('skips whatever the root .moorignore matches, with gitignore semantics', () => {
    const r = run([
      file('.moorignore', '# CI\n.github/\nci/\n*.sh\n!keep.sh\nLICENSE\n'),
      file('.github/workflows/check.yml'),
      file('ci/lint.sh'),
      dir('ci/deep/er'),
      file('ci/deep/er.txt'),
      file('tool.sh'),
      file('keep.sh'),
      file('LICENSE'),
      link('ci/link'),
      file('web.container'),
    ]);
    expect(codes(r.problems)).toEqual(['orphan keep.sh']);
    expect(r.groups).toEqual([]);
  });

  it('matches .moorignore patterns case-sensitively, like git on Linux', () => {
    const r = run([file('.moorignore', 'junk.txt\n'), file('JUNK.txt'), file('web.container')]);
    expect(codes(r.problems)).toEqual(['orphan JUNK.txt']);
  });

  it('reads only the root .moorignore', () => {
    const r = run([file('apps/.moorignore', '*\n'), file('apps/junk.txt')]);
    expect(codes(r.problems)).toEqual(['hidden-file apps/.moorignore', 'orphan apps/junk.txt']);
    expect(r.problems[0]?.hint).toMatch(/root \.moorignore/);
  });

  it('refuses a .moorignore that is a symlink, and applies none of it', () => {
    const r = run([link('.moorignore'), file('junk.txt')]);
    expect(codes(r.problems)).toEqual(['symlink .moorignore', 'orphan junk.txt']);
  });

  it('refuses a no-transform marker that is a symlink', () => {
    const r = run([link('apps/.moor-no-transform'), file('apps/api.container')]);
    expect(codes(r.problems)).toEqual(['symlink apps/.moor-no-transform']);
    expect(r.groups).toEqual([{ name: 'apps', noTransform: false }]);
  });
});

describe('names', () => {
  it('refuses a stem that is not a valid user name, and says why and how to fix it', () => {
    const r = run([file('Root.container'), file('web.app.container'), file('ok.container')]);
    expect(codes(r.problems)).toEqual(['invalid-user-name Root.container', 'invalid-user-name web.app.container']);
    const root = r.problems.find((p) => p.path === 'Root.container');
    expect(root?.message).toMatch(/"Root".*starts with "R".*lowercase/);
    expect(root?.message).toMatch(/Linux user/);
    expect(root?.hint).toMatch(/rename Root\.container.*lowercase/);
    expect(root?.workload).toBe('Root');
    expect(r.problems.find((p) => p.path === 'web.app.container')?.message).toMatch(/contains "\."/);
    // Still listed: the failure is that workload's own, the pass keeps it as it runs.
    expect(r.workloads.map((w) => w.name)).toEqual(['Root', 'ok', 'web.app']);
  });

  it('limits the user (prefix included) to 32 characters', () => {
    const s27 = 'a'.repeat(27);
    const s28 = 'b'.repeat(28);
    const ok = run([file(`${s27}.container`), file(`${'c'.repeat(32)}.pod`)], { userPrefix: '' });
    expect(ok.problems).toEqual([]);
    const r = run([file(`${s27}.container`), file(`${s28}.container`)], { userPrefix: 'moor-' });
    expect(codes(r.problems)).toEqual([`invalid-user-name ${s28}.container`]);
    expect(r.problems[0]?.message).toMatch(/33 characters.*at most 32/);
    expect(r.problems[0]?.hint).toMatch(/at most 27 characters/);
    expect(r.problems[0]?.workload).toBe(s28);
    const long = run([file(`${'d'.repeat(33)}.container`)]);
    expect(codes(long.problems)).toEqual([`invalid-user-name ${'d'.repeat(33)}.container`]);
  });

  it('user-name rule', () => {
    for (const ok of ['web', '_svc', 'a-b_c9', 'x'.repeat(32)]) expect(isValidUserName(ok)).toBe(true);
    for (const bad of ['', 'Web', '9web', '-web', 'we.b', 'web$', 'wéb', 'x'.repeat(33)]) {
      expect(isValidUserName(bad)).toBe(false);
      expect(userNameViolation(bad)).toBeTypeOf('string');
    }
  });

  it('ignores hidden files and folders, but refuses a hidden unit file', () => {
    const r = run([
      file('web.container', '[Container]\nImage=x\n'),
      file('.env'),
      file('.editorconfig'),
      file('.github/workflows/a.yml'),
      file('.github/b.yml'),
      file('.github/deep/er/than/ten/levels.yml'),
      file('.vscode/web.container'),
      file('apps/.hidden'),
      file('apps/.moor-no-transform', ''),
      file('.web-old.container'),
      file('apps/.api.service'),
    ]);
    expect(codes(r.problems)).toEqual(['hidden-file .web-old.container', 'hidden-file apps/.api.service']);
    expect(r.problems[0]?.hint).toMatch(/without the leading dot, or list it in \.moorignore/);
    expect(r.workloads.map((w) => w.name)).toEqual(['web']);
    expect(r.groups).toEqual([{ name: 'apps', noTransform: true }]);
  });

  it('refuses a name that looks like a misspelled unit, with the name it probably meant', () => {
    const r = run([
      file('web.container'),
      file('web.contianer'),
      file('web-db.Container'),
      file('web-cache.volumes'),
      file('apps/api.servce'),
      file('apps/.moor-no-transform', ''),
      file('web-nightly.timr'),
      file('web.conatiner.d/10-mem.conf'),
      file('web.conatiner.d/20-cpu.conf'),
      file('shop.pd'),
    ]);
    expect(codes(r.problems)).toEqual([
      'misspelled-type apps/api.servce',
      'misspelled-type shop.pd',
      'misspelled-type web-cache.volumes',
      'misspelled-type web-db.Container',
      'misspelled-type web-nightly.timr',
      'misspelled-type web.conatiner.d',
      'misspelled-type web.contianer',
    ]);
    const by = (path: string) => r.problems.find((p) => p.path === path)!;
    expect(by('web.contianer').message).toMatch(/did you mean web\.container\?/);
    expect(by('web.contianer').hint).toBe('rename it to web.container, or list it in .moorignore if the name is meant');
    expect(by('web-db.Container').message).toMatch(/did you mean web-db\.container\?/);
    expect(by('apps/api.servce').message).toMatch(/did you mean api\.service\?/);
    expect(by('web.conatiner.d').message).toMatch(/did you mean web\.container\.d\?/);
    expect(by('shop.pd').message).toMatch(/did you mean shop\.pod\?/);
    // Refused, not deployed as a data file of web.
    expect(byName(r.workloads, 'web').companions).toEqual([]);
    expect(r.problems.every((p) => p.workload === undefined)).toBe(true);
  });

  it('leaves data files whose extension is merely near a unit type alone', () => {
    const r = run([
      file('web.container'),
      file('web.env'),
      file('web.conf'),
      file('web-tls.pem'),
      file('web-fix.patch'),
      file('web.json'),
      file('web.yaml'),
      file('web.pub'),
      file('web.sock'),
      file('web.ini'),
    ]);
    expect(r.problems).toEqual([]);
    expect(byName(r.workloads, 'web').companions).toHaveLength(9);
  });

  it('.moorignore exempts a name that only looks misspelled', () => {
    const r = run([file('.moorignore', 'web.servic\n'), file('web.container'), file('web.servic')]);
    expect(r.problems).toEqual([]);
  });

  it('refuses a drop-in directory, which moor does not read', () => {
    const r = run([file('web.container'), file('web.container.d/10-mem.conf')]);
    expect(codes(r.problems)).toEqual(['drop-in-dir web.container.d']);
    expect(r.problems[0]?.hint).toMatch(/into web\.container itself or into a transform/);
  });

  it('refuses ".." anywhere in a name, even where .moorignore matches it', () => {
    const r = run([file('.moorignore', '*.bad\n'), file('..bad.container'), file('a..b.env'), file('x..y/z.bad')]);
    expect(codes(r.problems)).toEqual(['dot-dot ..bad.container', 'dot-dot a..b.env', 'dot-dot x..y']);
  });

  it('refuses control characters and prints them escaped', () => {
    const r = run([file('web\u001b[31m.container'), file('a\u202eb.env'), file('t\tab.env')]);
    expect(r.problems.map((p) => p.code)).toEqual(['control-char', 'control-char', 'control-char']);
    for (const p of r.problems) expect(p.path + p.message).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(r.problems.map((p) => p.path)).toContain('web\\u001b[31m.container');
    expect(r.problems.find((p) => p.path.startsWith('web'))?.message).toMatch(/U\+001B/);
  });

  it('refuses backslashes', () => {
    const r = run([file('web\\x.container'), file('a\\b/c.container')]);
    expect(codes(r.problems)).toEqual(['backslash a\\b', 'backslash web\\x.container']);
  });

  it('refuses empty and "." path components', () => {
    const r = run([file('./web.container'), file('a//b.env'), file('/abs.container')]);
    expect(r.problems.map((p) => p.code)).toEqual(['bad-path', 'bad-path', 'bad-path']);
  });
});

describe('errors', () => {
  it('refuses symlinks, and never lists a workload through one', () => {
    const r = run([link('evil.container'), file('evil.env'), link('apps/data'), file('apps/x.container')]);
    expect(codes(r.problems)).toEqual(['symlink apps/data', 'symlink evil.container']);
    expect(r.problems[1]?.message).toMatch(/symbolic link; moor never follows/);
    expect(r.workloads.map((w) => w.name)).toEqual(['x']);
  });

  it('refuses fifos, sockets and devices', () => {
    const r = run([{ path: 'web.container', type: 'other', size: 0 }, { path: 'x.sock', type: 'other', size: 0 }]);
    expect(codes(r.problems)).toEqual(['not-a-regular-file web.container', 'not-a-regular-file x.sock']);
    expect(r.workloads).toEqual([]);
  });

  it('refuses files over the size limit, naming the size and the limit', () => {
    const r = run([file('web.container'), big('web-blob.bin', 5 * MiB), big('web-edge.bin', MiB)]);
    expect(codes(r.problems)).toEqual(['too-large web-blob.bin']);
    expect(r.problems[0]?.message).toMatch(/5 MiB \(5242880 bytes\).*1 MiB \(1048576 bytes\) limit/);
    expect(paths(byName(r.workloads, 'web').companions)).toEqual(['web-edge.bin']);
  });

  it('refuses a file that belongs to no workload', () => {
    const r = run([file('web.container'), file('x-y.service'), file('apps/lone.env')]);
    expect(codes(r.problems)).toEqual(['orphan apps/lone.env', 'orphan x-y.service']);
    expect(r.problems[1]?.hint).toMatch(/<name>-x-y\.service/);
  });

  it('refuses two workloads with one stem, naming both paths', () => {
    const r = run([file('a/web.container'), file('b/web.container'), file('web.env'), file('shop.pod'), file('shop.container')]);
    expect(codes(r.problems)).toEqual([
      'duplicate-stem a/web.container',
      'duplicate-stem b/web.container',
      'duplicate-stem shop.container',
      'duplicate-stem shop.pod',
    ]);
    for (const p of r.problems.slice(0, 2)) expect(p.message).toContain('a/web.container, b/web.container');
    expect(r.workloads).toEqual([]);
  });

  it('refuses two pod members with one name', () => {
    const r = run([file('shop.pod'), file('a/shop-db.container'), file('b/shop-db.container')]);
    expect(codes(r.problems)).toEqual(['duplicate-stem a/shop-db.container', 'duplicate-stem b/shop-db.container']);
    expect(byName(r.workloads, 'shop').members).toEqual([]);
  });

  it('refuses two files that would land in the same place under one user', () => {
    const r = run([file('web.container'), file('a/web.env'), file('b/web.env'), file('web.env')]);
    expect(codes(r.problems)).toEqual(['duplicate-file a/web.env', 'duplicate-file b/web.env', 'duplicate-file web.env']);
    expect(r.problems[0]?.message).toMatch(/a\/web\.env, b\/web\.env, web\.env.*"web"/);
    expect(byName(r.workloads, 'web').companions).toEqual([]);
  });

  it('marks only the workload-specific problems with their workload', () => {
    const r = run([file('Root.container'), link('evil.container'), file('x-y.service'), big('big.container', 2 * MiB)]);
    const tagged = r.problems.filter((p) => p.workload !== undefined).map((p) => p.code);
    expect(tagged).toEqual(['invalid-user-name']);
    expect(r.problems).toHaveLength(4);
  });
});

describe('a hostile repo', () => {
  const entries: TreeEntry[] = [
    link('evil.container'),
    file('..bad.container'),
    file('Root.container'),
    dir('a'),
    file('a/web.container'),
    dir('b'),
    file('b/web.container'),
    big('web-huge.env', 5 * MiB),
    file('x-y.service'),
    file('fine.container'),
    file('fine.env'),
  ];

  it('reports every problem in one result, each with its path', () => {
    const r = run(entries);
    expect(codes(r.problems)).toEqual([
      'dot-dot ..bad.container',
      'invalid-user-name Root.container',
      'duplicate-stem a/web.container',
      'duplicate-stem b/web.container',
      'symlink evil.container',
      'too-large web-huge.env',
      'orphan x-y.service',
    ]);
    for (const p of r.problems) {
      expect(p.message.length).toBeGreaterThan(10);
      expect(p.hint).toBeTruthy();
    }
    expect(r.problems.filter((p) => p.workload === undefined)).toHaveLength(6);
    expect(r.workloads.map((w) => w.name)).toEqual(['Root', 'fine']);
  });

  it('gives the same result whatever the order of the entries', () => {
    const expected = run(entries);
    expect(run([...entries].reverse())).toEqual(expected);
    expect(run([...entries.slice(5), ...entries.slice(0, 5)])).toEqual(expected);
  });
});

describe('names that cannot reach privilege', () => {
  const spec = '[Container]\nImage=x\n';
  it('refuses a workload whose user would be a privileged group name, as a problem of that workload', () => {
    const names = ['docker', 'wheel', 'sudo', 'adm', 'lxd', 'libvirt', 'kvm', 'disk', 'shadow', 'systemd-journal', 'systemd-x', '_ssh'];
    const r = run([...names.map((n) => file(`${n}.container`, spec)), file('web.container', spec)]);
    const refused = r.problems.filter((p) => p.code === 'reserved-user-name');
    expect(refused.map((p) => [p.path, p.workload])).toEqual(names.map((n) => [`${n}.container`, n]).sort());
    expect(refused.find((p) => p.path === 'docker.container')?.message).toBe(
      'workload name "docker" is reserved (a name that can carry privilege on a host); moor would create a user and a group of that name',
    );
    expect(refused.find((p) => p.path === 'systemd-x.container')?.message).toContain('"systemd-*": a name');
    expect(r.problems.filter((p) => p.path === 'web.container')).toEqual([]);
  });

  it('judges the user name, prefix included, and takes more names from the config', () => {
    const entries = [file('docker.container', spec), file('ops.container', spec), file('corp-x.container', spec)];
    expect(run(entries, { userPrefix: 'app-' }).problems).toEqual([]);
    const prefixed = run([file('journal.container', spec)], { userPrefix: 'systemd-' }).problems;
    expect(prefixed.map((p) => p.message)).toEqual([
      'user "systemd-journal" (user_prefix + "journal") is reserved ("systemd-*": a name that can carry privilege on a host); moor would create a user and a group of that name',
    ]);
    const extra = run(entries, { reservedNames: ['ops', 'corp-*'] }).problems.map((p) => `${p.code} ${p.path}`);
    expect(extra).toEqual(['reserved-user-name corp-x.container', 'reserved-user-name docker.container', 'reserved-user-name ops.container']);
  });
});
