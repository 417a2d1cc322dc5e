// A hand-driven guest, for demos and for debugging an end-to-end failure (root only):
//   tsx test/e2e/cli.ts shell            boot a guest, open a shell in it, halt it on exit
//   tsx test/e2e/cli.ts run -- CMD...    boot, run one command, halt
//   tsx test/e2e/cli.ts up               boot and keep it up until Ctrl-C (prints how to enter)
//   tsx test/e2e/cli.ts demo             boot, push a one-workload repo, run moor reconcile
// scripts/e2e-guest runs this file.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, REPO_ROOT, bootGuest, shutdownAllGuests, type Guest } from './guest';

const GUEST_SHELL_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', 'TERM=' + (process.env.TERM ?? 'dumb')];

function interactive(guest: Guest, argv: string[]): Promise<number> {
  // Ctrl-C belongs to the command in the guest, not to the harness (which would halt it).
  const saved = process.listeners('SIGINT');
  process.removeAllListeners('SIGINT');
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  return new Promise<number>((resolve) => {
    const child = spawn('nsenter', ['-t', String(guest.pid1), '-a', '--', '/usr/bin/env', '-i', ...GUEST_SHELL_ENV, ...argv], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  }).finally(() => {
    process.off('SIGINT', ignore);
    for (const l of saved) process.on('SIGINT', l as () => void);
  });
}

export const DEMO_CONFIG = `transforms_dir = "/etc/moor/transforms"

[source]
url = "/srv/git/desired.git"
branch = "main"
`;

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

async function main(argv: string[]): Promise<number> {
  const [command = 'shell', ...rest] = argv;
  const guest = await bootGuest({
    log: (m) => console.error(m),
    // The demo needs moor: fail at once, with the reason, when there is no bundle.
    ...(command === 'demo' ? { moorBundle: process.env.MOOR_E2E_BUNDLE ?? join(REPO_ROOT, 'dist', 'moor.mjs') } : {}),
  });
  console.error(`guest ${guest.name} up in ${guest.timings.bootMs} ms (nsenter -t ${guest.pid1} -a)`);
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
        console.error(`enter it with: nsenter -t ${guest.pid1} -a /bin/bash -l   (Ctrl-C here halts it)`);
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
      default:
        throw new Error(`unknown command ${command} (shell | run -- CMD... | up | demo)`);
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
