// `moor doctor`: what the host must offer before a pass can succeed (docs/design.md §10). Each
// check runs a tool or reads a file, bounded, and says how to fix what it finds.
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { CommandRunner } from '../core/ports';
import { parseDelegate, rootlessHostChecks, type PreflightCheck } from '../core/rootless-host';
import { podmanRecentEnough, podmanVersion, probeResult } from '../core/tool-probe';
import { QUADLET_USER_GENERATOR } from './systemd';

export type { PreflightCheck };

const exists = (path: string, mode = constants.F_OK) => access(path, mode).then(() => true, () => false);

export async function runPreflight(runner: CommandRunner, timeoutMs = 10_000): Promise<PreflightCheck[]> {
  const run = (argv: string[]) => runner.run(argv, { timeoutMs });
  const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
  const checks: PreflightCheck[] = [];

  const booted = await exists('/run/systemd/system');
  const sd = await run(['systemctl', '--version']);
  const sdVersion = Number(/systemd (\d+)/.exec(sd.stdout)?.[1] ?? 0);
  checks.push({
    name: 'systemd',
    ok: booted && sdVersion >= 250,
    detail: booted ? `systemd ${sdVersion || 'unknown'} is PID 1` : 'this host was not booted with systemd',
    hint: 'moor needs systemd >= 250 as the init system',
  });
  const logind = await run(['systemctl', 'is-active', 'systemd-logind.service']);
  checks.push({ name: 'logind', ok: logind.stdout.trim() === 'active', detail: `systemd-logind is ${logind.stdout.trim() || 'unknown'}`, hint: 'install and enable systemd-logind (libpam-systemd on Debian)' });

  // Not found and installed-but-failing are told apart: the fixes differ.
  const podman = probeResult(await run(['podman', '--version']));
  checks.push({
    name: 'podman',
    ok: podman.state === 'ok' && podmanRecentEnough(podmanVersion(podman.detail)),
    detail: podman.detail,
    hint: podman.state === 'failing' ? 'podman is installed but does not run: fix what its error says (as root: podman --version)' : 'install Podman >= 4.4 (Quadlet)',
  });
  checks.push({ name: 'quadlet', ok: await exists(QUADLET_USER_GENERATOR, constants.X_OK), detail: QUADLET_USER_GENERATOR, hint: "Podman's user generator must be installed with Podman" });

  // cgroup v2, the user bus, delegation: read here, decided in core/rootless-host.ts.
  const fsType = await run(['stat', '-f', '-c', '%T', '/sys/fs/cgroup']);
  const controllers = await readFile('/sys/fs/cgroup/cgroup.controllers', 'utf8').catch(() => undefined);
  // Any instance shows the template's settings; loading it starts nothing.
  const delegate = await run(['systemctl', 'show', '-p', 'Delegate', '-p', 'DelegateControllers', 'user@0.service']);
  const bus = await run(['systemctl', '--global', 'is-enabled', 'dbus.socket']);
  checks.push(
    ...rootlessHostChecks({
      cgroupFs: fsType.exitCode === 0 ? firstLine(fsType.stdout) : undefined,
      rootControllers: controllers?.trim().split(/\s+/).filter(Boolean),
      userManager: delegate.exitCode === 0 ? parseDelegate(delegate.stdout) : undefined,
      userBusSocket: firstLine(bus.stdout) || (/No such file|not found/i.test(bus.stderr) ? 'not-found' : undefined),
    }),
  );

  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    checks.push({ name: file, ok: text !== undefined, detail: text === undefined ? 'missing' : `${text.split('\n').filter(Boolean).length} ranges`, hint: `moor adds each workload user's range to it with usermod: create it (touch ${file})` });
  }
  for (const tool of ['newuidmap', 'newgidmap', 'flock', 'systemd-run', 'git', 'useradd', 'usermod', 'loginctl']) {
    const found = await run(['sh', '-c', `command -v ${tool}`]);
    checks.push({ name: tool, ok: found.exitCode === 0, detail: found.exitCode === 0 ? found.stdout.trim() : 'not found', hint: tool.startsWith('new') ? 'install uidmap' : tool === 'systemd-run' ? 'systemd-run comes with systemd: moor runs commands as workload users through it' : `install ${tool}` });
  }
  const [nodeMajor = 0] = process.versions.node.split('.').map(Number);
  checks.push({ name: 'node', ok: nodeMajor >= 20, detail: `Node.js ${process.versions.node}`, hint: 'Node.js >= 20' });
  return checks;
}

/**
 * What applying a workload needs of the host, checked by a pass before it changes anything:
 * Podman that runs, and its Quadlet generator (without it, a daemon-reload drops every
 * Quadlet unit). Each missing piece in words; empty when both are there. Through the
 * runner, like every command of a pass.
 */
export async function applyPrerequisites(runner: CommandRunner, timeoutMs: number, generator = QUADLET_USER_GENERATOR): Promise<string[]> {
  const problems: string[] = [];
  // Both at once: this stands between a push and its restart.
  const [version, found] = await Promise.all([runner.run(['podman', '--version'], { timeoutMs }), runner.run(['test', '-x', generator], { timeoutMs })]);
  const podman = probeResult(version);
  if (podman.state === 'not-found') problems.push('Podman is not installed (podman not found)');
  else if (podman.state === 'failing') problems.push(`Podman does not run: ${podman.detail}`);
  if (found.exitCode !== 0) problems.push(`the Quadlet generator ${generator} is missing (it comes with Podman)`);
  return problems;
}
