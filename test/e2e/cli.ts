// A hand-driven guest, for demos and for debugging an end-to-end failure (root only):
//   tsx test/e2e/cli.ts shell            boot a guest, open a shell in it, halt it on exit
//   tsx test/e2e/cli.ts run -- CMD...    boot, run one command, halt
//   tsx test/e2e/cli.ts up               boot and keep it up until Ctrl-C (prints how to enter)
//   tsx test/e2e/cli.ts demo             boot, push a one-workload repo, run moor reconcile
//   tsx test/e2e/cli.ts example          boot, push the shipped example repo with the shipped
//                                        transforms, reconcile, show status and what runs
// scripts/e2e-guest runs this file; scripts/demo runs `example`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, GUEST_BARE_REPO, GUEST_MOOR, GUEST_MOOR_CONFIG, GUEST_NODE, REPO_ROOT, bootGuest, readHostTree, shutdownAllGuests, type Guest } from './guest';

const GUEST_SHELL_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', 'TERM=' + (process.env.TERM ?? 'dumb')];

function interactive(guest: Guest, argv: string[]): Promise<number> {
  // Ctrl-C belongs to the command in the guest, not to the harness (which would halt it).
  const saved = process.listeners('SIGINT');
  process.removeAllListeners('SIGINT');
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  return new Promise<number>((resolve) => {
    const [file, ...args] = guest.enterArgv([...GUEST_SHELL_ENV, ...argv]);
    const child = spawn(file!, args, { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  }).finally(() => {
    process.off('SIGINT', ignore);
    for (const l of saved) process.on('SIGINT', l as () => void);
  });
}

export const DEMO_CONFIG = GUEST_MOOR_CONFIG;

export const DEMO_CONTAINER = `[Unit]
Description=moor end-to-end demo workload

[Container]
Image=${BUSYBOX_IMAGE}
Exec=${BUSYBOX_SERVE_FOREVER}

[Install]
WantedBy=default.target
`;

/** Guest state a demo (or a test) wants to see after moor applied `hello`. */
export async function describeWorkload(guest: Guest, user: string): Promise<string> {
  const lines: string[] = [];
  const show = async (label: string, argv: string[], asUser = false) => {
    try {
      const r = asUser ? await guest.asUser(user, argv, { cwd: '/' }) : await guest.exec(argv);
      lines.push(`$ ${label}\n${(r.stdout + r.stderr).trimEnd()}`);
    } catch (e) {
      lines.push(`$ ${label}\n(${(e as Error).message.split('\n').join(' ')})`);
    }
  };
  await show(`getent passwd ${user}`, ['getent', 'passwd', user]);
  await show(`loginctl show-user ${user} -p Linger -p State`, ['loginctl', 'show-user', user, '-p', 'Linger', '-p', 'State']);
  await show(`systemctl --user show ${user}.service (as ${user})`, ['systemctl', '--user', 'show', '-p', 'ActiveState,SubState,MainPID,SourcePath', `${user}.service`], true);
  await show(`podman ps (as ${user})`, ['podman', 'ps'], true);
  return lines.join('\n\n');
}

async function demo(guest: Guest): Promise<number> {
  await guest.writeFile('/etc/moor/config.toml', DEMO_CONFIG);
  await guest.installTestTransforms();
  await guest.initBareRepo();
  const commit = await guest.pushRepo({ 'hello.container': DEMO_CONTAINER }, { message: 'one workload: hello' });
  console.log(`pushed ${commit.slice(0, 12)} to /srv/git/desired.git in guest ${guest.name}\n$ moor reconcile --once`);
  const r = await guest.moor(['reconcile', '--once']);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  console.log(`(exit ${r.code})\n`);
  console.log(await describeWorkload(guest, 'hello'));
  if (r.code !== 0) console.log(`\n$ journalctl (last 80 lines)\n${await guest.journal({ lines: 80 })}`);
  return r.code ?? 1;
}

/**
 * Runs argv in the guest with this terminal as its stdin/stdout/stderr (so moor sees a
 * terminal when there is one, and prints its readable form), after a `$ label` line.
 */
function shown(guest: Guest, label: string, argv: string[], user?: { name: string; uid: number }): Promise<number> {
  if (interrupted) return Promise.resolve(130);
  console.log(`\n$ ${label}${user ? `    (as ${user.name})` : ''}`);
  const asUser = user ? ['runuser', '-u', user.name, '--', 'env', `XDG_RUNTIME_DIR=/run/user/${user.uid}`] : [];
  const env = GUEST_SHELL_ENV;
  return new Promise<number>((resolve) => {
    const [file, ...args] = guest.enterArgv(['-C', '/', ...env, ...asUser, ...argv]);
    const child = spawn(file!, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (e) => {
      console.error(`${file}: ${e.message}`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** The workloads of a repo tree: every .container / .pod / .kube stem (pod members and companion .kube files aside, which the example has none of). */
function workloadsOf(files: Record<string, string>): string[] {
  return Object.keys(files)
    .map((p) => /(?:^|\/)([^/]+)\.(?:container|pod|kube)$/.exec(p)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

/**
 * The README's demo: the shipped example repo (examples/repo) and the shipped transforms
 * (transforms/, plus the guest-only lines in _base.container and _base.kube) on a real systemd host.
 * Returns moor reconcile's exit code (or check's, when the tree is invalid).
 */
async function example(guest: Guest): Promise<number> {
  const repoDir = join(REPO_ROOT, 'examples', 'repo');
  const files = readHostTree(repoDir);
  const workTree = `${GUEST_BARE_REPO.replace(/\.git$/, '')}-work`;
  await guest.writeFile('/etc/moor/config.toml', GUEST_MOOR_CONFIG);
  await guest.installTransforms(join(REPO_ROOT, 'transforms'));
  await guest.initBareRepo(GUEST_BARE_REPO);
  const commit = await guest.pushRepo(files, { bare: GUEST_BARE_REPO, message: 'the example desired state', workTree });
  console.log(`== a fresh Debian guest with systemd, logind and rootless Podman (systemd-nspawn, PID 1 is ${guest.pid1} here)`);
  console.log(`pushed examples/repo as ${commit.slice(0, 12)} to ${GUEST_BARE_REPO} in the guest`);
  console.log(`/etc/moor/transforms: transforms/ as shipped, the guest-only lines appended to _base.container and _base.kube`);
  console.log(`/etc/moor/config.toml:\n${GUEST_MOOR_CONFIG.trimEnd().replace(/^/gm, '    ')}`);

  const moor = (args: string[]) => shown(guest, `moor ${args.join(' ')}`, [GUEST_NODE, GUEST_MOOR, ...args]);
  const checked = await moor(['check', workTree, '--transforms', '/etc/moor/transforms']);
  if (checked !== 0) return checked;
  const code = await moor(['reconcile', '--once']);
  if (interrupted) return 130;
  await moor(['status']);

  console.log('\n== what runs on the guest now');
  const users: { name: string; uid: number }[] = [];
  for (const name of workloadsOf(files)) {
    const r = await guest.exec(['id', '-u', name]);
    if (r.code === 0) users.push({ name, uid: Number(r.stdout.trim()) });
  }
  if (users.length > 0) {
    const names = users.map((u) => u.name);
    await shown(guest, `getent passwd ${names.join(' ')}`, ['getent', 'passwd', ...names]);
    await shown(guest, 'loginctl list-users', ['loginctl', 'list-users', '--no-pager']);
    const managers = users.map((u) => `user@${u.uid}.service`);
    await shown(guest, `systemctl is-active ${managers.join(' ')}`, ['systemctl', 'is-active', ...managers]);
  }
  for (const user of users) {
    await shown(guest, `systemctl --user list-units --legend=no --type=service,timer '${user.name}*'`, ['systemctl', '--user', 'list-units', '--no-pager', '--legend=no', '--type=service,timer', `${user.name}*`], user);
    await shown(guest, 'podman ps', ['podman', 'ps'], user);
    // Quadlet names a .container's container systemd-<name>; kube play names a pod's <pod>-<container>.
    const kube = `${user.name}.kube` in files;
    if (kube) await shown(guest, 'podman pod ps', ['podman', 'pod', 'ps'], user);
    const container = kube ? '--latest' : `systemd-${user.name}`;
    await shown(guest, `podman logs --tail 2 ${container}`, ['podman', 'logs', '--tail', '2', container], user);
  }
  const web = users.find((u) => u.name === 'web');
  if (web) await shown(guest, 'systemctl --user list-timers', ['systemctl', '--user', 'list-timers', '--no-pager'], web);
  if (code !== 0) {
    console.log(`\n$ journalctl -n 80    (moor reconcile exited ${code})`);
    console.log(await guest.journal({ lines: 80 }));
  }
  console.log(`\nmoor reconcile --once exited ${code}; halting the guest (nothing of it stays on this machine)`);
  return code;
}

/** Set by Ctrl-C (or SIGTERM) during a demo: the guest is halting, show nothing more. */
let interrupted = false;

/**
 * Ctrl-C in a demo halts the guest at once, before the harness's own handler (which
 * shuts every guest down with a long grace, then exits by the same signal): the demo's
 * guest is volatile, there is nothing to wait for.
 */
function haltOnInterrupt(guest: Guest): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.prependOnceListener(sig, () => {
      interrupted = true;
      console.error(`\n${sig}: halting guest ${guest.name}`);
      void guest.shutdown(3_000);
    });
  }
}

/** A shell command that enters the guest as the harness does: from its cgroup, into its namespaces. */
function enterCommand(guest: Guest): string {
  const nsenter = `nsenter -t ${guest.pid1} -a /bin/bash -l`;
  if (guest.enterCgroupDirs.length === 0) return nsenter;
  return `sh -c 'for d in ${guest.enterCgroupDirs.join(' ')}; do mkdir -p $d && echo $$ > $d/cgroup.procs; done; exec ${nsenter}'`;
}

async function main(argv: string[]): Promise<number> {
  const [command = 'shell', ...rest] = argv;
  const guest = await bootGuest({
    log: (m) => console.error(m),
    // The demo needs moor: fail at once, with the reason, when there is no bundle.
    ...(command === 'demo' || command === 'example' ? { moorBundle: process.env.MOOR_E2E_BUNDLE ?? join(REPO_ROOT, 'dist', 'moor.mjs') } : {}),
  });
  console.error(`guest ${guest.name} up in ${guest.timings.bootMs} ms (PID 1 is ${guest.pid1} on this host)`);
  if (command === 'demo' || command === 'example') haltOnInterrupt(guest);
  try {
    switch (command) {
      case 'shell':
        return await interactive(guest, ['/bin/bash', '-l']);
      case 'run': {
        const cmd = rest[0] === '--' ? rest.slice(1) : rest;
        if (cmd.length === 0) throw new Error('run: no command');
        return await interactive(guest, cmd);
      }
      case 'up':
        console.error(`enter it with (Ctrl-C here halts it):\n  ${enterCommand(guest)}`);
        await new Promise<void>((resolve) => {
          // The harness keeps no handle open on the guest: this keeps the process up.
          const keepAlive = setInterval(() => undefined, 60_000);
          guest.exitPromise.then(() => {
            clearInterval(keepAlive);
            resolve();
          });
        });
        return 0;
      case 'demo':
        return await demo(guest);
      case 'example':
        return await example(guest);
      default:
        throw new Error(`unknown command ${command} (shell | run -- CMD... | up | demo | example)`);
    }
  } finally {
    await guest.shutdown();
    console.error(`guest ${guest.name} halted`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    await shutdownAllGuests();
    process.exit(1);
  },
);
