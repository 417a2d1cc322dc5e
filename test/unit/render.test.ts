import { describe, expect, it } from 'vitest';
import { renderFile } from '../../daemon/core/render';
import { emptyTransformSet, loadTransformSet, type Identity, type TransformSet } from '../../daemon/core/transforms';
import type { FileKind, RepoFile, Workload } from '../../daemon/core/types';

function repoFile(path: string, content: string, kind?: FileKind): RepoFile {
  const name = path.split('/').pop()!;
  const dot = name.lastIndexOf('.');
  const ext = dot < 0 ? '' : name.slice(dot + 1);
  const group = path.includes('/') ? path.split('/')[0] : undefined;
  const file: RepoFile = { path, name, ext, kind: kind ?? (ext === 'env' ? 'data' : 'quadlet'), content };
  if (group) file.group = group;
  return file;
}

function workload(spec: RepoFile, extra: Partial<Workload> = {}): Workload {
  const name = spec.name.slice(0, spec.name.lastIndexOf('.'));
  const w: Workload = { name, user: name, kind: spec.ext === 'pod' ? 'pod' : 'container', spec, members: [], companions: [] };
  if (spec.group) w.group = spec.group;
  return { ...w, ...extra };
}

function transforms(files: Record<string, string>): TransformSet {
  const r = loadTransformSet(Object.entries(files).map(([name, content]) => ({ name, path: `/etc/moor/transforms/${name}`, content })));
  expect(r.problems).toEqual([]);
  return r.set;
}

const identity = (name: string): Identity => ({ name, user: name, uid: 1005, home: `/var/lib/moor-users/${name}`, host: 'h1', labels: {} });

const hostTransforms = transforms({
  '_base.container': '[Container]\nLabel=moor.workload={{name}}\nLogDriver=journald\n\n[Service]\nRestart=on-failure\n',
  'apps.container': [
    '[Container]',
    '+Environment=DEPLOYED_BY=moor',
    '+Environment=WORKLOAD_HOME={{home}}',
    '!PodmanArgs=--log-level=info',
    '-PublishPort=',
    'EnvironmentFile=%h/.config/moor/files/{{name}}.env',
    '',
  ].join('\n'),
});

