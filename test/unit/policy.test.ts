import { describe, expect, it } from 'vitest';
import { execFacts, judge, parseExecLine, podmanFacts, policyProblems, quadletFacts, type Fact, type Policy } from '../../daemon/core/policy';
import { parseUnit } from '../../daemon/core/unit-file';

const policy = (p: Partial<Policy> = {}): Policy => ({ programs: [], ...p });
const strict = policy({
  images: ['docker.io/library/*', 'localhost/*'],
  ports: [],
  hostPaths: ['/srv/shared', '%h/data'],
  privileged: false,
  capabilities: ['NET_BIND_SERVICE'],
  hostNamespaces: [],
  devices: [],
  pull: ['never'],
});
const kinds = (facts: Fact[]) => facts.map((f) => `${f.kind} ${f.value}`);
const rules = (p: Policy, facts: Fact[]) => judge(p, facts, 'web.service').map((v) => v.rule);
const quadlet = (ext: string, text: string) => quadletFacts(ext, parseUnit(text).unit, () => undefined);

describe('parseExecLine (systemd quoting)', () => {
  it('splits words, unquotes, unescapes and drops prefixes', () => {
    expect(parseExecLine(`-/usr/bin/podman run "--label=a b" 'x y' a\\x41\\sb`)).toEqual({ program: '/usr/bin/podman', args: ['run', '--label=a b', 'x y', 'aA b'] });
    expect(parseExecLine('@/usr/bin/podman podman-argv0 run img')).toMatchObject({ program: '/usr/bin/podman', args: ['run', 'img'] });
    expect(parseExecLine('/bin/echo a"b c"d')).toMatchObject({ args: ['ab cd'] });
  });
  it('marks environment expansions, keeps $$ literal, refuses what systemd refuses', () => {
    expect(parseExecLine('/usr/bin/podman run $ARGS img')).toMatchObject({ unfixed: expect.stringMatching(/\$ARGS/) });
    expect(parseExecLine('/usr/bin/podman run --env=A=$${B} img')).toEqual({ program: '/usr/bin/podman', args: ['run', '--env=A=${B}', 'img'] });
    expect(parseExecLine('/bin/x "open')).toEqual({ error: 'an unterminated " quote' });
    expect(parseExecLine('/bin/x \\q')).toMatchObject({ error: expect.stringMatching(/escape/) });
    expect(parseExecLine('/bin/x ; /bin/y')).toMatchObject({ error: expect.stringMatching(/;/) });
  });
});

