// The compact form of a decode-output (engine.ts CompactOutput) built in
// TypeScript from the object form, by the rules native/src/wasm/compact.rs
// applies in the engine: strings interned per output, log-events checked by
// log-events.ts's limits (broken ones dropped and counted), fields rendered as
// JSON members with reserved keys renamed, an integer `tsNs` moved to its column.
// Used by the fake engine (testing.ts) and the benchmark; the daemon gets the
// compact form from the native engine.

import type { CompactOutput, DecodeOutput, FieldValue } from './engine';
import { LOG_LIMITS, RESERVED_LOG_KEYS } from './log-events';

const OPS: Record<string, number> = { add: 0, set: 1, observe: 2 };
const LEVELS: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function fieldJson(v: FieldValue): string | undefined {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `"${v}"`;
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : `"${String(v)}"`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

/** The rendered fields and the tsNs, or undefined when the log-event breaks a rule. */
export function renderLogFields(fields: unknown): { json: string; tsNs: bigint } | undefined {
  if (!Array.isArray(fields) || fields.length > LOG_LIMITS.fields) return undefined;
  const members = new Map<string, FieldValue>();
  for (const f of fields) {
    if (!Array.isArray(f) || f.length !== 2) return undefined;
    const [k, v] = f as [unknown, unknown];
    if (typeof k !== 'string' || k.length === 0 || k.length > LOG_LIMITS.keyLength) return undefined;
    if (typeof v === 'string') {
      if (v.length > LOG_LIMITS.stringLength) return undefined;
    } else if (typeof v !== 'number' && typeof v !== 'bigint' && typeof v !== 'boolean') return undefined;
    members.set(RESERVED_LOG_KEYS.has(k) ? `field_${k}` : k, v);
  }
  let tsNs = 0n;
  const ts = members.get('tsNs');
  if ((typeof ts === 'bigint' && ts >= 0n) || (typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0)) {
    tsNs = BigInt(ts);
    members.delete('tsNs');
  }
  const parts: string[] = [];
  for (const [k, v] of members) parts.push(`${JSON.stringify(k)}:${fieldJson(v)!}`);
  return { json: parts.join(','), tsNs };
}

/**
 * Throws when the object output cannot be put in columns at all (not lists, labels
 * not strings, unknown ops…): callers keep the object form then.
 */
export function compactFromObject(out: DecodeOutput): CompactOutput {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.push(s) - 1;
      index.set(s, i);
    }
    return i;
  };
  const ms = out.metrics;
  if (!Array.isArray(ms) || !Array.isArray(out.logs) || !Array.isArray(out.annotations) || !Array.isArray(out.streams)) {
    throw new Error('not lists');
  }
  const n = ms.length;
  const metric = new Uint32Array(n);
  const op = new Uint8Array(n);
  const value = new Float64Array(n);
  const labelStart = new Uint32Array(n + 1);
  const labelIdx: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = ms[i]!;
    if (typeof u !== 'object' || u === null || !Number.isInteger(u.metric) || u.metric < 0 || u.metric > 0xffffffff) throw new Error('metric');
    if (!(u.op in OPS) || typeof u.value !== 'number' || !Array.isArray(u.labels)) throw new Error('update');
    metric[i] = u.metric;
    op[i] = OPS[u.op]!;
    value[i] = u.value;
    for (const l of u.labels) {
      if (typeof l !== 'string') throw new Error('label');
      labelIdx.push(intern(l));
    }
    labelStart[i + 1] = labelIdx.length;
  }
  const level: number[] = [];
  const message: number[] = [];
  const connection: bigint[] = [];
  const tsNs: bigint[] = [];
  const fieldsJson: string[] = [];
  let invalidLogs = 0;
  for (const l of out.logs) {
    const lvl = LEVELS[(l as { level?: string })?.level ?? ''];
    const msg = l?.message;
    const conn = l?.connection ?? 0n;
    const r = renderLogFields(l?.fields);
    if (
      lvl === undefined ||
      typeof msg !== 'string' ||
      msg.length === 0 ||
      msg.length > LOG_LIMITS.messageLength ||
      typeof conn !== 'bigint' ||
      conn < 0n ||
      conn >= 1n << 64n ||
      r === undefined
    ) {
      invalidLogs++;
      continue;
    }
    level.push(lvl);
    message.push(intern(msg));
    connection.push(conn);
    tsNs.push(r.tsNs);
    fieldsJson.push(r.json);
  }
  return {
    strings,
    metric,
    op,
    value,
    labelStart,
    labelIdx: Uint32Array.from(labelIdx),
    logs: {
      level: Uint8Array.from(level),
      message: Uint32Array.from(message),
      connection: BigUint64Array.from(connection),
      tsNs: BigUint64Array.from(tsNs),
      fieldsJson,
    },
    invalidLogs,
    annotations: out.annotations,
    streams: out.streams,
  };
}
