// `moor doctor`: what the host must offer before a pass can succeed (docs/design.md §10). Each
// check runs a tool or reads a file, bounded, and says how to fix what it finds.
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { CommandRunner } from '../core/ports';
import { parseDelegate, rootlessHostChecks, type PreflightCheck } from '../core/rootless-host';
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

  const podman = await run(['podman', '--version']);
  const [maj = 0, min = 0] = (/(\d+)\.(\d+)/.exec(podman.stdout) ?? []).slice(1).map(Number);
  checks.push({ name: 'podman', ok: maj > 4 || (maj === 4 && min >= 4), detail: podman.exitCode === 0 ? firstLine(podman.stdout) : 'podman not found', hint: 'install Podman >= 4.4 (Quadlet)' });
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
    checks.push({ name: file, ok: text !== undefined, detail: text === undefined ? 'missing' : `${text.split('\n').filter(Boolean).length} ranges`, hint: 'useradd allocates ranges when SUB_UID_COUNT > 0 in /etc/login.defs' });
  }
  for (const tool of ['newuidmap', 'newgidmap', 'flock', 'systemd-run', 'git', 'useradd', 'loginctl']) {
    const found = await run(['sh', '-c', `command -v ${tool}`]);
    checks.push({ name: tool, ok: found.exitCode === 0, detail: found.exitCode === 0 ? found.stdout.trim() : 'not found', hint: tool.startsWith('new') ? 'install uidmap' : tool === 'systemd-run' ? 'systemd-run comes with systemd: moor runs commands as workload users through it' : `install ${tool}` });
  }
  const [nodeMajor = 0] = process.versions.node.split('.').map(Number);
  checks.push({ name: 'node', ok: nodeMajor >= 20, detail: `Node.js ${process.versions.node}`, hint: 'Node.js >= 20' });
  return checks;
}
