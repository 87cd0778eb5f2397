// The control API of `lightfoot run --control-addr` (docs/control-api.md):
// the Kubernetes watcher pushes this node's desired pods; anyone may ask
// /healthz and /readyz. node:http or node:https, no framework.
//
// Order of checks, so that a hostile request changes nothing and costs
// little: route and method → bearer token (before any body byte is read) →
// content type → declared and actual size (≤ 1 MiB) → JSON → schema → version.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors';
import type { Logger } from '../log/logger';
import { formatAddr, type MetricsAddr } from '../cli/options';
import { LIMITS, validateDesiredState } from './desired-state';
import type { DesiredStateStore } from './desired-state-store';
import type { BearerToken } from './token';
import type { PodStatus } from '../targets/pod-targets';

export interface ControlServerOptions {
  host: string;
  port: number;
  token: BearerToken;
  /** PEM files: serve HTTPS. */
  tls?: { certFile: string; keyFile: string };
  store: DesiredStateStore;
  targets: () => PodStatus[];
  /** /readyz: probes loaded and the daemon running. */
  ready: () => boolean;
  logger: Logger;
  /** Called after every applied change. */
  onApplied?: (pods: number, unresolved: number) => void;
  /** Called with the status code of every answered request (self-metrics). */
  onResponse?: (status: number) => void;
}

export interface ControlServer {
  address: MetricsAddr;
  scheme: 'http' | 'https';
  /** Requests answered, by status code (tests and self-metrics). */
  readonly counts: ReadonlyMap<number, number>;
  close(): Promise<void>;
}

const ROUTES: Record<string, { methods: string[]; auth: boolean }> = {
  '/healthz': { methods: ['GET', 'HEAD'], auth: false },
  '/readyz': { methods: ['GET', 'HEAD'], auth: false },
  '/v1/desired-state': { methods: ['GET', 'PUT'], auth: true },
  '/v1/targets': { methods: ['GET'], auth: true },
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads at most `limit` bytes; a larger body is a 413 (the rest is not read). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new HttpError(413, `body of ${declared} bytes is over the limit of ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(new HttpError(413, `body is over the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
    req.on('aborted', () => {
      if (!done) {
        done = true;
        reject(new HttpError(400, 'request aborted'));
      }
    });
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body) + '\n';
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
  if (!res.headersSent) res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(headOnly ? undefined : text);
}

/**
 * @example
 * const srv = await startControlServer({ host: '0.0.0.0', port: 9465, token, store, targets, ready, logger });
 * // curl -H "authorization: Bearer $(cat token)" http://NODE:9465/v1/targets
 */
export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const log = opts.logger;
  const counts = new Map<number, number>();
  const requested = formatAddr({ host: opts.host, port: opts.port });

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.on('finish', () => {
      counts.set(res.statusCode, (counts.get(res.statusCode) ?? 0) + 1);
      opts.onResponse?.(res.statusCode);
    });
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        // A body we refused to read: close the connection rather than read more of it.
        if ((err.status === 413 || err.status === 401) && !res.headersSent) res.setHeader('connection', 'close');
        send(res, err.status, { error: err.message });
        return;
      }
      log.warn('control request failed', { err, url: req.url, method: req.method });
      send(res, 500, { error: 'internal error' });
    });
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0]!;
    const route = ROUTES[url];
    if (!route) throw new HttpError(404, `no such endpoint ${JSON.stringify(url.slice(0, 100))}: see docs/control-api.md`);
    const method = req.method ?? '';
    if (!route.methods.includes(method)) {
      res.setHeader('allow', route.methods.join(', '));
      throw new HttpError(405, `${method} is not allowed on ${url}: use ${route.methods.join(' or ')}`);
    }
    if (route.auth && !opts.token.accepts(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="lightfoot"');
      throw new HttpError(401, 'missing or wrong bearer token (Authorization: Bearer <token from --control-token-file>)');
    }
    const head = method === 'HEAD';
    if (url === '/healthz') return send(res, 200, 'ok\n', head);
    if (url === '/readyz') return opts.ready() ? send(res, 200, 'ready\n', head) : send(res, 503, 'not ready\n', head);
    if (url === '/v1/targets') return send(res, 200, opts.targets());
    if (method === 'GET') return send(res, 200, opts.store.view());

    const type = String(req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpError(415, `content-type ${JSON.stringify(type)}: send application/json`);
    const raw = await readBody(req, LIMITS.bodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
    }
    const v = validateDesiredState(body);
    if (!v.ok) throw new HttpError(400, v.error);
    const result = opts.store.apply(v.value);
    if (result.status === 200 && result.changed) {
      log.info('desired state applied', {
        epoch: v.value.epoch,
        seq: v.value.seq,
        version: v.value.version,
        pods: result.body.pods,
        unresolved: result.body.unresolved.length,
      });
      opts.onApplied?.(result.body.pods, result.body.unresolved.length);
    } else if (result.status === 409) {
      log.info('desired state refused', { epoch: v.value.epoch, seq: v.value.seq, reason: result.body.error });
    }
    send(res, result.status, result.body);
  }

  let server: http.Server;
  let scheme: 'http' | 'https' = 'http';
  if (opts.tls) {
    const read = (flag: string, file: string): Buffer => {
      try {
        return fs.readFileSync(file);
      } catch (err) {
        throw new ConfigError(`${flag} ${file}: ${(err as Error).message}`, { cause: err, hint: 'pass a readable PEM file' });
      }
    };
    const cert = read('--control-tls-cert', opts.tls.certFile);
    const key = read('--control-tls-key', opts.tls.keyFile);
    try {
      server = https.createServer({ cert, key, minVersion: 'TLSv1.2' }, handler);
    } catch (err) {
      throw new ConfigError(`--control-tls-cert/--control-tls-key: ${(err as Error).message}`, {
        cause: err,
        hint: 'pass a PEM certificate and its matching private key',
      });
    }
    scheme = 'https';
  } else {
    server = http.createServer(handler);
  }
  // Slow or idle clients cannot hold the server: bounded header, request and idle times, connections.
  server.headersTimeout = 5_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = 128;
  server.maxHeadersCount = 100;

  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log.debug('bad control client', { code: err.code });
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
      reject(new ConfigError(`cannot serve the control API on ${requested}: ${why}`, { cause: err, hint: 'change --control-addr (port 0 picks a free one)' }));
    };
    server.once('error', onError);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.warn('control server error', { err }));
  const bound = server.address() as AddressInfo;
  const address: MetricsAddr = { host: bound.address, port: bound.port };
  log.info('serving the control API', { url: `${scheme}://${formatAddr(address)}/v1/desired-state` });

  let closing: Promise<void> | undefined;
  return {
    address,
    scheme,
    counts,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
