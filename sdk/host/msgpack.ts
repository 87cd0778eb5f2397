// msgpack on the SDK's host side (fixtures, replay, tests): msgpackr, set up to
// write exactly what the daemon's batch encoder writes
// (runtime/decoders/batch-encoder.ts; a property test checks the two agree):
// maps of any size with their shortest header, no msgpackr records, integers in
// their shortest msgpack form (int64 for 64-bit values, as msgpackr writes
// bigints), bins for bytes. Reading gives plain objects, Buffers for bins, and
// bigints only for integers beyond 2^53.
import { Packr, Unpackr } from 'msgpackr';

export type MsgValue =
  | null | boolean | number | bigint | string | Uint8Array
  | MsgValue[] | { [key: string]: MsgValue };

const packr = new Packr({ useRecords: false, variableMapSize: true });
// 'auto': numbers while exact, bigints beyond 2^53 (msgpackr supports it; its typings do not list it yet).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' });

const I32_MIN = -(2 ** 31);
const U32_LIMIT = 2 ** 32;

/** msgpackr writes integer numbers beyond 32 bits as float64, and every bigint as
 *  a 64-bit int: hand it each integer in the form that encodes shortest. */
function normalize(v: MsgValue): unknown {
  if (typeof v === 'bigint') return v >= BigInt(I32_MIN) && v < BigInt(U32_LIMIT) ? Number(v) : v;
  if (typeof v === 'number') return Number.isInteger(v) && (v < I32_MIN || v >= U32_LIMIT) ? BigInt(v) : v;
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(normalize);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = normalize(v[k]);
  return out;
}

export function encode(v: MsgValue): Buffer {
  return packr.pack(normalize(v));
}

export function decode(buf: Uint8Array): unknown {
  return unpackr.unpack(buf);
}

/** Splits back-to-back msgpack values (a recorded `*.batch.msgpack` file) into their bytes. */
export function splitValues(buf: Uint8Array): Buffer[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Buffer[] = [];
  unpackr.unpackMultiple(b, (_value: unknown, start?: number, end?: number) => {
    out.push(Buffer.from(b.subarray(start, end)));
  });
  return out;
}