describe('podmanFacts', () => {
  it('reads a Quadlet-style run line', () => {
    const facts = podmanFacts(['run', '--name=systemd-%N', '--cidfile=%t/%N.cid', '--replace', '--rm', '--cgroups=split', '--sdnotify=conmon', '-d', '--publish', '8080:80', '-v', '/etc:/host-etc:ro', '-v', 'data:/data', '--pull=always', 'docker.io/library/nginx:1', 'nginx', '-p', '1:1']);
    expect(kinds(facts)).toEqual(['publish 8080', 'host-path /etc', 'pull always', 'image docker.io/library/nginx:1']);
  });
  it('reads bundled short options, attached values, and the container command is not podman options', () => {
    expect(kinds(podmanFacts(['run', '-dp127.0.0.1:9000:80/tcp', '-P', 'img', '--privileged']))).toEqual(['publish 9000', 'publish-all every exposed port', 'image img', "pull missing"]);
    expect(kinds(podmanFacts(['run', '-p', '80', 'img']))).toContain('publish random');
    expect(kinds(podmanFacts(['run', '-p', '[::1]:8443:443', 'img']))).toContain('publish 8443');
  });
  it('reads privilege, capabilities, namespaces, devices, mounts', () => {
    const facts = podmanFacts([
      'create', '--privileged', '--security-opt', 'seccomp=unconfined', '--cap-add=sys_admin,CAP_NET_RAW', '--network=host', '--pid', 'host',
      '--ipc=host', '--userns=host', '--uts=host', '--device=/dev/kvm:/dev/kvm:rwm', '--mount', 'type=bind,src=/var/run,dst=/r', '--mount=type=image,source=evil/img,target=/i', 'img',
    ]);
    expect(kinds(facts)).toEqual([
      'privileged --privileged', 'privileged seccomp=unconfined', 'capability SYS_ADMIN', 'capability NET_RAW', 'namespace network=host', 'namespace pid=host',
      'namespace ipc=host', 'namespace userns=host', 'namespace uts=host', 'device /dev/kvm', 'host-path /var/run', 'image evil/img', 'image img', 'pull missing',
    ]);
  });
  it('pods, volumes, pulls, exec; harmless subcommands have no facts', () => {
    expect(kinds(podmanFacts(['pod', 'create', '--infra-conmon-pidfile=%t/%N.pid', '-p', '8080:80', '--network', 'host', 'web']))).toEqual(['publish 8080', 'namespace network=host']);
    expect(kinds(podmanFacts(['volume', 'create', '--ignore', '--opt', 'type=none', '--opt', 'device=/etc', '--opt', 'o=bind', 'v']))).toEqual(['host-path /etc']);
    expect(kinds(podmanFacts(['image', 'pull', 'quay.io/x/y']))).toEqual(['image quay.io/x/y', 'pull always']);
    expect(kinds(podmanFacts(['exec', '--privileged', 'c', 'sh']))).toEqual(['privileged --privileged']);
    expect(podmanFacts(['rm', '-v', '-f', '-i', '--cidfile=%t/%N.cid'])).toEqual([]);
    expect(podmanFacts(['pod', 'stop', '--ignore', '--pod-id-file=%t/%N.pod-id'])).toEqual([]);
    expect(kinds(podmanFacts(['unshare', '/bin/true']))).toEqual(['program /bin/true']);
    expect(kinds(podmanFacts(['unshare']))[0]).toMatch(/^unjudgeable/);
  });
  it('cannot judge unknown options, unknown subcommands, a remote or a module', () => {
    expect(kinds(podmanFacts(['run', '--frobnicate', 'x', 'img']))).toEqual([expect.stringMatching(/^unjudgeable .*--frobnicate/)]);
    expect(kinds(podmanFacts(['kube', 'play', 'x.yml']))[0]).toMatch(/^unjudgeable podman kube/);
    expect(kinds(podmanFacts(['system', 'service']))[0]).toMatch(/^unjudgeable/);
    expect(kinds(podmanFacts(['--remote', 'run', 'img']))[0]).toMatch(/^unjudgeable .*--remote/);
    expect(kinds(podmanFacts(['--module=x.conf', 'run', 'img']))[0]).toMatch(/^unjudgeable .*--module/);
    expect(kinds(podmanFacts(['container', 'runlabel', 'INSTALL', 'img']))[0]).toMatch(/^unjudgeable/);
  });
});

