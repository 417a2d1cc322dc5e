import { describe, expect, it } from 'vitest';
import { createLogger, formatRecord } from '../../daemon/host/log';

function capture(isTTY: boolean) {
  const lines: string[] = [];
  const logger = createLogger('info', { isTTY, write: (l: string) => void lines.push(l) });
  return { logger, lines };
}

describe('log lines', () => {
  it('prefix each line with its syslog priority when not on a terminal', () => {
    const { logger, lines } = capture(false);
    logger.info({ workload: 'web', action: 'update', result: 'ok', duration_ms: 12 }, 'workload applied');
    logger.warn('lock busy');
    logger.error({ workload: 'api', error: 'web.service failed' }, 'workload failed');
    logger.debug('not shown at info');
    expect(lines).toEqual([
      '<6>workload applied workload=web action=update result=ok duration_ms=12\n',
      '<4>lock busy\n',
      '<3>workload failed workload=api error="web.service failed"\n',
    ]);
  });

  it('are readable text without a prefix on a terminal', () => {
    const line = formatRecord({ level: 50, msg: 'workload failed', workload: 'api' }, true, new Date('2026-01-02T03:04:05Z'));
    expect(line).toBe('03:04:05 ERROR workload failed workload=api\n');
  });
});
