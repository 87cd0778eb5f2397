// Host fields added to every event line, as text (no parse on the fast path):
//
// - the Kubernetes identity of the connection's owner (`namespace`, `pod`,
//   `container`, `podLabels`), when a control API is enabled;
// - with --log-format cloud, Google Cloud Logging's structured fields:
//   `severity`, `time`, `message` and `logging.googleapis.com/labels`.
//
// Event lines arrive as JSON object text from the decoder lanes in the shape
// `{"event":…,"decoder":…,"level":…,"connection":"…",…}`. The host's fields
// are appended last, so a decoder field of the same name loses (JSON readers
// keep the last duplicate). Lines of any other shape are parsed instead.

import type { IdentitySource } from '../enrich/kube-labels';
import type { WorkloadIdentity } from '../targets/pod-targets';

export const CLOUD_LABELS_KEY = 'logging.googleapis.com/labels';

export const CLOUD_SEVERITY: Readonly<Record<string, string>> = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
};

export interface LineDecoratorOptions {
  cloud: boolean;
  identities?: IdentitySource;
  now?: () => Date;
}

export type LineDecorator = (jsonObjectText: string) => string;

/** End (index after the closing quote) of the JSON string starting at `start` (a quote), or -1. */
function stringEnd(text: string, start: number): number {
  if (text.charCodeAt(start) !== 34) return -1;
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++; // backslash: skip the escaped character
    else if (c === 34) return i + 1;
  }
  return -1;
}

interface LineHead {
  event: string;
  decoder: string;
  level: string;
  connection: bigint | undefined;
  hasTime: boolean;
}

const P_EVENT = '{"event":';
const P_DECODER = ',"decoder":';
const P_LEVEL = ',"level":"';
const P_CONN = ',"connection":"';

/** The lane's line head, read without parsing the line; undefined for other shapes. */
function readHead(text: string): LineHead | undefined {
  if (!text.startsWith(P_EVENT) || !text.endsWith('}')) return undefined;
  const eEnd = stringEnd(text, P_EVENT.length);
  if (eEnd < 0 || !text.startsWith(P_DECODER, eEnd)) return undefined;
  const dStart = eEnd + P_DECODER.length;
  const dEnd = stringEnd(text, dStart);
  if (dEnd < 0 || !text.startsWith(P_LEVEL, dEnd)) return undefined;
  const lStart = dEnd + P_LEVEL.length;
  const lEnd = text.indexOf('"', lStart);
  if (lEnd < 0) return undefined;
  let connection: bigint | undefined;
  if (text.startsWith(P_CONN, lEnd + 1)) {
    const cStart = lEnd + 1 + P_CONN.length;
    const cEnd = text.indexOf('"', cStart);
    const digits = text.slice(cStart, cEnd);
    if (cEnd < 0 || !/^[0-9]{1,20}$/.test(digits)) return undefined;
    connection = BigInt(digits);
  }
  return {
    event: JSON.parse(text.slice(P_EVENT.length, eEnd)) as string,
    decoder: JSON.parse(text.slice(dStart, dEnd)) as string,
    level: text.slice(lStart, lEnd),
    connection,
    // The lanes write `time` last.
    hasTime: text.lastIndexOf(',"time":"') > 0,
  };
}

function headOf(obj: Record<string, unknown>): LineHead {
  const conn = obj.connection;
  return {
    event: typeof obj.event === 'string' ? obj.event : '',
    decoder: typeof obj.decoder === 'string' ? obj.decoder : '',
    level: typeof obj.level === 'string' ? obj.level : 'info',
    connection: typeof conn === 'string' && /^[0-9]{1,20}$/.test(conn) ? BigInt(conn) : undefined,
    hasTime: typeof obj.time === 'string',
  };
}

function identityFields(id: WorkloadIdentity): string {
  return (
    ',"namespace":' + JSON.stringify(id.namespace) +
    ',"pod":' + JSON.stringify(id.pod) +
    ',"container":' + JSON.stringify(id.container) +
    ',"podLabels":' + JSON.stringify(id.labels)
  );
}

/** The Cloud Logging fields of one line. */
function cloudFields(h: LineHead, id: WorkloadIdentity | undefined, now: () => Date): string {
  const labels: Record<string, string> = { decoder: h.decoder, event: h.event };
  if (id) {
    labels.namespace = id.namespace;
    labels.pod = id.pod;
    labels.container = id.container;
    // GKE's own naming for pod labels in Cloud Logging.
    for (const [k, v] of Object.entries(id.labels)) labels[`k8s-pod/${k}`] = v;
  }
  let out = ',"severity":"' + (CLOUD_SEVERITY[h.level] ?? 'DEFAULT') + '"';
  out += ',"message":' + JSON.stringify(h.decoder === '' ? h.event : `${h.decoder} ${h.event}`);
  if (!h.hasTime) out += ',"time":"' + now().toISOString() + '"';
  out += ',"' + CLOUD_LABELS_KEY + '":' + JSON.stringify(labels);
  return out;
}

/**
 * @example
 * const decorate = eventLineDecorator({ cloud: true, identities });
 * decorate('{"event":"close","decoder":"tcp","level":"info","connection":"8214","time":"…"}')
 * // …,"namespace":"shop","pod":"web-0","container":"app","podLabels":{…},"severity":"INFO","message":"tcp close",…}
 */
export function eventLineDecorator(opts: LineDecoratorOptions): LineDecorator {
  const now = opts.now ?? (() => new Date());
  const ids = opts.identities;
  return (text: string): string => {
    let head = readHead(text);
    if (head === undefined) {
      try {
        const obj = JSON.parse(text) as unknown;
        if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || !text.trimEnd().endsWith('}')) return text;
        head = headOf(obj as Record<string, unknown>);
        text = text.trimEnd();
      } catch {
        return text;
      }
    }
    const id = ids !== undefined && head.connection !== undefined ? ids.ofConnection(head.connection) : undefined;
    let extra = id ? identityFields(id) : '';
    if (opts.cloud) extra += cloudFields(head, id, now);
    if (extra === '') return text;
    // "{}" has nothing before the brace: no leading comma then.
    return text === '{}' ? '{' + extra.slice(1) + '}' : text.slice(0, -1) + extra + '}';
  };
}
