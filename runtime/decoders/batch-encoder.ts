// Builds the msgpack batch handed to decode() (sdk/docs/batch-format.md):
//   { v, probe, schema, records: [bin…], streams?: [{c, d, data, eos, gap?, ts?}…], closed?: [uint…], logs }
// Records travel as the exact bytes the kernel wrote (`bin`); nothing is
// decoded. One pass sizes the batch, one Buffer is allocated, a second pass
// writes it by hand: no intermediate objects, no per-record allocation.
//
// Hand-written because it is the per-batch hot path, where it measures several
// times msgpackr's speed (docs/benchmarks.md). Its bytes are exactly what
// msgpackr writes for the same object (`new Packr({ useRecords: false,
// variableMapSize: true })`, numbers below 2^32, bigints above): a property
// test (test/unit/decoders-batch-encoder.test.ts) holds it to that.

export const BATCH_VERSION = 1;

/** One byte-stream segment: `data` may be given in pieces (leftover + new bytes). */
export interface StreamSegment {
  connection: bigint;
  /** 0 egress, 1 ingress. */
  direction: 0 | 1;
  data: readonly Buffer[];
  eos: boolean;
  /** Bytes were lost before this segment: it does not continue what the decoder saw. */
  gap: boolean;
  /** Arrival times, flattened [offset, tsNs, …] (key `ts`); omitted when unknown. */
  marks?: readonly number[];
}

export interface BatchInput {
  probe: string;
  schema: number;
  records: readonly Buffer[];
  streams?: readonly StreamSegment[];
  closed?: readonly bigint[];
  /** False when the host does not want per-event log output. */
  logs: boolean;
}

// Keys as fixstr bytes, computed once.
const key = (s: string): Buffer => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s, 'ascii')]);
const K_V = key('v');
const K_PROBE = key('probe');
const K_SCHEMA = key('schema');
const K_RECORDS = key('records');
const K_STREAMS = key('streams');
const K_CLOSED = key('closed');
const K_LOGS = key('logs');
const K_C = key('c');
const K_D = key('d');
const K_DATA = key('data');
const K_EOS = key('eos');
const K_GAP = key('gap');
const K_TS = key('ts');

const probeCache = new Map<string, Buffer>();
function probeBytes(probe: string): Buffer {
  let b = probeCache.get(probe);
  if (b === undefined) {
    b = Buffer.from(probe, 'utf8');
    if (probeCache.size < 256) probeCache.set(probe, b);
  }
  return b;
}

const binHeaderSize = (n: number): number => (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
const arrayHeaderSize = (n: number): number => (n < 16 ? 1 : n < 0x10000 ? 3 : 5);
const strHeaderSize = (n: number): number => (n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

/** Unsigned integers up to 2^32 - 1 (larger ones travel as bigints). */
function uintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
}
const U32 = 0xffffffffn;
function bigUintSize(v: bigint): number {
  return v <= U32 ? uintSize(Number(v)) : 9;
}

/**
 * The batch as one Buffer.
 *
 * @example
 * const batch = encodeBatch({ probe: 'tcp', schema: 1, records: [rec1, rec2], logs: true });
 * instance.decode(batch);
 */
export function encodeBatch(input: BatchInput): Buffer {
  const { records } = input;
  const streams = input.streams ?? [];
  const closed = input.closed ?? [];
  const probe = probeBytes(input.probe);
  const schema = checkUint(input.schema, 'schema');

  // Pass 1: size.
  let size = 1; // fixmap header (at most 7 entries)
  size += K_V.length + 1;
  size += K_PROBE.length + strHeaderSize(probe.length) + probe.length;
  size += K_SCHEMA.length + uintSize(schema);
  size += K_RECORDS.length + arrayHeaderSize(records.length);
  for (let i = 0; i < records.length; i++) {
    const n = records[i]!.length;
    size += binHeaderSize(n) + n;
  }
  const segLens = streams.length > 0 ? new Array<number>(streams.length) : undefined;
  if (streams.length > 0) {
    size += K_STREAMS.length + arrayHeaderSize(streams.length);
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      let n = 0;
      for (const part of s.data) n += part.length;
      segLens![i] = n;
      size += 1 + K_C.length + bigUintSize(s.connection) + K_D.length + 1;
      size += K_DATA.length + binHeaderSize(n) + n + K_EOS.length + 1;
      if (s.gap) size += K_GAP.length + 1;
      const m = s.marks;
      if (m !== undefined && m.length > 0) {
        size += K_TS.length + arrayHeaderSize(m.length);
        for (let j = 0; j < m.length; j++) size += markSize(checkMark(m[j]!));
      }
    }
  }
  if (closed.length > 0) {
    size += K_CLOSED.length + arrayHeaderSize(closed.length);
    for (let i = 0; i < closed.length; i++) size += bigUintSize(closed[i]!);
  }
  size += K_LOGS.length + 1;

  // Pass 2: write.
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  out[o++] = 0x80 | (5 + (streams.length > 0 ? 1 : 0) + (closed.length > 0 ? 1 : 0));
  o = put(out, o, K_V);
  out[o++] = BATCH_VERSION;
  o = put(out, o, K_PROBE);
  o = writeStrHeader(out, o, probe.length);
  o = put(out, o, probe);
  o = put(out, o, K_SCHEMA);
  o = writeUint(out, o, schema);
  o = put(out, o, K_RECORDS);
  o = writeArrayHeader(out, o, records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    o = writeBinHeader(out, o, r.length);
    o = put(out, o, r);
  }
  if (streams.length > 0) {
    o = put(out, o, K_STREAMS);
    o = writeArrayHeader(out, o, streams.length);
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      const m = s.marks !== undefined && s.marks.length > 0 ? s.marks : undefined;
      out[o++] = 0x80 | (4 + (s.gap ? 1 : 0) + (m ? 1 : 0));
      o = put(out, o, K_C);
      o = writeBigUint(out, o, s.connection);
      o = put(out, o, K_D);
      out[o++] = s.direction === 1 ? 1 : 0;
      o = put(out, o, K_DATA);
      o = writeBinHeader(out, o, segLens![i]!);
      for (const part of s.data) o = put(out, o, part);
      o = put(out, o, K_EOS);
      out[o++] = s.eos ? 0xc3 : 0xc2;
      if (s.gap) {
        o = put(out, o, K_GAP);
        out[o++] = 0xc3;
      }
      if (m) {
        o = put(out, o, K_TS);
        o = writeArrayHeader(out, o, m.length);
        for (let j = 0; j < m.length; j++) o = writeMark(out, o, m[j]!);
      }
    }
  }
  if (closed.length > 0) {
    o = put(out, o, K_CLOSED);
    o = writeArrayHeader(out, o, closed.length);
    for (let i = 0; i < closed.length; i++) o = writeBigUint(out, o, closed[i]!);
  }
  o = put(out, o, K_LOGS);
  out[o++] = input.logs ? 0xc3 : 0xc2;
  if (o !== size) throw new Error(`batch encoder: wrote ${o} bytes, sized ${size} (bug)`);
  return out;
}

