// Small pure parts of the daemon: socket activation's environment, the watch targets and
// their filters, errors carried over the control socket, and the stall limit.
import { describe, expect, it } from 'vitest';
import { listenFdsFromEnv, unsetListenEnv } from '../../daemon/service/listen-fds';
import { DaemonReportedError, reviveError, serializeError } from '../../daemon/service/protocol';
import { exitCodeOfCategory } from '../../daemon/core/exit-codes';
import { watchTargets } from '../../daemon/service/watch';
import { stallLimitMs } from '../../daemon/service/agent';
import { resolveConfig } from '../../daemon/core/config/resolve';
import { ConfigError, GuardError, LockHeldError, SourceError, ValidationError } from '../../daemon/core/errors';

describe('listenFdsFromEnv', () => {
  it('takes fd 3 when LISTEN_PID is ours', () => {
    expect(listenFdsFromEnv({ LISTEN_FDS: '1', LISTEN_PID: '42' }, 42)).toEqual({ fd: 3, count: 1, names: [] });
    expect(listenFdsFromEnv({ LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'moor.socket:other' }, 42)).toEqual({ fd: 3, count: 2, names: ['moor.socket', 'other'] });
  });
  it('ignores sockets meant for another process, and a missing or bad count', () => {
    expect(listenFdsFromEnv({ LISTEN_FDS: '1', LISTEN_PID: '41' }, 42)).toBeUndefined();
    expect(listenFdsFromEnv({}, 42)).toBeUndefined();
    expect(listenFdsFromEnv({ LISTEN_FDS: '0', LISTEN_PID: '42' }, 42)).toBeUndefined();
    expect(listenFdsFromEnv({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42)).toBeUndefined();
  });
  it('unsets the variables so the commands moor runs do not see them', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_FDS: '1', LISTEN_PID: '42', LISTEN_FDNAMES: 'a', PATH: '/bin' };
    unsetListenEnv(env);
    expect(env).toEqual({ PATH: '/bin' });
  });
});

describe('watchTargets', () => {
  const config = resolveConfig({ transforms_dir: '/etc/moor/transforms', source: { bare_repo: '/srv/git/deploy.git', branch: 'release/prod' } }, []);
  const targets = watchTargets(config, '/etc/moor/config.toml');
  const by = (kind: string) => targets.find((t) => t.kind === kind)!;

  it('watches the transforms folder, the config folder and the bare repo', () => {
    expect(targets.map((t) => [t.kind, t.root])).toEqual([
      ['transforms', '/etc/moor/transforms'],
      ['config', '/etc/moor'],
      ['source', '/srv/git/deploy.git'],
    ]);
  });

  it('triggers on the deployed ref, packed-refs and reftable only', () => {
    const source = by('source');
    for (const rel of ['refs/heads/release/prod', 'packed-refs', 'reftable/tables.list']) expect(source.relevant(rel), rel).toBe(true);
    for (const rel of ['refs/heads/main', 'refs/heads/release/prod.lock', 'objects/ab/cdef', 'HEAD', 'refs/tags/v1', 'packed-refs.lock']) {
      expect(source.relevant(rel), rel).toBe(false);
    }
    // The directories on the way to the ref are watched, nothing else.
    for (const rel of ['refs', 'refs/heads', 'refs/heads/release']) expect(source.visible(rel), rel).toBe(true);
    for (const rel of ['objects', 'refs/tags', 'hooks', 'refs/heads/main']) expect(source.visible(rel), rel).toBe(false);
  });

  it('triggers at once on the deployed ref written (add, change), and lets packed-refs, reftable and an unlink settle', () => {
    const source = by('source');
    expect(source.immediate?.('refs/heads/release/prod', 'add')).toBe(true);
    expect(source.immediate?.('refs/heads/release/prod', 'change')).toBe(true);
    for (const [rel, event] of [['refs/heads/release/prod', 'unlink'], ['packed-refs', 'change'], ['reftable/tables.list', 'change'], ['refs/heads/main', 'change']] as const) {
      expect(source.immediate?.(rel, event), `${rel} ${event}`).toBe(false);
    }
    expect(by('transforms').immediate).toBeUndefined();
    expect(by('config').immediate).toBeUndefined();
  });

  it('triggers on the config file and config.d/*.toml, not on editor leftovers or the transforms inside /etc/moor', () => {
    const c = by('config');
    for (const rel of ['config.toml', 'config.d/10-source.toml']) expect(c.relevant(rel), rel).toBe(true);
    for (const rel of ['config.toml~', '.config.toml.swp', 'config.d/.10.toml.swp', 'config.d/notes.txt', 'transforms', 'deploy_key']) {
      expect(c.relevant(rel), rel).toBe(false);
    }
    expect(c.visible('config.d')).toBe(true);
    expect(c.visible('transforms')).toBe(false);
  });

  it('triggers on any transform file but dotfiles and swap files', () => {
    const t = by('transforms');
    expect(t.relevant('_base.container')).toBe(true);
    expect(t.relevant('apps.container')).toBe(true);
    expect(t.relevant('.apps.container.swp')).toBe(false);
  });

  it('watches no refs when the source is not a bare repo on this host', () => {
    const remote = resolveConfig({ source: { url: 'https://git.example.com/x.git' } }, []);
    expect(watchTargets(remote, '/etc/moor/config.toml').map((t) => t.kind)).toEqual(['transforms', 'config']);
  });
});

describe('errors over the control socket', () => {
  it('keep their category, so the client exits as an in-process pass would', () => {
    const cases: Array<[Error, number]> = [
      [new ValidationError([{ path: 'a.container', code: 'x', message: 'bad' }]), 2],
      [new ConfigError('/etc/moor/config.toml', 'bad', 3, 'k'), 2],
      [new SourceError('fetch failed'), 4],
      [new GuardError('would remove everything', ['a', 'b']), 5],
      [new LockHeldError('/run/moor/lock', 'pid 1'), 3],
      // Not a MoorError: a bug, which reads as "failed" (6), never as a partial apply (1).
      [new Error('boom'), 6],
    ];
    for (const [err, code] of cases) {
      const wire = JSON.parse(JSON.stringify(serializeError(err)));
      const revived = reviveError(wire);
      expect(exitCodeOfCategory(revived.category), err.message).toBe(code);
      expect(revived.message).toContain(err.message);
    }
  });

  it('carry the problems of a validation error and the removals of a guard', () => {
    const v = reviveError(serializeError(new ValidationError([{ path: 'a.container', line: 2, code: 'x', message: 'bad' }])));
    expect(v).toBeInstanceOf(ValidationError);
    expect((v as ValidationError).problems).toEqual([{ path: 'a.container', line: 2, code: 'x', message: 'bad' }]);
    const g = reviveError(serializeError(new GuardError('no', ['web'])));
    expect((g as GuardError).removals).toEqual(['web']);
    const s = reviveError(serializeError(new SourceError('fetch failed')));
    expect(s).toBeInstanceOf(DaemonReportedError);
    expect(s.name).toBe('SourceError');
  });
});

describe('stallLimitMs', () => {
  it('is a fetch, a health gate, a stop, an archive and thirty commands', () => {
    expect(stallLimitMs(resolveConfig({}, []))).toBe(120_000 + 300_000 + 90_000 + 3_600_000 + 1_800_000);
  });
});
