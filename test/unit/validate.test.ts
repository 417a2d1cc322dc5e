import { describe, expect, it } from 'vitest';
import { parseUnit } from '../../daemon/core/unit-file';
import { validateUnit } from '../../daemon/core/validate';

function check(fileName: string, text: string, phase: 'spec' | 'merged' = 'spec') {
  return validateUnit(parseUnit(text, fileName), fileName, fileName, phase);
}

function codes(fileName: string, text: string): string[] {
  return check(fileName, text).map((p) => p.code);
}

describe('validateUnit: what each type needs', () => {
  it.each([
    ['web.container', '[Container]\nImage=docker.io/nginx\n'],
    ['web.container', '[Container]\nRootfs=/srv/root\n'],
    ['web.container', '[Container]\nImage=a\n[Container]\nExec=b\n'],
    ['shop.pod', '[Pod]\n'],
    ['web-data.volume', '[Volume]\n'],
    ['web-net.network', '[Network]\n'],
    ['web-app.kube', '[Kube]\nYaml=app.yml\n'],
    ['web-base.image', '[Image]\nImage=docker.io/alpine\n'],
    ['web-app.build', '[Build]\nImageTag=localhost/app\nFile=Containerfile\n'],
    ['web-nightly.service', '[Service]\nExecStart=/bin/true\n'],
    ['web-nightly.timer', '[Timer]\nOnCalendar=daily\n'],
    ['web-x.socket', '[Socket]\nListenStream=8080\n'],
    ['web-x.path', '[Path]\nPathChanged=/tmp/x\n'],
    ['web-x.target', '[Unit]\nDescription=group\n'],
    ['web.env', 'anything, not a unit'],
  ])('accepts a minimal %s', (name, text) => {
    expect(check(name, text)).toEqual([]);
  });

  it.each([
    ['web.container', '[Unit]\nDescription=x\n', 'missing-image', 1],
    ['web.container', '[Unit]\nA=1\n\n[Container]\nExec=true\n', 'missing-image', 4],
    ['web.container', '[Container]\nImage=a\n[Container]\nImage=\n', 'missing-image', 1],
    ['web.container', '[Container]\nImage=""\n', 'missing-image', 1],
    ['shop.pod', '[Unit]\n', 'missing-section', 1],
    ['web-data.volume', '[Service]\n', 'missing-section', 1],
    ['web-net.network', '', 'missing-section', 1],
    ['web-app.kube', '[Kube]\nNetwork=x\n', 'missing-yaml', 1],
    ['web-app.kube', '[Unit]\n', 'missing-yaml', 1],
    ['web-base.image', '[Image]\n', 'missing-image', 1],
    ['web-app.build', '[Build]\nFile=Containerfile\n', 'missing-image-tag', 1],
    ['web-nightly.service', '[Unit]\nDescription=x\n', 'missing-section', 1],
    ['web-nightly.timer', '[Unit]\n', 'missing-section', 1],
    ['web-x.socket', '[Unit]\n', 'missing-section', 1],
    ['web-x.path', '[Unit]\n', 'missing-section', 1],
  ])('refuses %s without what it needs: %j', (name, text, code, line) => {
    const problems = check(name, text);
    expect(problems).toEqual([expect.objectContaining({ code, line, path: name })]);
    expect(problems[0]!.hint).toBeTruthy();
  });
});

describe('validateUnit: [Service] user switching', () => {
  it.each(['User', 'Group', 'DynamicUser'])('refuses %s= in [Service] of a Quadlet file, with its line', (key) => {
    const problems = check('web.container', `[Container]\nImage=a\nUser=1000\n\n[Service]\n${key}=1000\n`);
    expect(problems).toEqual([expect.objectContaining({ code: 'service-user', line: 6 })]);
    expect(problems[0]!.hint).toContain('User= in [Container]');
  });

  it('refuses it in every Quadlet type, not in plain units', () => {
    expect(codes('shop.pod', '[Pod]\n[Service]\nDynamicUser=yes\n')).toEqual(['service-user']);
    expect(codes('web-data.volume', '[Volume]\n[Service]\nUser=x\n')).toEqual(['service-user']);
    expect(codes('web-nightly.service', '[Service]\nExecStart=/bin/true\nUser=x\n')).toEqual([]);
  });

  it('names the transform that added it, keeping the spec path', () => {
    const unit = parseUnit('[Container]\nImage=a\n', 'web.container').unit;
    unit.sections.push({
      name: 'Service',
      line: 3,
      source: 'transforms/_base.container',
      items: [{ key: 'User', value: 'x', line: 4, source: 'transforms/_base.container' }],
    });
    const [p] = validateUnit(unit, 'web.container', 'web.container', 'merged');
    expect(p).toMatchObject({ path: 'web.container', code: 'service-user', line: 1 });
    expect(p!.message).toContain('transforms/_base.container:4');
  });
});

describe('validateUnit: syntax and phases', () => {
  it('turns syntax issues into problems with their lines', () => {
    const problems = check('web.container', 'Orphan=1\n[Container]\nImage=a\nbroken line\n');
    expect(problems.map((p) => [p.code, p.line])).toEqual([
      ['outside-section', 1],
      ['missing-equals', 4],
    ]);
    expect(problems.every((p) => p.hint)).toBe(true);
  });

  it('says when a problem is found after transforms', () => {
    expect(check('web.container', '[Container]\n', 'merged')[0]!.message).toContain('after transforms');
    expect(check('web.container', '[Container]\n', 'spec')[0]!.message).not.toContain('after transforms');
  });

  it('uses line 1 for a section a transform added', () => {
    const unit = { preamble: [], sections: [{ name: 'Container', line: 7, source: 'transforms/x.container', items: [] }] };
    expect(validateUnit(unit, 'web.container', 'web.container', 'merged')[0]).toMatchObject({ line: 1 });
  });
});
