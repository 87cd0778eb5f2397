// HTTP client for a node daemon's control API (docs/control-api.md):
// PUT/GET /v1/desired-state with the shared bearer token. node:http/https
// only; one keep-alive agent per client; every call has a timeout.

import * as http from 'node:http';
import * as https from 'node:https';
import type { DesiredPod } from './pod-model';

export interface Version {
  epoch: number;
  seq: number;
}

export interface DesiredStateBody extends Version {
  version: string;
  node: string;
  pods: DesiredPod[];
}

export type PushResult =
  | { kind: 'applied'; applied: Version; pods: number; unresolved: number }
  /** The daemon has a newer (epoch, seq), or another node name. */
  | { kind: 'conflict'; applied: Version | null; message: string }
  | { kind: 'error'; status: number | null; message: string };

export interface DaemonClientOptions {
  token: string;
  /** PEM CA bundle for https daemons; default: the system store. */
  ca?: Buffer;
  timeoutMs?: number;
}

export function compareVersion(a: Version, b: Version): number {
  return a.epoch !== b.epoch ? a.epoch - b.epoch : a.seq - b.seq;
}

export class DaemonClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;

  constructor(private readonly opts: DaemonClientOptions) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 2, ...(opts.ca ? { ca: opts.ca } : {}) });
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** PUT the node's complete desired set. Never throws. */
  async push(baseUrl: string, body: DesiredStateBody): Promise<PushResult> {
    let res: { status: number; body: string };
    try {
      res = await this.request('PUT', `${baseUrl}/v1/desired-state`, JSON.stringify(body));
    } catch (err) {
      return { kind: 'error', status: null, message: (err as Error).message };
    }
    const parsed = parseJson(res.body);
    if (res.status === 200) {
      const applied = readVersion(parsed?.applied) ?? { epoch: body.epoch, seq: body.seq };
      const unresolved = Array.isArray(parsed?.unresolved) ? parsed.unresolved.length : 0;
      return { kind: 'applied', applied, pods: typeof parsed?.pods === 'number' ? parsed.pods : body.pods.length, unresolved };
    }
    const message = typeof parsed?.error === 'string' ? parsed.error : res.body.slice(0, 200);
    if (res.status === 409) return { kind: 'conflict', applied: readVersion(parsed?.applied), message };
    return { kind: 'error', status: res.status, message: `HTTP ${res.status}: ${message}` };
  }

  /** GET the daemon's applied version; null after a daemon restart. Throws on transport errors. */
  async applied(baseUrl: string): Promise<Version | null> {
    const res = await this.request('GET', `${baseUrl}/v1/desired-state`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status} from GET /v1/desired-state`);
    return readVersion(parseJson(res.body)?.applied);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private request(method: string, url: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const isHttps = u.protocol === 'https:';
      const headers: Record<string, string | number> = { authorization: `Bearer ${this.opts.token}`, accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = (isHttps ? https : http).request(
        u,
        { method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${u.host} within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readVersion(v: unknown): Version | null {
  if (!v || typeof v !== 'object') return null;
  const { epoch, seq } = v as Record<string, unknown>;
  return typeof epoch === 'number' && typeof seq === 'number' ? { epoch, seq } : null;
}
