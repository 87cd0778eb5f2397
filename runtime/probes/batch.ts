/**
 * Walks a ring-buffer batch from the native reader:
 * `u32 length (LE) | record | zero padding to 8`, repeated (docs/native-api.md).
 */

export interface BatchWalk {
  records: number;
  /** Bytes at the end that did not form a whole record (a native-side bug if ever non-zero). */
  malformedBytes: number;
}

export function walkBatch(batch: Buffer, onRecord: (buf: Buffer, off: number, len: number) => void): BatchWalk {
  let off = 0;
  let records = 0;
  while (off + 4 <= batch.length) {
    const len = batch.readUInt32LE(off);
    const start = off + 4;
    if (len === 0 || start + len > batch.length) break;
    onRecord(batch, start, len);
    records++;
    off = start + len;
    off = (off + 7) & ~7;
  }
  return { records, malformedBytes: Math.max(0, batch.length - off) };
}

/** Frames records the way the native reader does; for records the host makes itself. */
export function packBatch(records: Buffer[]): Buffer {
  let size = 0;
  for (const r of records) size += (4 + r.length + 7) & ~7;
  const out = Buffer.alloc(size);
  let off = 0;
  for (const r of records) {
    out.writeUInt32LE(r.length, off);
    r.copy(out, off + 4);
    off += (4 + r.length + 7) & ~7;
  }
  return out;
}
