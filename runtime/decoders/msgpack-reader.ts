// A small msgpack reader for tests and debugging (`decoders verify` output,
// golden batches). Not on the hot path: the host never decodes batches.
// Maps become plain objects (string keys) , bin becomes Buffer, integers above
// 2^53 become bigint.

export type MsgpackValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | MsgpackValue[]
  | { [key: string]: MsgpackValue };

export function decodeMsgpack(buf: Buffer): MsgpackValue {
  const r = { o: 0 };
  const v = read(buf, r);
  if (r.o !== buf.length) throw new Error(`msgpack: ${buf.length - r.o} trailing bytes`);
  return v;
}

function need(buf: Buffer, r: { o: number }, n: number): void {
  if (r.o + n > buf.length) throw new Error(`msgpack: truncated at byte ${r.o}`);
}

function u64(buf: Buffer, at: number): number | bigint {
  const v = buf.readBigUInt64BE(at);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function read(buf: Buffer, r: { o: number }): MsgpackValue {
  need(buf, r, 1);
  const b = buf[r.o++]!;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if ((b & 0xf0) === 0x80) return readMap(buf, r, b & 0x0f);
  if ((b & 0xf0) === 0x90) return readArray(buf, r, b & 0x0f);
  if ((b & 0xe0) === 0xa0) return readStr(buf, r, b & 0x1f);
  const len = (n: number): number => {
    need(buf, r, n);
    const v = n === 1 ? buf[r.o]! : n === 2 ? buf.readUInt16BE(r.o) : buf.readUInt32BE(r.o);
    r.o += n;
    return v;
  };
  const fixed = <T>(n: number, f: (at: number) => T): T => {
    need(buf, r, n);
    const v = f(r.o);
    r.o += n;
    return v;
  };
  switch (b) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return readBin(buf, r, len(1));
    case 0xc5: return readBin(buf, r, len(2));
    case 0xc6: return readBin(buf, r, len(4));
    case 0xca: return fixed(4, (at) => buf.readFloatBE(at));
    case 0xcb: return fixed(8, (at) => buf.readDoubleBE(at));
    case 0xcc: return fixed(1, (at) => buf[at]!);
    case 0xcd: return fixed(2, (at) => buf.readUInt16BE(at));
    case 0xce: return fixed(4, (at) => buf.readUInt32BE(at));
    case 0xcf: return fixed(8, (at) => u64(buf, at));
    case 0xd0: return fixed(1, (at) => buf.readInt8(at));
    case 0xd1: return fixed(2, (at) => buf.readInt16BE(at));
    case 0xd2: return fixed(4, (at) => buf.readInt32BE(at));
    case 0xd3: return fixed(8, (at) => {
      const v = buf.readBigInt64BE(at);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    });
    case 0xd9: return readStr(buf, r, len(1));
    case 0xda: return readStr(buf, r, len(2));
    case 0xdb: return readStr(buf, r, len(4));
    case 0xdc: return readArray(buf, r, len(2));
    case 0xdd: return readArray(buf, r, len(4));
    case 0xde: return readMap(buf, r, len(2));
    case 0xdf: return readMap(buf, r, len(4));
    default: throw new Error(`msgpack: unsupported type byte 0x${b.toString(16)} at ${r.o - 1}`);
  }
}

function readBin(buf: Buffer, r: { o: number }, n: number): Buffer {
  need(buf, r, n);
  const v = Buffer.from(buf.subarray(r.o, r.o + n));
  r.o += n;
  return v;
}

function readStr(buf: Buffer, r: { o: number }, n: number): string {
  need(buf, r, n);
  const v = buf.toString('utf8', r.o, r.o + n);
  r.o += n;
  return v;
}

function readArray(buf: Buffer, r: { o: number }, n: number): MsgpackValue[] {
  const out: MsgpackValue[] = [];
  for (let i = 0; i < n; i++) out.push(read(buf, r));
  return out;
}

function readMap(buf: Buffer, r: { o: number }, n: number): { [key: string]: MsgpackValue } {
  const out: { [key: string]: MsgpackValue } = {};
  for (let i = 0; i < n; i++) {
    const k = read(buf, r);
    out[String(k)] = read(buf, r);
  }
  return out;
}
