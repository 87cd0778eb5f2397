// Allocation-free msgpack cursor over linear memory, mirroring
// sdk/guest/c/lf_msgpack.h: bounds-checked reads, the first error is sticky
// (check `err` once after a sequence of reads), str/bin come back as Spans.
import { Span } from "./span";

export const MP_OK: i32 = 0;
export const MP_ERR_EOF: i32 = -1;
export const MP_ERR_TYPE: i32 = -2;
export const MP_ERR_RANGE: i32 = -3;
export const MP_ERR_BAD: i32 = -4;

export const enum MpType { NIL = 1, BOOL, UINT, INT, FLOAT, STR, BIN, ARRAY, MAP, EXT }

@inline function be16(p: usize): u32 { return bswap<u16>(load<u16>(p)); }
@inline function be32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline function be64(p: usize): u64 { return bswap<u64>(load<u64>(p)); }

export class Reader {
  p: usize;
  end: usize;
  err: i32 = MP_OK;
  /** Last integer read by readUint/readInt (also its sign). */
  u: u64 = 0;
  neg: bool = false;

  constructor(public start: usize, len: usize) { this.p = start; this.end = start + len; }

  clone(): Reader { const r = new Reader(this.start, 0); r.p = this.p; r.end = this.end; r.err = this.err; return r; }
  get offset(): usize { return this.p - this.start; }
  get left(): usize { return this.end - this.p; }
  fail(code: i32): bool { if (this.err == MP_OK) this.err = code; return false; }

  /** Type of the next value (MpType), or a negative error. */
  peek(): i32 {
    if (this.err) return this.err;
    if (this.p >= this.end) return MP_ERR_EOF;
    const b = <u32>load<u8>(this.p);
    if (b <= 0x7f) return MpType.UINT;
    if (b <= 0x8f) return MpType.MAP;
    if (b <= 0x9f) return MpType.ARRAY;
    if (b <= 0xbf) return MpType.STR;
    if (b >= 0xe0) return MpType.INT;
    switch (b) {
      case 0xc0: return MpType.NIL;
      case 0xc2: case 0xc3: return MpType.BOOL;
      case 0xc4: case 0xc5: case 0xc6: return MpType.BIN;
      case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return MpType.EXT;
      case 0xca: case 0xcb: return MpType.FLOAT;
      case 0xcc: case 0xcd: case 0xce: case 0xcf: return MpType.UINT;
      case 0xd0: case 0xd1: case 0xd2: case 0xd3: return MpType.INT;
      case 0xd9: case 0xda: case 0xdb: return MpType.STR;
      case 0xdc: case 0xdd: return MpType.ARRAY;
      case 0xde: case 0xdf: return MpType.MAP;
    }
    return MP_ERR_BAD;
  }

  private expect(t: i32): bool {
    const got = this.peek();
    if (got < 0) return this.fail(got);
    if (got != t) return this.fail(MP_ERR_TYPE);
    return true;
  }

  /** Length after the tag byte (`width` bytes big-endian, or `inline` when width 0);
   *  with `payload`, also checks that many bytes follow. Returns -1 on error. */
  private header(width: u32, inline: u32, payload: bool): i64 {
    const left = this.left;
    if (left < <usize>(1 + width)) { this.fail(MP_ERR_EOF); return -1; }
    let n = inline;
    if (width == 1) n = load<u8>(this.p + 1);
    else if (width == 2) n = be16(this.p + 1);
    else if (width == 4) n = be32(this.p + 1);
    if (payload && <usize>n > left - 1 - width) { this.fail(MP_ERR_EOF); return -1; }
    this.p += 1 + width;
    return n;
  }

