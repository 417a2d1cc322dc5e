// Coming from quadsync, on a real host (docs/migrating-from-quadsync.md): a companion template
// `_base-data.volume` gives a workload a volume Quadlet makes and its container writes to,
// and goes with the template; a user made the way quadsync makes them (useradd with its
// group, linger, Quadlet files in the home) is refused by moor, then taken over by the
// documented steps: stopped, its home archived with the recipe, removed, created by moor
// and restored, its volume's data back under the new user's ids.
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, BUSYBOX_SERVE_FOREVER, describeExec, eventually, type Guest, moorGuestForFile, TEST_BASE_TRANSFORM } from './guest';

let guest: Guest;

moorGuestForFile((g) => (guest = g), { graceMs: 10_000 });

const reconcile = () => guest.reconcileJson();

async function subuid(user: string): Promise<{ start: number; count: number }> {
  const line = (await guest.run(['grep', `^${user}:`, '/etc/subuid'])).stdout.trim();
  const [, start, count] = line.split(':');
  return { start: Number(start), count: Number(count) };
}

const volumeData = (user: string) => `/home/${user}/.local/share/containers/storage/volumes/systemd-${user}-data/_data`;

const serve = (extra = '') => `[Container]
Image=${BUSYBOX_IMAGE}
User=1000
${extra}Exec=${BUSYBOX_SERVE_FOREVER}

[Install]
WantedBy=default.target
`;

