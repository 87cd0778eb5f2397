// A small msgpack encoder and value splitter for fixtures (msgpack is not a
// dependency). Encoding follows what the host sends: maps with string keys,
// uints, bins for bytes, bools; bigint for 64-bit values.

export type MsgValue =
  | null | boolean | number | bigint | string | Uint8Array
  | MsgValue[] | { [key: string]: MsgValue };

class Writer {
  private buf = Buffer.alloc(256);
  private len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(b: number): void { this.room(1); this.buf[this.len++] = b; }
  be(v: bigint | number, bytes: number): void {
    this.room(bytes);
    let x = BigInt.asUintN(bytes * 8, BigInt(v));
    for (let i = bytes - 1; i >= 0; i--) { this.buf[this.len + i] = Number(x & 0xffn); x >>= 8n; }
    this.len += bytes;
  }
  bytes(b: Uint8Array): void { this.room(b.length); this.buf.set(b, this.len); this.len += b.length; }
  f64(v: number): void { this.room(8); this.buf.writeDoubleBE(v, this.len); this.len += 8; }
  done(): Buffer { return this.buf.subarray(0, this.len); }
}

function writeLen(w: Writer, n: number, fix: number | null, fixMax: number, tags: [number, number, number]): void {
  if (fix !== null && n <= fixMax) w.u8(fix | n);
  else if (n <= 0xff && tags[0] !== 0) { w.u8(tags[0]); w.be(n, 1); }
  else if (n <= 0xffff) { w.u8(tags[1]); w.be(n, 2); }
  else { w.u8(tags[2]); w.be(n, 4); }
}

function writeInt(w: Writer, v: bigint): void {
  if (v >= 0n) {
    if (v <= 0x7fn) w.u8(Number(v));
    else if (v <= 0xffn) { w.u8(0xcc); w.be(v, 1); }
    else if (v <= 0xffffn) { w.u8(0xcd); w.be(v, 2); }
    else if (v <= 0xffffffffn) { w.u8(0xce); w.be(v, 4); }
    else if (v <= 0xffffffffffffffffn) { w.u8(0xcf); w.be(v, 8); }
    else throw new RangeError(`msgpack: integer ${v} does not fit 64 bits`);
  } else {
    if (v >= -32n) w.u8(Number(BigInt.asUintN(8, v)));
    else if (v >= -0x80n) { w.u8(0xd0); w.be(v, 1); }
    else if (v >= -0x8000n) { w.u8(0xd1); w.be(v, 2); }
    else if (v >= -0x80000000n) { w.u8(0xd2); w.be(v, 4); }
    else if (v >= -0x8000000000000000n) { w.u8(0xd3); w.be(v, 8); }
    else throw new RangeError(`msgpack: integer ${v} does not fit 64 bits`);
  }
}

function write(w: Writer, v: MsgValue): void {
  if (v === null) w.u8(0xc0);
  else if (typeof v === 'boolean') w.u8(v ? 0xc3 : 0xc2);
  else if (typeof v === 'bigint') writeInt(w, v);
  else if (typeof v === 'number') {
    if (Number.isInteger(v)) writeInt(w, BigInt(v));
    else { w.u8(0xcb); w.f64(v); }
  } else if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    writeLen(w, b.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
    w.bytes(b);
  } else if (v instanceof Uint8Array) {
    writeLen(w, v.length, null, 0, [0xc4, 0xc5, 0xc6]);
    w.bytes(v);
  } else if (Array.isArray(v)) {
    writeLen(w, v.length, 0x90, 15, [0, 0xdc, 0xdd]);
    for (const x of v) write(w, x);
  } else {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    writeLen(w, keys.length, 0x80, 15, [0, 0xde, 0xdf]);
    for (const k of keys) { write(w, k); write(w, v[k]); }
  }
}

export function encode(v: MsgValue): Buffer {
  const w = new Writer();
  write(w, v);
  return w.done();
}

/** Length in bytes of the msgpack value starting at `off`; throws on truncation.
 *  Used to split a file of batches written back to back. */
export function valueLength(buf: Uint8Array, off = 0): number {
  let p = off;
  let pending = 1;
  const need = (n: number): void => { if (p + n > buf.length) throw new RangeError(`msgpack: truncated at byte ${p}`); };
  const be = (n: number): number => { need(1 + n); let x = 0; for (let i = 1; i <= n; i++) x = x * 256 + buf[p + i]; return x; };
  while (pending > 0) {
    need(1);
    const b = buf[p];
    pending--;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) p += 1;
    else if (b <= 0x8f) { pending += 2 * (b & 0x0f); p += 1; }
    else if (b <= 0x9f) { pending += b & 0x0f; p += 1; }
    else if (b <= 0xbf) { p += 1 + (b & 0x1f); }
    else if (b === 0xc4 || b === 0xd9) p += 2 + be(1);
    else if (b === 0xc5 || b === 0xda) p += 3 + be(2);
    else if (b === 0xc6 || b === 0xdb) p += 5 + be(4);
    else if (b === 0xc7) p += 3 + be(1);
    else if (b === 0xc8) p += 4 + be(2);
    else if (b === 0xc9) p += 6 + be(4);
    else if (b === 0xca) p += 5;
    else if (b === 0xcb) p += 9;
    else if (b === 0xcc || b === 0xd0) p += 2;
    else if (b === 0xcd || b === 0xd1) p += 3;
    else if (b === 0xce || b === 0xd2) p += 5;
    else if (b === 0xcf || b === 0xd3) p += 9;
    else if (b >= 0xd4 && b <= 0xd8) p += 2 + (1 << (b - 0xd4));
    else if (b === 0xdc) { pending += be(2); p += 3; }
    else if (b === 0xdd) { pending += be(4); p += 5; }
    else if (b === 0xde) { pending += 2 * be(2); p += 3; }
    else if (b === 0xdf) { pending += 2 * be(4); p += 5; }
    else throw new RangeError(`msgpack: invalid byte 0x${b.toString(16)} at ${p}`);
  }
  if (p > buf.length) throw new RangeError('msgpack: truncated');
  return p - off;
}

/** Splits back-to-back msgpack values (a recorded `*.batch.msgpack` file). */
export function splitValues(buf: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length;) {
    const n = valueLength(buf, off);
    out.push(Buffer.from(buf.subarray(off, off + n)));
    off += n;
  }
  return out;
}
