/* lf_batch.h — reads the msgpack batch lightfoot hands to decode() (layout:
 * sdk/docs/batch-format.md). Header-only, no allocation.
 *
 * Usage: `lf_batch_t b; if (lf_batch_open(&b, batch->ptr, batch->len) != 0)`
 * report `b.error` as a `malformed` decode-error. lf_batch_open() validates the
 * WHOLE batch up front (types of every key, every record, every stream segment),
 * so a decoder never emits half an output for a bad batch, and the iterators
 * below cannot fail afterwards. Then check b.probe / b.schema (answer
 * `unsupported` for what you do not know), and walk:
 *   lf_iter_t it = lf_batch_records(&b); lf_span_t rec;
 *   while (lf_next_record(&it, &rec)) { rec.ptr[0] is the record kind … }
 *   lf_iter_t st = lf_batch_streams(&b); lf_segment_t seg;
 *   while (lf_next_segment(&st, &seg)) { seg.conn, seg.dir, seg.data, seg.eos, seg.gap }
 *   (arrival times: lf_seg_marks(&seg, …) reads the optional `ts` marks)
 *   lf_iter_t cl = lf_batch_closed(&b); uint64_t conn;
 *   while (lf_next_closed(&cl, &conn)) { free that connection's state }
 * Unknown keys (top level and in segments) are skipped: later batch versions add
 * keys, never change them. Spans point into the batch buffer: copy what you keep.
 */
#ifndef LF_BATCH_H
#define LF_BATCH_H

#include "lf_msgpack.h"

/* Stream directions, as `d` carries them (same values as the WIT enum). */
#define LF_DIR_EGRESS 0
#define LF_DIR_INGRESS 1

/* One array of the batch: where its first element starts and how many there are. */
typedef struct {
  lf_mp_t mp;
  uint32_t left;
} lf_iter_t;

typedef struct {
  uint64_t v;        /* batch format version (1) */
  lf_span_t probe;   /* "tcp", … (empty when absent) */
  uint64_t schema;   /* probe record layout version */
  bool logs;         /* host wants log events (default true) */
  lf_iter_t records; /* array of bin */
  lf_iter_t streams; /* array of segment maps */
  lf_iter_t closed;  /* array of uint */
  const char *error; /* static text after a failed lf_batch_open() */
  size_t error_offset; /* byte offset of the failing value */
} lf_batch_t;

/* One stream segment (`streams[i]`). */
typedef struct {
  uint64_t conn;   /* `c`: connection (socket cookie) */
  uint8_t dir;     /* `d`: LF_DIR_EGRESS / LF_DIR_INGRESS */
  lf_span_t data;  /* `data`: unconsumed bytes from last time + new bytes */
  bool eos;        /* `eos`: no more data will follow in this direction */
  bool gap;        /* `gap`: bytes were lost before `data` (resync) */
  uint32_t nmarks; /* `ts`: [offset, ts_ns] pairs (0 when absent); read with lf_seg_marks() */
  lf_mp_t marks;   /* reader positioned at the first `ts` element */
} lf_segment_t;

static inline int lf_batch_fail_(lf_batch_t *b, lf_mp_t *mp, const char *what) {
  b->error = what;
  b->error_offset = lf_mp_offset(mp);
  return mp->err ? mp->err : LF_MP_ERR_BAD;
}

/* Reads one segment map from mp (used by validation and iteration alike). */
static inline int lf_read_segment_(lf_mp_t *mp, lf_segment_t *seg) {
  uint32_t n;
  bool has_c = false, has_d = false, has_data = false;
  memset(seg, 0, sizeof *seg);
  if (lf_mp_read_map(mp, &n)) return mp->err;
  for (uint32_t i = 0; i < n; i++) {
    lf_span_t key;
    if (lf_mp_read_str(mp, &key)) return mp->err;
    if (lf_span_eq(key, "c")) {
      if (lf_mp_read_uint(mp, &seg->conn)) return mp->err;
      has_c = true;
    } else if (lf_span_eq(key, "d")) {
      uint64_t d;
      if (lf_mp_read_uint(mp, &d)) return mp->err;
      if (d > 1) return lf_mp_fail(mp, LF_MP_ERR_RANGE);
      seg->dir = (uint8_t)d;
      has_d = true;
    } else if (lf_span_eq(key, "data")) {
      if (lf_mp_read_bin(mp, &seg->data)) return mp->err;
      has_data = true;
    } else if (lf_span_eq(key, "eos")) {
      if (lf_mp_read_bool(mp, &seg->eos)) return mp->err;
    } else if (lf_span_eq(key, "gap")) {
      if (lf_mp_read_bool(mp, &seg->gap)) return mp->err;
    } else if (lf_span_eq(key, "ts")) {
      uint32_t n;
      if (lf_mp_read_array(mp, &n)) return mp->err;
      if (n % 2 != 0) return lf_mp_fail(mp, LF_MP_ERR_BAD);
      seg->marks = *mp;
      seg->nmarks = n / 2;
      for (uint32_t j = 0; j < n; j++) {
        uint64_t v;
        if (lf_mp_read_uint(mp, &v)) return mp->err;
      }
    } else if (lf_mp_skip(mp)) {
      return mp->err;
    }
  }
  if (!has_c || !has_d || !has_data) return lf_mp_fail(mp, LF_MP_ERR_BAD);
  return LF_MP_OK;
}

