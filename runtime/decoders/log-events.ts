// A decoder's log-event as one event line (stdout, through the event writer):
//   {"event":"goaway","decoder":"http2","level":"info","connection":"1234",
//    "error_code":0,"annotations":{"protocol":"h2"}}
// Fields that would overwrite the envelope are written as field_<key>. The
// engine's compact form (engine.ts CompactOutput) renders fields by these same
// rules in Rust (native/src/wasm/compact.rs); keep the two in step.

import type { EventRecord } from '../log/event-writer';
import type { DecoderLogLevel } from './engine';

const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];
export const LEVEL_RANK: Record<DecoderLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
export const RESERVED_LOG_KEYS: ReadonlySet<string> = new Set(['event', 'decoder', 'level', 'connection', 'annotations', 'ts', 'time']);
const RESERVED = RESERVED_LOG_KEYS;
export const LOG_LIMITS = { messageLength: 256, fields: 64, keyLength: 64, stringLength: 4096 } as const;

/**
 * The event record, or undefined when the log-event is not well formed (the
 * caller counts it). Callers filter by level first.
 */
export function decoderLogRecord(
  decoder: string,
  ev: unknown,
  annotations: Readonly<Record<string, string>> | undefined,
): EventRecord | undefined {
  if (typeof ev !== 'object' || ev === null) return undefined;
  const { level, message, connection, fields } = ev as Record<string, unknown>;
  if (typeof level !== 'string' || !LEVELS.includes(level)) return undefined;
  if (typeof message !== 'string' || message.length === 0 || message.length > LOG_LIMITS.messageLength) return undefined;
  if (typeof connection !== 'bigint' && connection !== undefined) return undefined;
  if (!Array.isArray(fields) || fields.length > LOG_LIMITS.fields) return undefined;
  const rec: EventRecord = { event: message, decoder, level };
  if (typeof connection === 'bigint' && connection !== 0n) rec.connection = connection.toString();
  for (const f of fields) {
    if (!Array.isArray(f) || f.length !== 2) return undefined;
    const [k, v] = f as [unknown, unknown];
    if (typeof k !== 'string' || k.length === 0 || k.length > LOG_LIMITS.keyLength) return undefined;
    if (typeof v === 'string') {
      if (v.length > LOG_LIMITS.stringLength) return undefined;
    } else if (typeof v !== 'number' && typeof v !== 'bigint' && typeof v !== 'boolean') return undefined;
    // bigint and NaN/±Infinity have no JSON number form: written as text.
    rec[RESERVED.has(k) ? `field_${k}` : k] = typeof v === 'bigint' || (typeof v === 'number' && !Number.isFinite(v)) ? String(v) : v;
  }
  if (annotations !== undefined) rec.annotations = { ...annotations };
  return rec;
}

export function isLogLevel(v: unknown): v is DecoderLogLevel {
  return typeof v === 'string' && LEVELS.includes(v);
}