describe('a companion template on a real host', () => {
  it('makes each workload its volume, which Quadlet creates and the container mounts', async () => {
    await guest.writeFile('/etc/moor/transforms/_base-data.volume', '[Volume]\nLabel=workload={{name}}\n');
    await guest.writeFile('/etc/moor/transforms/_base.container', `${TEST_BASE_TRANSFORM}+Volume={{name}}-data.volume:/data:U\n`);
    await guest.pushRepo({
      'notes.container': `[Container]\nImage=${BUSYBOX_IMAGE}\nUser=1000\nExec=/bin/sh -c 'echo written > /data/note; trap "exit 0" TERM; while true; do sleep 1; done'\n\n[Install]\nWantedBy=default.target\n`,
    });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('notes')).toMatchObject({ action: 'create', result: 'ok' });
    expect(await guest.userUnit('notes', 'notes-data-volume.service', ['ActiveState', 'Result'])).toEqual({ ActiveState: 'active', Result: 'success' });
    const note = await eventually('the container wrote to the template volume', async () => {
      const r = await guest.exec(['cat', `${volumeData('notes')}/note`]);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    expect(note).toBe('written');
    const labels = await guest.asUser('notes', ['podman', 'volume', 'inspect', '--format', '{{.Labels.workload}}', 'systemd-notes-data'], { cwd: '/' });
    expect(labels.stdout.trim(), describeExec(labels)).toBe('notes');
  });

  it('the file goes from the workload\'s home when the template leaves the host', async () => {
    await guest.run(['rm', '/etc/moor/transforms/_base-data.volume']);
    await guest.writeFile('/etc/moor/transforms/_base.container', TEST_BASE_TRANSFORM);
    await guest.pushRepo({ 'notes.container': serve() });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(0);
    expect(item('notes')).toMatchObject({ action: 'update', result: 'ok' });
    expect((await guest.exec(['test', '-e', '/home/notes/.config/containers/systemd/notes-data.volume'])).code).not.toBe(0);
  });
});

describe('taking over a user quadsync made', () => {
  let oldUid: number;

  it('a user made as quadsync makes them runs its workload, and moor refuses to adopt it', async () => {
    await guest.run(['groupadd', 'cusers']);
    await guest.run(['useradd', '--create-home', '-s', '/sbin/nologin', '-G', 'cusers', 'app']);
    oldUid = await guest.uid('app');
    expect((await subuid('app')).count).toBe(65536);
    await guest.run(['loginctl', 'enable-linger', 'app']);
    await eventually('the user manager of app', async () => ((await guest.exec(['systemctl', 'is-active', `user@${oldUid}.service`])).stdout.trim() === 'active' ? true : undefined));
    const dir = '/home/app/.config/containers/systemd';
    await guest.writeFile(`${dir}/app.container`, `[Container]\nImage=${BUSYBOX_IMAGE}\nNetwork=none\nUser=1000\nVolume=app-data.volume:/data:U\nExec=/bin/sh -c 'echo quadsync > /data/origin; trap "exit 0" TERM; while true; do sleep 1; done'\n`, { user: 'app' });
    await guest.writeFile(`${dir}/app-data.volume`, '[Volume]\n', { user: 'app' });
    await guest.systemctlUser('app', ['daemon-reload']);
    const start = await guest.systemctlUser('app', ['start', 'app.service']);
    expect(start.code, describeExec(start)).toBe(0);
    await eventually('quadsync\'s container wrote its data', async () => ((await guest.exec(['test', '-e', `${volumeData('app')}/origin`])).code === 0 ? true : undefined));

    await guest.pushRepo({ 'notes.container': serve(), 'app.container': serve('Volume=app-data.volume:/data:U\n'), 'app-data.volume': '[Volume]\n' });
    const { run, item } = await reconcile();
    expect(run.code, describeExec(run)).toBe(1);
    expect(item('app')?.result).toBe('failed');
    expect(item('app')?.error).toMatch(/moor adopts no existing user/);
    // Left exactly as it was.
    expect((await guest.userUnit('app', 'app.service', ['ActiveState'])).ActiveState).toBe('active');
  });

  it('stopped, archived by the recipe, removed, created by moor and restored: the data is back under the new ids', async () => {
    await guest.run(['loginctl', 'disable-linger', 'app']);
    await guest.run(['loginctl', 'terminate-user', 'app']);
    await guest.exec(['systemctl', 'stop', `user@${oldUid}.service`]);
    await eventually('no process of app is left', async () => ((await guest.exec(['pgrep', '-u', 'app'])).code === 1 ? true : undefined));

    // docs/migrating-from-quadsync.md, step 4, as written there.
    const recipe = `set -euo pipefail
u=app; uid=$(id -u $u); gid=$(id -g $u)
read -r us uc < <(awk -F: -v u=$u '$1 == u { print $2, $3 }' /etc/subuid)
read -r gs gc < <(awk -F: -v u=$u '$1 == u { print $2, $3 }' /etc/subgid)
{ echo "+$uid +0"; awk -v s=$us -v c=$uc 'BEGIN { for (i = 0; i < c; i++) printf "+%d +%d\\n", s + i, i + 1 }'; } > /root/$u.owner-map
{ echo "+$gid +0"; awk -v s=$gs -v c=$gc 'BEGIN { for (i = 0; i < c; i++) printf "+%d +%d\\n", s + i, i + 1 }'; } > /root/$u.group-map
tar --create --gzip --numeric-owner --one-file-system \\
    --owner-map=/root/$u.owner-map --group-map=/root/$u.group-map \\
    --file=/root/$u-$uid-$(date -u +%Y%m%dT%H%M%SZ).tar.gz --directory="$(getent passwd $u | cut -d: -f6)" .
chmod 600 /root/$u-*.tar.gz
ls /root/$u-*.tar.gz
`;
    const archived = await guest.exec(['bash', '-c', recipe], { cwd: '/root' });
    expect(archived.code, describeExec(archived)).toBe(0);
    const archive = archived.stdout.trim().split('/').pop()!;
    expect(archive).toMatch(new RegExp(`^app-${oldUid}-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
    expect((await guest.run(['tar', '-tzf', `/root/${archive}`])).stdout).toMatch(/volumes\/systemd-app-data\/_data\/origin/);

    await guest.run(['userdel', '--remove', 'app']);
    guest.forgetUsers();
    const created = await reconcile();
    expect(created.run.code, describeExec(created.run)).toBe(0);
    expect(created.item('app')).toMatchObject({ action: 'create', result: 'ok' });
    expect((await guest.exec(['test', '-e', `${volumeData('app')}/origin`])).code).not.toBe(0);

    await guest.run(['install', '-m', '0600', `/root/${archive}`, '/var/lib/moor/archives/']);
    const restored = await guest.moor(['restore', archive]);
    expect(restored.code, describeExec(restored)).toBe(0);
    const { start } = await subuid('app');
    expect((await guest.run(['cat', `${volumeData('app')}/origin`])).stdout.trim()).toBe('quadsync');
    expect(Number((await guest.run(['stat', '-c', '%u', `${volumeData('app')}/origin`])).stdout.trim())).toBe(start + 999);
    const after = await reconcile();
    expect(after.run.code, describeExec(after.run)).toBe(0);
    expect(after.item('app')).toMatchObject({ action: 'redeploy', result: 'ok' });
    expect((await guest.userUnit('app', 'app.service', ['ActiveState'])).ActiveState).toBe('active');
  });
});