describe('the bypasses', () => {
  it('PodmanArgs= with --publish and --pull in a Quadlet file', () => {
    const facts = quadlet('container', '[Container]\nImage=docker.io/library/nginx\nPull=never\nPodmanArgs=--publish 8080:80 --pull=always\n');
    const v = judge(strict, facts, 'web.service');
    expect(v.map((x) => x.rule)).toEqual(['ports', 'pull']);
    expect(v[0]!.message).toBe('policy rule "ports": web.service publishes host port 8080 (PodmanArgs=--publish 8080:80); this host allows none');
    expect(v[0]!.fact.line).toBe(4);
  });
  it('a plain service that runs podman itself', () => {
    const unit = parseUnit('[Service]\nExecStartPre=/usr/bin/podman pull docker.io/library/nginx\nExecStart=/usr/bin/podman run -p 8080:80 --rm docker.io/library/nginx\n').unit;
    expect(rules(strict, execFacts(unit))).toEqual(['pull', 'ports', 'pull']);
  });
  it('what cannot be judged is refused: a shell, an expansion, another program', () => {
    const unit = parseUnit(
      [
        '[Service]',
        "ExecStart=/bin/sh -c 'podman run -p 8080:80 img'",
        'ExecStartPost=/usr/bin/podman run $ARGS img',
        'ExecStop=/usr/bin/env podman stop x',
      ].join('\n'),
    ).unit;
    const v = judge(policy(), execFacts(unit), 'job.service');
    expect(v.map((x) => `${x.rule} ${x.fact.line}`)).toEqual(['programs 2', 'judgeable 3', 'programs 4']);
    expect(v[0]!.message).toMatch(/runs \/bin\/sh, which is neither podman nor one of the programs the policy lists/);
    expect(judge(policy({ programs: ['/bin/sh'] }), execFacts(unit), 'job.service').map((x) => x.rule)).toEqual(['judgeable', 'programs']);
  });
  it('podman configured from the environment or an EnvironmentFile', () => {
    const unit = parseUnit('[Service]\nEnvironment=CONTAINERS_CONF_OVERRIDE=%h/.config/moor/files/x.conf PODMAN_SYSTEMD_UNIT=%n\nEnvironmentFile=%h/e\nExecStart=/usr/bin/podman run img\n').unit;
    expect(kinds(execFacts(unit)).filter((k) => k.startsWith('unjudgeable'))).toEqual([
      expect.stringMatching(/EnvironmentFile/),
      expect.stringMatching(/CONTAINERS_CONF_OVERRIDE/),
    ]);
  });
  it('Exec lines of a Quadlet file\'s [Service] are judged too', () => {
    expect(rules(strict, quadlet('container', '[Container]\nImage=localhost/x\nPull=never\n[Service]\nExecStartPre=/usr/bin/podman run --privileged localhost/y\n'))).toEqual(['privileged', 'pull']);
  });
});

describe('quadletFacts', () => {
  it('maps every relevant key of a container', () => {
    const facts = quadlet(
      'container',
      [
        '[Container]',
        'Image=ghcr.io/x/y',
        'PublishPort=127.0.0.1:443:443',
        'Volume=/var/lib/x:/x:Z',
        'Volume=./conf:/conf',
        'Volume=named:/n',
        'Mount=type=bind,source=/run/podman,destination=/s',
        'AddCapability=SYS_ADMIN NET_ADMIN',
        'AddDevice=-/dev/fuse',
        'Network=host',
        'UserNS=host',
        'SecurityLabelDisable=true',
        'Rootfs=/opt/root',
        'GlobalArgs=--log-level=debug',
        'ContainersConfModule=/etc/x.conf',
      ].join('\n'),
    );
    expect(kinds(facts)).toEqual([
      'unjudgeable a containers.conf module can add mounts, devices and capabilities',
      'publish 443',
      'host-path /var/lib/x',
      'host-path %h/.config/containers/systemd/./conf',
      'namespace network=host',
      'namespace userns=host',
      'image ghcr.io/x/y',
      'host-path /opt/root',
      'host-path /run/podman',
      'capability SYS_ADMIN',
      'capability NET_ADMIN',
      'device /dev/fuse',
      'privileged label=disable',
      "pull missing",
    ]);
  });
  it('.image references, pods, volumes; .build cannot be judged, nor a .kube whose YAML is not found', () => {
    const facts = quadletFacts('container', parseUnit('[Container]\nImage=base.image\n').unit, (r) => (r === 'base.image' ? 'quay.io/a/b' : undefined));
    expect(kinds(facts)).toContain('image quay.io/a/b');
    expect(kinds(quadlet('container', '[Container]\nImage=other.image\n'))[0]).toMatch(/^unjudgeable/);
    expect(kinds(quadlet('pod', '[Pod]\nPublishPort=80:80\nPodmanArgs=--infra-image=evil/pause\n'))).toEqual(['image evil/pause', 'publish 80']);
    expect(kinds(quadlet('volume', '[Volume]\nDevice=/etc\nType=none\nOptions=bind\n'))).toEqual(['host-path /etc']);
    expect(kinds(quadlet('build', '[Build]\nImageTag=localhost/x\n'))[0]).toMatch(/^unjudgeable a \.build file/);
    expect(kinds(quadlet('kube', '[Kube]\nYaml=x.yml\n'))[0]).toMatch(/^unjudgeable Yaml=x.yml is not a file of this workload/);
  });
  it('PodmanArgs= and GlobalArgs= that are not options cannot be judged', () => {
    expect(kinds(quadlet('container', '[Container]\nImage=i\nPodmanArgs=img2 -p 1:1\n'))[0]).toMatch(/^unjudgeable PodmanArgs=: "img2" is not an option/);
    expect(kinds(quadlet('container', '[Container]\nImage=i\nGlobalArgs=run -p 1:1 x\n'))[0]).toMatch(/^unjudgeable GlobalArgs=/);
    expect(kinds(quadlet('container', '[Container]\nImage=i\nPodmanArgs=--publish $P\n'))[0]).toMatch(/^unjudgeable/);
  });
});

