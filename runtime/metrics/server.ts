// HTTP endpoint for Prometheus: GET /metrics and GET /healthz. Small on
// purpose (node:http, no framework). Bind failures become ConfigErrors that
// name the flag to change; client misbehaviour never reaches the daemon.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError } from '../errors';
import type { Logger } from '../log/logger';
import { formatAddr, type MetricsAddr } from '../cli/options';

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port; read the chosen one from `address`. */
  port: number;
  registry: Registry;
  logger: Logger;
}

export interface MetricsServer {
  /** Address actually bound (real port when 0 was asked). */
  address: MetricsAddr;
  /** Stop listening and drop open keep-alive connections. */
  close(): Promise<void>;
}

const BIND_HINTS: Record<string, (addr: string) => string> = {
  EADDRINUSE: (a) =>
    `another process listens on ${a}; pick a free port with --metrics-addr (e.g. --metrics-addr 127.0.0.1:9465, or port 0 for any free port)`,
  EACCES: () => 'ports below 1024 need extra privilege; use --metrics-addr with a port of 1024 or more',
  EADDRNOTAVAIL: () =>
    'no local interface has this address; use --metrics-addr 127.0.0.1:PORT, or 0.0.0.0:PORT for every interface',
  ENOTFOUND: () => 'the host name does not resolve; use an IP address in --metrics-addr',
  EAI_AGAIN: () => 'the host name does not resolve; use an IP address in --metrics-addr',
};

/**
 * @example
 * const srv = await startMetricsServer({ host: '127.0.0.1', port: 9464, registry, logger });
 * // curl http://127.0.0.1:9464/metrics
 * await srv.close();
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, logger: log } = options;
  const requested = formatAddr({ host: options.host, port: options.port });

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.warn('metrics request failed', { err, url: req.url });
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      }
      res.end('internal error\n');
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    const known = url === '/metrics' || url === '/healthz';
    if (!known) return reply(res, 404, 'not found: try /metrics or /healthz\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return reply(res, 405, 'method not allowed: use GET\n');
    }
    if (url === '/healthz') return reply(res, 200, 'ok\n', req.method === 'HEAD');
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  // Malformed requests or resets from a scraper: answer 400 if possible, never throw.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log.debug('bad metrics client', { code: err.code });
    if (socket.writable && err.code !== 'ECONNRESET') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    } else {
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const hint = BIND_HINTS[err.code ?? '']?.(requested) ?? 'change --metrics-addr';
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
      reject(new ConfigError(`cannot serve metrics on ${requested}: ${why}`, { cause: err, hint }));
    };
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // After a successful bind, later server errors are logged, not fatal.
  server.on('error', (err) => log.warn('metrics server error', { err }));

  const bound = server.address() as AddressInfo;
  const address: MetricsAddr = { host: bound.address, port: bound.port };
  log.info('serving metrics', { url: `http://${formatAddr(address)}/metrics` });

  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function reply(res: http.ServerResponse, status: number, body: string, headOnly = false): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(headOnly ? undefined : body);
}