/* Parses and validates the batch; 0 or a negative LF_MP_ERR_* (b->error says what). */
static inline int lf_batch_open(lf_batch_t *b, const uint8_t *buf, size_t len) {
  lf_mp_t mp;
  uint32_t n;
  bool has_v = false;
  memset(b, 0, sizeof *b);
  b->logs = true;
  lf_mp_init(&mp, buf, len);
  if (lf_mp_read_map(&mp, &n)) return lf_batch_fail_(b, &mp, "batch is not a msgpack map");
  for (uint32_t i = 0; i < n; i++) {
    lf_span_t key;
    if (lf_mp_read_str(&mp, &key)) return lf_batch_fail_(b, &mp, "batch key is not a string");
    if (lf_span_eq(key, "v")) {
      if (lf_mp_read_uint(&mp, &b->v)) return lf_batch_fail_(b, &mp, "`v` is not a uint");
      has_v = true;
    } else if (lf_span_eq(key, "probe")) {
      if (lf_mp_read_str(&mp, &b->probe)) return lf_batch_fail_(b, &mp, "`probe` is not a string");
    } else if (lf_span_eq(key, "schema")) {
      if (lf_mp_read_uint(&mp, &b->schema)) return lf_batch_fail_(b, &mp, "`schema` is not a uint");
    } else if (lf_span_eq(key, "logs")) {
      if (lf_mp_read_bool(&mp, &b->logs)) return lf_batch_fail_(b, &mp, "`logs` is not a bool");
    } else if (lf_span_eq(key, "records")) {
      if (lf_mp_read_array(&mp, &b->records.left)) return lf_batch_fail_(b, &mp, "`records` is not an array");
      b->records.mp = mp;
      for (uint32_t j = 0; j < b->records.left; j++) {
        lf_span_t rec;
        if (lf_mp_read_bin(&mp, &rec)) return lf_batch_fail_(b, &mp, "a record is not bin");
        if (rec.len == 0) { lf_mp_fail(&mp, LF_MP_ERR_BAD); return lf_batch_fail_(b, &mp, "empty record (no kind byte)"); }
      }
    } else if (lf_span_eq(key, "streams")) {
      if (lf_mp_read_array(&mp, &b->streams.left)) return lf_batch_fail_(b, &mp, "`streams` is not an array");
      b->streams.mp = mp;
      for (uint32_t j = 0; j < b->streams.left; j++) {
        lf_segment_t seg;
        if (lf_read_segment_(&mp, &seg)) return lf_batch_fail_(b, &mp, "bad stream segment (needs c: uint, d: 0|1, data: bin)");
      }
    } else if (lf_span_eq(key, "closed")) {
      if (lf_mp_read_array(&mp, &b->closed.left)) return lf_batch_fail_(b, &mp, "`closed` is not an array");
      b->closed.mp = mp;
      for (uint32_t j = 0; j < b->closed.left; j++) {
        uint64_t c;
        if (lf_mp_read_uint(&mp, &c)) return lf_batch_fail_(b, &mp, "`closed` holds a non-uint");
      }
    } else if (lf_mp_skip(&mp)) {
      return lf_batch_fail_(b, &mp, "bad value under an unknown key");
    }
  }
  if (!has_v) { lf_mp_fail(&mp, LF_MP_ERR_BAD); return lf_batch_fail_(b, &mp, "batch has no `v`"); }
  if (!lf_mp_at_end(&mp)) { lf_mp_fail(&mp, LF_MP_ERR_BAD); return lf_batch_fail_(b, &mp, "trailing bytes after the batch map"); }
  return LF_MP_OK;
}

static inline lf_iter_t lf_batch_records(const lf_batch_t *b) { return b->records; }
static inline lf_iter_t lf_batch_streams(const lf_batch_t *b) { return b->streams; }
static inline lf_iter_t lf_batch_closed(const lf_batch_t *b) { return b->closed; }

/* Each returns true with the next element, false at the end (or, only for an
 * unvalidated buffer, on a malformed element: it->mp.err is then set). */
static inline bool lf_next_record(lf_iter_t *it, lf_span_t *rec) {
  if (it->left == 0) return false;
  if (lf_mp_read_bin(&it->mp, rec)) { it->left = 0; return false; }
  it->left--;
  return true;
}

static inline bool lf_next_segment(lf_iter_t *it, lf_segment_t *seg) {
  if (it->left == 0) return false;
  if (lf_read_segment_(&it->mp, seg)) { it->left = 0; return false; }
  it->left--;
  return true;
}

/* Arrival times of a segment's bytes: up to `max` pairs into offs/ts (bytes
 * from offs[i] on arrived at ts[i], kernel CLOCK_MONOTONIC ns, until offs[i+1]).
 * Returns how many were read; 0 when the host sent no `ts`. */
static inline uint32_t lf_seg_marks(const lf_segment_t *seg, uint64_t *offs, uint64_t *ts, uint32_t max) {
  lf_mp_t mp = seg->marks;
  uint32_t n = seg->nmarks < max ? seg->nmarks : max;
  for (uint32_t i = 0; i < n; i++) {
    if (lf_mp_read_uint(&mp, &offs[i]) || lf_mp_read_uint(&mp, &ts[i])) return i;
  }
  return n;
}

static inline bool lf_next_closed(lf_iter_t *it, uint64_t *conn) {
  if (it->left == 0) return false;
  if (lf_mp_read_uint(&it->mp, conn)) { it->left = 0; return false; }
  it->left--;
  return true;
}

/* Little-endian field loads for record layouts (bpf/<probe>.h). The caller
 * checks rec.len first; these never read past `off + width`. */
static inline uint16_t lf_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t lf_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t lf_le64(const uint8_t *p) { return (uint64_t)lf_le32(p) | ((uint64_t)lf_le32(p + 4) << 32); }

#endif /* LF_BATCH_H */