describe('judge', () => {
  it('allows everything with an empty policy but programs and what cannot be judged', () => {
    const facts = podmanFacts(['run', '--privileged', '-p', '80:80', '-v', '/:/host', '--network=host', 'anything']);
    expect(judge(policy(), facts, 'x')).toEqual([]);
  });
  it('ports in ranges, host paths under allowed ones with specifiers, images by pattern', () => {
    const p = policy({ ports: [[8000, 8099]], hostPaths: ['/srv/shared', '%h/data'], images: ['docker.io/library/*'] });
    const f = (kind: Fact['kind'], value: string): Fact => ({ kind, value, as: value });
    const ctx = { home: '/home/web', uid: 1001, user: 'web' };
    const ok = [f('publish', '8080'), f('publish', '8000-8099'), f('host-path', '/srv/shared/x'), f('host-path', '%h/data/y'), f('host-path', '/home/web/data'), f('image', 'docker.io/library/nginx:1')];
    expect(judge(p, ok, 'x', ctx)).toEqual([]);
    const bad = [f('publish', '8100'), f('publish', '7999-8001'), f('publish', 'random'), f('host-path', '/srv/shared/../../etc'), f('host-path', '/srv/sharedx'), f('host-path', '%t/podman/podman.sock'), f('host-path', 'rel'), f('image', 'docker.io/evil/nginx')];
    expect(judge(p, bad, 'x', ctx).map((v) => v.rule)).toEqual(['ports', 'ports', 'ports', 'host_paths', 'host_paths', 'host_paths', 'host_paths', 'images']);
    // Without a real home (moor check) %h stays a shared prefix.
    expect(judge(p, [f('host-path', '%h/data/z')], 'x')).toEqual([]);
    expect(judge(p, [f('host-path', '%h/other')], 'x').map((v) => v.rule)).toEqual(['host_paths']);
  });
});

describe('policyProblems', () => {
  it('names the file, line, rule and unit', () => {
    const unit = parseUnit('[Container]\nImage=localhost/x\nPull=never\nPodmanArgs=--publish 8080:80\n', 'web.container').unit;
    const problems = policyProblems(strict, 'web', [{ path: 'web.container', name: 'web.container', ext: 'container', kind: 'quadlet', unit, unitName: 'web.service' }]);
    expect(problems).toEqual([
      expect.objectContaining({ path: 'web.container', line: 4, code: 'policy-ports', workload: 'web', message: expect.stringMatching(/^policy rule "ports": web.service \(web.container\) publishes host port 8080/) }),
    ]);
  });
});
