// A byte range in linear memory (usually inside the batch): no copy, valid only
// during the decode() call that produced it. copy()/toString() to keep data.

@final
export class Span {
  constructor(public ptr: usize = 0, public len: u32 = 0) {}

  @inline at(i: u32): u8 { assert(i < this.len); return load<u8>(this.ptr + i); }
  /** Little-endian loads for probe record layouts; trap past the end. */
  u16le(off: u32): u16 { assert(off + 2 <= this.len); return load<u16>(this.ptr + off); }
  u32le(off: u32): u32 { assert(off + 4 <= this.len); return load<u32>(this.ptr + off); }
  u64le(off: u32): u64 { assert(off + 8 <= this.len); return load<u64>(this.ptr + off); }

  sub(start: u32, end: u32 = u32.MAX_VALUE): Span {
    if (end > this.len) end = this.len;
    if (start > end) start = end;
    return new Span(this.ptr + start, end - start);
  }
  /** First index of byte b at or after `from`, or -1. */
  indexOf(b: u8, from: u32 = 0): i32 {
    for (let i = from; i < this.len; i++) if (load<u8>(this.ptr + i) == b) return <i32>i;
    return -1;
  }
  /** Exact match with an ASCII string (no allocation). */
  equals(s: string): bool {
    if (<u32>s.length != this.len) return false;
    for (let i: u32 = 0; i < this.len; i++) if (<u32>load<u8>(this.ptr + i) != <u32>s.charCodeAt(<i32>i)) return false;
    return true;
  }
  startsWith(s: string): bool {
    if (<u32>s.length > this.len) return false;
    for (let i = 0; i < s.length; i++) if (<u32>load<u8>(this.ptr + i) != <u32>s.charCodeAt(i)) return false;
    return true;
  }
  /** UTF-8 decode (invalid bytes become U+FFFD). */
  toString(): string { return String.UTF8.decodeUnsafe(this.ptr, this.len); }
  copy(): Uint8Array {
    const a = new Uint8Array(<i32>this.len);
    memory.copy(a.dataStart, this.ptr, this.len);
    return a;
  }
}