/** Bytes of a batch with no records: used to size limits and to smoke-test decoders. */
export function emptyBatch(probe: string, schema = 1): Buffer {
  return encodeBatch({ probe, schema, records: [], logs: false });
}

function checkUint(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`batch encoder: ${what} must be an integer from 0 to 2^32 - 1`);
  return v;
}

/** Marks hold offsets and kernel nanosecond times: safe integers, often above 2^32. */
function checkMark(v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError('batch encoder: a stream mark must be a non-negative safe integer');
  return v;
}
const markSize = (v: number): number => (v <= 0xffffffff ? uintSize(v) : 9);
/** Written as msgpackr writes them: uint up to 2^32 - 1, int64 above (as a bigint). */
const writeMark = (out: Buffer, o: number, v: number): number => (v <= 0xffffffff ? writeUint(out, o, v) : writeBigUint(out, o, BigInt(v)));

function put(out: Buffer, o: number, src: Uint8Array): number {
  // Small copies by hand beat the native copy's fixed cost.
  const n = src.length;
  if (n < 16) {
    for (let i = 0; i < n; i++) out[o + i] = src[i]!;
  } else {
    out.set(src, o);
  }
  return o + n;
}

/**
 * A msgpack length header: the fix form when `n` < fixLimit, else the
 * 8-, 16- or 32-bit form (`tag8` 0 = the type has no 8-bit form).
 */
function writeSized(out: Buffer, o: number, n: number, fix: number, fixLimit: number, tag8: number, tag16: number, tag32: number): number {
  if (n < fixLimit) {
    out[o] = fix | n;
    return o + 1;
  }
  if (tag8 && n < 0x100) {
    out[o] = tag8;
    out[o + 1] = n;
    return o + 2;
  }
  if (n < 0x10000) {
    out[o] = tag16;
    out.writeUInt16BE(n, o + 1);
    return o + 3;
  }
  out[o] = tag32;
  out.writeUInt32BE(n, o + 1);
  return o + 5;
}

const writeStrHeader = (out: Buffer, o: number, n: number): number => writeSized(out, o, n, 0xa0, 32, 0xd9, 0xda, 0xdb);
const writeBinHeader = (out: Buffer, o: number, n: number): number => writeSized(out, o, n, 0, 0, 0xc4, 0xc5, 0xc6);
const writeArrayHeader = (out: Buffer, o: number, n: number): number => writeSized(out, o, n, 0x90, 16, 0, 0xdc, 0xdd);

function writeUint(out: Buffer, o: number, v: number): number {
  if (v < 0x80) {
    out[o] = v;
    return o + 1;
  }
  if (v < 0x100) {
    out[o] = 0xcc;
    out[o + 1] = v;
    return o + 2;
  }
  if (v < 0x10000) {
    out[o] = 0xcd;
    out.writeUInt16BE(v, o + 1);
    return o + 3;
  }
  out[o] = 0xce;
  out.writeUInt32BE(v, o + 1);
  return o + 5;
}

const I64_MAX = (1n << 63n) - 1n;

/** Above 2^32 - 1: int64 while it fits (as msgpackr writes a bigint), uint64 beyond. Readers take both as unsigned. */
function writeBigUint(out: Buffer, o: number, v: bigint): number {
  if (v <= U32) return writeUint(out, o, Number(v));
  if (v <= I64_MAX) {
    out[o] = 0xd3;
    out.writeBigInt64BE(v, o + 1);
  } else {
    out[o] = 0xcf;
    out.writeBigUInt64BE(BigInt.asUintN(64, v), o + 1);
  }
  return o + 9;
}
