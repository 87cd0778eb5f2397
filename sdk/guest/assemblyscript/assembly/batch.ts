// The batch decode() receives (sdk/docs/batch-format.md), mirroring
// sdk/guest/c/lf_batch.h: Batch.open() validates everything up front (so a bad
// batch yields `malformed` before any output), then the iterators cannot fail.
// Unknown keys are skipped. Spans point into the batch: copy what you keep.
import { Reader, MP_OK } from "./msgpack";
import { Span } from "./span";

export const EGRESS: u8 = 0;
export const INGRESS: u8 = 1;

/** One `streams` element. */
export class Segment {
  conn: u64 = 0;
  dir: u8 = 0;
  data: Span = new Span();
  eos: bool = false;
  gap: bool = false;
}

function readSegment(r: Reader, seg: Segment): bool {
  const n = r.readMap();
  if (n < 0) return false;
  let hasC = false, hasD = false, hasData = false;
  seg.eos = false;
  seg.gap = false;
  const key = new Span();
  for (let i: i64 = 0; i < n; i++) {
    if (!r.readStr(key)) return false;
    if (key.equals("c")) { if (!r.readUint()) return false; seg.conn = r.u; hasC = true; }
    else if (key.equals("d")) {
      if (!r.readUint()) return false;
      if (r.u > 1) return r.fail(-3);
      seg.dir = <u8>r.u; hasD = true;
    } else if (key.equals("data")) { if (!r.readBin(seg.data)) return false; hasData = true; }
    else if (key.equals("eos")) { seg.eos = r.readBool(); if (r.err) return false; }
    else if (key.equals("gap")) { seg.gap = r.readBool(); if (r.err) return false; }
    else if (!r.skip()) return false;
  }
  if (!hasC || !hasD || !hasData) return r.fail(-4);
  return true;
}

/** Walks one batch array; next() fills `rec` / `seg` / `conn`. */
export class RecordIter {
  rec: Span = new Span();
  constructor(private r: Reader, private left: u32) {}
  next(): bool {
    if (this.left == 0 || !this.r.readBin(this.rec)) return false;
    this.left--;
    return true;
  }
}
export class SegmentIter {
  seg: Segment = new Segment();
  constructor(private r: Reader, private left: u32) {}
  next(): bool {
    if (this.left == 0 || !readSegment(this.r, this.seg)) return false;
    this.left--;
    return true;
  }
}
export class ClosedIter {
  conn: u64 = 0;
  constructor(private r: Reader, private left: u32) {}
  next(): bool {
    if (this.left == 0 || !this.r.readUint()) return false;
    this.conn = this.r.u;
    this.left--;
    return true;
  }
}

export class Batch {
  v: u64 = 0;
  probe: Span = new Span();
  schema: u64 = 0;
  logs: bool = true;
  /** Why open() failed, for a `malformed` error. */
  error: string = "";
  errorOffset: usize = 0;
  private rec: Reader | null = null; private nRec: u32 = 0;
  private str: Reader | null = null; private nStr: u32 = 0;
  private cls: Reader | null = null; private nCls: u32 = 0;

  private bad(r: Reader, what: string): bool {
    this.error = what;
    this.errorOffset = r.offset;
    return false;
  }

  /** Parses and validates; false with `error` set on a malformed batch. */
  open(ptr: usize, len: usize): bool {
    const r = new Reader(ptr, len);
    const n = r.readMap();
    if (n < 0) return this.bad(r, "batch is not a msgpack map");
    let hasV = false;
    const key = new Span();
    for (let i: i64 = 0; i < n; i++) {
      if (!r.readStr(key)) return this.bad(r, "batch key is not a string");
      if (key.equals("v")) {
        if (!r.readUint()) return this.bad(r, "`v` is not a uint");
        this.v = r.u; hasV = true;
      } else if (key.equals("probe")) {
        if (!r.readStr(this.probe)) return this.bad(r, "`probe` is not a string");
      } else if (key.equals("schema")) {
        if (!r.readUint()) return this.bad(r, "`schema` is not a uint");
        this.schema = r.u;
      } else if (key.equals("logs")) {
        this.logs = r.readBool();
        if (r.err) return this.bad(r, "`logs` is not a bool");
      } else if (key.equals("records")) {
        const m = r.readArray();
        if (m < 0) return this.bad(r, "`records` is not an array");
        this.rec = r.clone(); this.nRec = <u32>m;
        const s = new Span();
        for (let j: i64 = 0; j < m; j++) {
          if (!r.readBin(s)) return this.bad(r, "a record is not bin");
          if (s.len == 0) return this.bad(r, "empty record (no kind byte)");
        }
      } else if (key.equals("streams")) {
        const m = r.readArray();
        if (m < 0) return this.bad(r, "`streams` is not an array");
        this.str = r.clone(); this.nStr = <u32>m;
        const seg = new Segment();
        for (let j: i64 = 0; j < m; j++) {
          if (!readSegment(r, seg)) return this.bad(r, "bad stream segment (needs c: uint, d: 0|1, data: bin)");
        }
      } else if (key.equals("closed")) {
        const m = r.readArray();
        if (m < 0) return this.bad(r, "`closed` is not an array");
        this.cls = r.clone(); this.nCls = <u32>m;
        for (let j: i64 = 0; j < m; j++) if (!r.readUint()) return this.bad(r, "`closed` holds a non-uint");
      } else if (!r.skip()) {
        return this.bad(r, "bad value under an unknown key");
      }
    }
    if (!hasV) return this.bad(r, "batch has no `v`");
    if (r.left != 0) return this.bad(r, "trailing bytes after the batch map");
    return r.err == MP_OK;
  }

  records(): RecordIter { const r = this.rec; return new RecordIter(r ? r.clone() : new Reader(0, 0), this.nRec); }
  streams(): SegmentIter { const r = this.str; return new SegmentIter(r ? r.clone() : new Reader(0, 0), this.nStr); }
  closed(): ClosedIter { const r = this.cls; return new ClosedIter(r ? r.clone() : new Reader(0, 0), this.nCls); }
}