describe('renderFile', () => {
  it('shows all four merge rules in the output of a spec in a group', () => {
    const spec = repoFile(
      'apps/api.container',
      [
        '# the API',
        '[Container]',
        'Image=registry.example.com/api:1.2',
        'Environment=MODE=prod',
        'PodmanArgs=--log-level=debug',
        'PublishPort=8080:8080',
        'LogDriver=k8s-file',
        '',
      ].join('\n'),
    );
    const r = renderFile(spec, workload(spec), hostTransforms, identity('api'));
    expect(r.problems).toEqual([]);
    expect(r.content).toBe(
      [
        '# the API',
        '',
        '[Container]',
        'Image=registry.example.com/api:1.2',
        // + prepended before the spec's own value, placeholders substituted
        'Environment=DEPLOYED_BY=moor',
        'Environment=WORKLOAD_HOME=/var/lib/moor-users/api',
        'Environment=MODE=prod',
        // ! forced over the spec's value
        'PodmanArgs=--log-level=info',
        // - removed PublishPort; the spec's LogDriver beats the base default
        'LogDriver=k8s-file',
        // defaults for keys the spec does not set, base then group
        'Label=moor.workload=api',
        'EnvironmentFile=%h/.config/moor/files/api.env',
        '',
        // a section the spec lacks, from the base
        '[Service]',
        'Restart=on-failure',
        '',
      ].join('\n'),
    );
    expect(r.unit?.sections[0]?.name).toBe('Container');
  });

  it('passes data files through unchanged', () => {
    const spec = repoFile('apps/api.container', '[Container]\nImage=a\n');
    const env = repoFile('apps/api.env', 'A=1\n{{not a placeholder}}\n', 'data');
    expect(renderFile(env, workload(spec), hostTransforms, identity('api'))).toEqual({ content: env.content, problems: [] });
  });

  it('applies only the base transform to a spec in the repo root, and none to another type', () => {
    const spec = repoFile('web.container', '[Container]\nImage=nginx\n');
    expect(renderFile(spec, workload(spec), hostTransforms, identity('web')).content).toBe(
      '[Container]\nImage=nginx\nLabel=moor.workload=web\nLogDriver=journald\n\n[Service]\nRestart=on-failure\n',
    );
    const volume = repoFile('web-data.volume', '[Volume]\n');
    expect(renderFile(volume, workload(spec), hostTransforms, identity('web')).content).toBe('[Volume]\n');
  });

  it('adds Pod=<pod>.pod to a pod member unless it sets Pod= itself', () => {
    const pod = repoFile('shop.pod', '[Pod]\nPublishPort=8080:80\n');
    const w = workload(pod);
    const member = repoFile('shop-db.container', '[Container]\nImage=postgres\n');
    expect(renderFile(member, w, emptyTransformSet(), identity('shop')).content).toBe(
      '[Container]\nImage=postgres\nPod=shop.pod\n',
    );
    const own = repoFile('shop-web.container', '[Container]\nImage=nginx\nPod="shop.pod"\n');
    expect(renderFile(own, w, emptyTransformSet(), identity('shop')).content).toBe('[Container]\nImage=nginx\nPod="shop.pod"\n');
    expect(renderFile(pod, w, emptyTransformSet(), identity('shop')).content).toBe('[Pod]\nPublishPort=8080:80\n');
  });

  it('refuses Pod=, Network=, Volume=, Mount= and Image= naming a Quadlet file the workload does not hold', () => {
    const spec = repoFile(
      'web.container',
      [
        '[Container]',
        'Image=web-app.build',
        'Pod=ghost.pod',
        'Network=web-net.network',
        'Network=edge.network:ip=10.0.0.5',
        'Network=host',
        'Volume=web-data.volume:/data',
        'Volume=cache.volume:/cache:Z',
        'Volume=/srv/web:/srv',
        'Mount=type=volume,source=logs.volume,destination=/logs',
        '',
      ].join('\n'),
    );
    const w = workload(spec, {
      companions: [repoFile('web-net.network', '[Network]\n'), repoFile('web-data.volume', '[Volume]\n')],
    });
    const r = renderFile(spec, w, emptyTransformSet(), identity('web'));
    expect(r.content).toBeUndefined();
    expect(r.problems.map((p) => [p.line, p.code, p.workload])).toEqual([
      [2, 'missing-reference', 'web'],
      [3, 'missing-reference', 'web'],
      [5, 'missing-reference', 'web'],
      [8, 'missing-reference', 'web'],
      [10, 'missing-reference', 'web'],
    ]);
    expect(r.problems[1]!.message).toBe(
      'Pod= in [Container] names ghost.pod, which is not a file of workload "web"; Quadlet looks for it among the files of user web only, and the unit would not be generated',
    );
    expect(r.problems[1]!.hint).toMatch(/add ghost\.pod to the repository as a file of this workload/);
    expect(r.problems.map((p) => p.message.match(/names (\S+),/)?.[1])).toEqual(['web-app.build', 'ghost.pod', 'edge.network', 'cache.volume', 'logs.volume']);
  });

  it('refuses Pod= that names no .pod file, and a pod member joining another pod', () => {
    const pod = repoFile('shop.pod', '[Pod]\n');
    const w = workload(pod);
    const bare = renderFile(repoFile('shop-db.container', '[Container]\nImage=x\nPod=shop\n'), w, emptyTransformSet(), identity('shop'));
    expect(bare.problems.map((p) => [p.line, p.code])).toEqual([[3, 'bad-reference']]);
    const other = renderFile(repoFile('shop-db.container', '[Container]\nImage=x\nPod=other.pod\n'), w, emptyTransformSet(), identity('shop'));
    expect(other.problems.map((p) => [p.line, p.code])).toEqual([[3, 'missing-reference']]);
  });

  it('judges only what the spec writes: a transform may name a unit the host provides', () => {
    const spec = repoFile('web.container', '[Container]\nImage=x\n');
    const t = transforms({ '_base.container': '[Container]\n+Network=shared.network\n' });
    expect(renderFile(spec, workload(spec), t, identity('web')).content).toBe('[Container]\nImage=x\nNetwork=shared.network\n');
  });

  it('fills in {{name}}, {{user}}, {{uid}} and {{home}} in a spec, as in a transform', () => {
    const spec = repoFile(
      'web.container',
      '[Container]\nImage=x\nContainerName={{name}}-app\nEnvironment=OWNER={{user}} ID={{uid}}\nVolume={{home}}/data:/data\nLabel=fmt={{"{{"}}.State{{"}}"}}\n',
    );
    expect(renderFile(spec, workload(spec), emptyTransformSet(), identity('web')).content).toBe(
      '[Container]\nImage=x\nContainerName=web-app\nEnvironment=OWNER=web ID=1005\nVolume=/var/lib/moor-users/web/data:/data\nLabel=fmt={{.State}}\n',
    );
    // Before the user exists (moor check, moor render): systemd's specifiers.
    const early: Identity = { name: 'web', user: 'web', uid: '%U', home: '%h', host: 'h1', labels: {} };
    expect(renderFile(spec, workload(spec), emptyTransformSet(), early).content).toContain('Environment=OWNER=web ID=%U\nVolume=%h/data:/data\n');
  });

  it("passes Podman's own templates written with literal braces, and refuses them bare", () => {
    // From Podman's Quadlet tests: the log tag is a Go template Podman fills in.
    const bare = repoFile('web.container', '[Container]\nImage=x\nLogOpt=tag="{{.ImageName}}"\nLogOpt=path={{.Name}}\n');
    const r = renderFile(bare, workload(bare), emptyTransformSet(), identity('web'));
    expect(r.problems.map((p) => [p.line, p.code])).toEqual([
      [3, 'unknown-placeholder'],
      [4, 'unknown-placeholder'],
    ]);
    expect(r.problems[0]!.hint).toMatch(/write \{\{"\{\{"\}\} for literal braces/);
    expect(r.problems[1]!.hint).toMatch(/^write \{\{name\}\} .*; if the braces are meant for Podman, write \{\{"\{\{"\}\}\.Name\}\}$/);
    const escaped = repoFile('web.container', '[Container]\nImage=x\nLogOpt=tag="{{"{{"}}.ImageName}}"\n');
    expect(renderFile(escaped, workload(escaped), emptyTransformSet(), identity('web')).content).toBe('[Container]\nImage=x\nLogOpt=tag="{{.ImageName}}"\n');
  });

  it("refuses quadsync's {{.Name}} naming {{name}}, and any other {{ with its line", () => {
    const spec = repoFile(
      'web.container',
      '[Container]\nImage=x\nContainerName={{.Name}}\nEnvironment=A={{ home }}\nExec=echo {{nope}}\nLabel=a={{ open\n# {{comment}} is fine\n',
    );
    const r = renderFile(spec, workload(spec), emptyTransformSet(), identity('web'));
    expect(r.content).toBeUndefined();
    expect(r.problems.map((p) => [p.line, p.code])).toEqual([
      [3, 'unknown-placeholder'],
      [4, 'unknown-placeholder'],
      [5, 'unknown-placeholder'],
      [6, 'unknown-placeholder'],
    ]);
    expect(r.problems[0]!.message).toBe("ContainerName= in [Container] holds {{.Name}}, quadsync's spelling; moor writes it {{name}}");
    expect(r.problems[0]!.hint).toMatch(/^write \{\{name\}\}/);
    expect(r.problems[1]!.hint).toMatch(/^write \{\{home\}\}/);
    expect(r.problems[2]!.message).toMatch(/\{\{nope\}\}, which is not a placeholder moor knows/);
    expect(r.problems[2]!.hint).toMatch(/\{\{name\}\}, \{\{user\}\}, \{\{uid\}\}, \{\{home\}\}.*\{\{"\{\{"\}\}/);
    expect(r.problems[3]!.message).toMatch(/"\{\{" that opens no placeholder/);
  });

  it('does not add Pod= to a container workload', () => {
    const spec = repoFile('web.container', '[Container]\nImage=nginx\n');
    expect(renderFile(spec, workload(spec), emptyTransformSet(), identity('web')).content).toBe('[Container]\nImage=nginx\n');
  });

  it('reports an invalid spec before merging, with the workload and the repo path', () => {
    const spec = repoFile('apps/api.container', '[Unit]\nDescription=api\n[Container]\nExec=true\nbroken\n');
    const r = renderFile(spec, workload(spec), hostTransforms, identity('api'));
    expect(r.content).toBeUndefined();
    expect(r.problems.map((p) => [p.path, p.line, p.code, p.workload])).toEqual([
      ['apps/api.container', 5, 'missing-equals', 'api'],
      ['apps/api.container', 3, 'missing-image', 'api'],
    ]);
    expect(r.problems[1]!.message).not.toContain('transform');
  });

  it('blames the transform that breaks a valid spec, and writes nothing', () => {
    const breaking = transforms({ 'apps.container': '[Container]\n-Image=\n' });
    const spec = repoFile('apps/api.container', '[Container]\nImage=a\n');
    const r = renderFile(spec, workload(spec), breaking, identity('api'));
    expect(r.content).toBeUndefined();
    expect(r.problems).toEqual([
      expect.objectContaining({ path: 'apps/api.container', code: 'missing-image', workload: 'api' }),
    ]);
    expect(r.problems[0]!.message).toContain('a transform removed Image=/Rootfs=');
    expect(r.problems[0]!.message).toContain('/etc/moor/transforms/apps.container');
    expect(r.unit).toBeDefined();
  });

  it('refuses a [Service] User= that a transform adds, naming the transform line', () => {
    const t = transforms({ '_base.container': '[Service]\nUser=root\n' });
    const spec = repoFile('web.container', '[Container]\nImage=nginx\n');
    const r = renderFile(spec, workload(spec), t, identity('web'));
    expect(r.problems).toEqual([expect.objectContaining({ code: 'service-user', path: 'web.container', workload: 'web' })]);
    expect(r.problems[0]!.message).toContain('/etc/moor/transforms/_base.container:2');
  });

  it('reports a merged result the syntax cannot carry instead of writing it', () => {
    const t = transforms({ '_base.container': '[Container]\nLabel=home={{home}}\n' });
    const spec = repoFile('web.container', '[Container]\nImage=nginx\n');
    const r = renderFile(spec, workload(spec), t, { name: 'web', user: 'web', uid: 1, home: '/home/web\\', host: 'h1', labels: {} });
    expect(r.content).toBeUndefined();
    expect(r.problems).toEqual([expect.objectContaining({ code: 'unwritable', workload: 'web' })]);
  });
});
