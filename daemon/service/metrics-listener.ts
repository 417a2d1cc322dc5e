// `[metrics] listen`: GET /metrics over TCP for a Prometheus that cannot reach the control
// socket. Only /metrics is served here: the control API (status, reconcile, webhook) stays
// on the root-only socket. Bound only where configured, off by default; every request is
// bounded in time, and the number of connections is capped.
import { createServer, type Server } from 'node:http';
import { HostError } from '../core/errors';
import type { Logger } from '../host/log';
import { sendMetrics } from './control-server';

export interface MetricsListener {
  /** host:port it listens on (the port the kernel chose when 0 was asked). */
  readonly where: string;
  readonly port: number;
  close(): Promise<void>;
}

const MAX_CONNECTIONS = 16;

export async function startMetricsListener(opts: { host: string; port: number; metrics: () => Promise<string>; log: Logger }): Promise<MetricsListener> {
  const server: Server = createServer({ headersTimeout: 5_000, requestTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 8 * 1024 }, (req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain' }).end('/metrics takes GET\n');
      return;
    }
    opts.metrics().then(
      (text) => sendMetrics(res, text),
      (err: unknown) => {
        opts.log.error({ err: (err as Error).message }, 'metrics request failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('the metrics could not be read\n');
      },
    );
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new HostError(`metrics.listen: cannot listen on ${opts.host}:${opts.port}: ${err.code ?? err.message} (another process on the port, or an address this host does not have)`)),
    );
    server.listen({ host: opts.host, port: opts.port }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const where = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  opts.log.info({ listen: where }, 'metrics listening');
  return {
    where,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