  /** Map header: number of pairs, or -1 (see err). */
  readMap(): i64 {
    if (!this.expect(MpType.MAP)) return -1;
    const b = <u32>load<u8>(this.p);
    return b <= 0x8f ? this.header(0, b & 0x0f, false) : this.header(b == 0xde ? 2 : 4, 0, false);
  }
  readArray(): i64 {
    if (!this.expect(MpType.ARRAY)) return -1;
    const b = <u32>load<u8>(this.p);
    return b <= 0x9f ? this.header(0, b & 0x0f, false) : this.header(b == 0xdc ? 2 : 4, 0, false);
  }
  private payload(width: u32, inline: u32, out: Span): bool {
    const n = this.header(width, inline, true);
    if (n < 0) return false;
    out.ptr = this.p;
    out.len = <u32>n;
    this.p += <usize>n;
    return true;
  }
  /** str into `out` (a span of the buffer). */
  readStr(out: Span): bool {
    if (!this.expect(MpType.STR)) return false;
    const b = <u32>load<u8>(this.p);
    return b <= 0xbf ? this.payload(0, b & 0x1f, out) : this.payload(b == 0xd9 ? 1 : b == 0xda ? 2 : 4, 0, out);
  }
  readBin(out: Span): bool {
    if (!this.expect(MpType.BIN)) return false;
    const b = <u32>load<u8>(this.p);
    return this.payload(b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4, 0, out);
  }
  /** Any integer into this.u / this.neg. */
  readRawInt(): bool {
    const t = this.peek();
    if (t < 0) return this.fail(t);
    if (t != MpType.UINT && t != MpType.INT) return this.fail(MP_ERR_TYPE);
    const b = <u32>load<u8>(this.p);
    this.neg = false;
    if (b <= 0x7f) { this.u = b; this.p += 1; return true; }
    if (b >= 0xe0) { this.neg = true; this.u = <u64><i64><i8>b; this.p += 1; return true; }
    const w: u32 = (b == 0xcc || b == 0xd0) ? 1 : (b == 0xcd || b == 0xd1) ? 2 : (b == 0xce || b == 0xd2) ? 4 : 8;
    if (this.left < <usize>(1 + w)) return this.fail(MP_ERR_EOF);
    const q = this.p + 1;
    let raw: u64 = w == 1 ? <u64>load<u8>(q) : w == 2 ? <u64>be16(q) : w == 4 ? <u64>be32(q) : be64(q);
    if (b >= 0xd0) {
      const sv: i64 = w == 1 ? <i64><i8>raw : w == 2 ? <i64><i16>raw : w == 4 ? <i64><i32>raw : <i64>raw;
      this.neg = sv < 0;
      raw = <u64>sv;
    }
    this.u = raw;
    this.p += 1 + w;
    return true;
  }
  /** Non-negative integer into this.u. */
  readUint(): bool {
    const save = this.p;
    if (!this.readRawInt()) return false;
    if (this.neg) { this.p = save; return this.fail(MP_ERR_RANGE); }
    return true;
  }
  /** Signed integer; returns it (check err). */
  readInt(): i64 {
    const save = this.p;
    if (!this.readRawInt()) return 0;
    if (!this.neg && this.u > <u64>i64.MAX_VALUE) { this.p = save; this.fail(MP_ERR_RANGE); return 0; }
    return <i64>this.u;
  }
  readFloat(): f64 {
    const t = this.peek();
    if (t == MpType.UINT || t == MpType.INT) {
      if (!this.readRawInt()) return 0;
      return this.neg ? <f64><i64>this.u : <f64>this.u;
    }
    if (!this.expect(MpType.FLOAT)) return 0;
    const w: u32 = load<u8>(this.p) == 0xca ? 4 : 8;
    if (this.left < <usize>(1 + w)) { this.fail(MP_ERR_EOF); return 0; }
    const v = w == 4 ? <f64>reinterpret<f32>(be32(this.p + 1)) : reinterpret<f64>(be64(this.p + 1));
    this.p += 1 + w;
    return v;
  }
  /** Bool; returns it (check err). */
  readBool(): bool {
    if (!this.expect(MpType.BOOL)) return false;
    const v = load<u8>(this.p) == 0xc3;
    this.p += 1;
    return v;
  }
  readNil(): bool {
    if (!this.expect(MpType.NIL)) return false;
    this.p += 1;
    return true;
  }

  /** Skips one whole value, iteratively (hostile nesting cannot exhaust the stack). */
  skip(): bool {
    let pending: u64 = 1;
    const s = new Span();
    while (pending > 0) {
      const t = this.peek();
      if (t < 0) return this.fail(t);
      const b = <u32>load<u8>(this.p);
      pending--;
      let ok = true;
      switch (t) {
        case MpType.NIL: case MpType.BOOL: this.p += 1; break;
        case MpType.UINT: case MpType.INT: ok = this.readRawInt(); break;
        case MpType.FLOAT: this.readFloat(); ok = this.err == MP_OK; break;
        case MpType.STR: ok = this.readStr(s); break;
        case MpType.BIN: ok = this.readBin(s); break;
        case MpType.ARRAY: { const n = this.readArray(); ok = n >= 0; if (ok) pending += <u64>n; break; }
        case MpType.MAP: { const n = this.readMap(); ok = n >= 0; if (ok) pending += 2 * <u64>n; break; }
        case MpType.EXT: {
          if (b >= 0xd4) ok = this.payload(0, (1 << (b - 0xd4)) + 1, s);
          else {
            ok = this.payload(b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4, 0, s);
            if (ok) { if (this.left < 1) return this.fail(MP_ERR_EOF); this.p += 1; }
          }
          break;
        }
        default: return this.fail(MP_ERR_BAD);
      }
      if (!ok) return false;
    }
    return true;
  }
}
