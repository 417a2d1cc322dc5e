// For tests that kill a pass at every step: git is not what they kill, so each source and
// branch is synced for real once and its checkout copied into later state dirs.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as Git from '../../daemon/host/git';

export function withCachedSync(real: typeof Git): typeof Git {
  const synced = new Map<string, { template: string; result: Awaited<ReturnType<typeof real.syncRepo>> }>();
  return {
    ...real,
    async syncRepo(options) {
      const known = synced.get(`${options.url}#${options.branch}`);
      if (known) {
        rmSync(options.dir, { recursive: true, force: true });
        cpSync(known.template, options.dir, { recursive: true });
        return known.result;
      }
      const result = await real.syncRepo(options);
      const template = join(dirname(dirname(options.dir)), `synced-${synced.size}`);
      cpSync(options.dir, template, { recursive: true });
      synced.set(`${options.url}#${options.branch}`, { template, result });
      return result;
    },
  };
}
