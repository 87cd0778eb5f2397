// Native test harness for sdk/guest/c/lf_msgpack.h and lf_batch.h, built with
// ASan/UBSan by test/sdk/msgpack-fuzz.test.ts. Input (stdin): inputs back to
// back, each `u32 little-endian length | bytes`. Output (stdout): one line per
// input: `<dump> | <batch result>` where dump is the value tree read with the
// typed readers (or `E<code>@<offset>`), so the test can compare it with what
// the TypeScript encoder wrote; any out-of-bounds read aborts under ASan.
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include "lf_batch.h"

static void hex(lf_span_t s) {
  for (uint32_t i = 0; i < s.len; i++) printf("%02x", s.ptr[i]);
}

// Dumps one value; recursion is bounded by the input size (the test keeps depth small).
static int dump(lf_mp_t *mp, int depth) {
  int t = lf_mp_peek(mp);
  uint32_t n;
  lf_span_t s;
  if (depth > 64) return lf_mp_skip(mp) ? mp->err : (printf("~"), 0);
  switch (t) {
    case LF_MP_NIL: if (lf_mp_read_nil(mp)) return mp->err; printf("n"); return 0;
    case LF_MP_BOOL: { bool b; if (lf_mp_read_bool(mp, &b)) return mp->err; printf(b ? "t" : "f"); return 0; }
    case LF_MP_UINT: { uint64_t u; if (lf_mp_read_uint(mp, &u)) return mp->err; printf("u%" PRIu64, u); return 0; }
    case LF_MP_INT: { int64_t i; if (lf_mp_read_int(mp, &i)) return mp->err; printf("i%" PRId64, i); return 0; }
    case LF_MP_FLOAT: { double d; if (lf_mp_read_float(mp, &d)) return mp->err; printf("d%.17g", d); return 0; }
    case LF_MP_STR: if (lf_mp_read_str(mp, &s)) return mp->err; printf("s"); hex(s); return 0;
    case LF_MP_BIN: if (lf_mp_read_bin(mp, &s)) return mp->err; printf("b"); hex(s); return 0;
    case LF_MP_EXT: if (lf_mp_skip(mp)) return mp->err; printf("x"); return 0;
    case LF_MP_ARRAY:
      if (lf_mp_read_array(mp, &n)) return mp->err;
      printf("[%u", n);
      for (uint32_t i = 0; i < n; i++) { printf(" "); if (dump(mp, depth + 1)) return mp->err; }
      printf("]");
      return 0;
    case LF_MP_MAP:
      if (lf_mp_read_map(mp, &n)) return mp->err;
      printf("{%u", n);
      for (uint32_t i = 0; i < 2 * n; i++) { printf(" "); if (dump(mp, depth + 1)) return mp->err; }
      printf("}");
      return 0;
    default: return lf_mp_fail(mp, t);
  }
}

static void batch(const uint8_t *p, size_t len) {
  lf_batch_t b;
  if (lf_batch_open(&b, p, len)) { printf("B%s", b.error); return; }
  printf("Bv%" PRIu64 " p", b.v);
  hex(b.probe);
  printf(" s%" PRIu64 " l%d", b.schema, b.logs);
  lf_iter_t it = lf_batch_records(&b);
  lf_span_t r;
  while (lf_next_record(&it, &r)) { printf(" r"); hex(r); }
  it = lf_batch_streams(&b);
  lf_segment_t seg;
  while (lf_next_segment(&it, &seg)) {
    printf(" c%" PRIu64 " d%u e%d g%d ", seg.conn, seg.dir, seg.eos, seg.gap);
    hex(seg.data);
  }
  it = lf_batch_closed(&b);
  uint64_t c;
  while (lf_next_closed(&it, &c)) printf(" x%" PRIu64, c);
  // The iterators of a validated batch must never fail.
  if (it.mp.err) { printf(" ITERFAIL"); }
}

int main(void) {
  uint8_t hdr[4];
  while (fread(hdr, 1, 4, stdin) == 4) {
    size_t len = lf_le32(hdr);
    // An exact-size heap copy, so ASan catches a read one byte past the end.
    uint8_t *buf = malloc(len ? len : 1);
    if (len && fread(buf, 1, len, stdin) != len) return 2;
    lf_mp_t mp;
    lf_mp_init(&mp, buf, len);
    int rc = dump(&mp, 0);
    if (rc) printf("E%d@%zu", rc, lf_mp_offset(&mp));
    else if (!lf_mp_at_end(&mp)) printf(" +%zu", lf_mp_left(&mp));
    // skip() must agree with the typed readers on where the value ends.
    lf_mp_t sk;
    lf_mp_init(&sk, buf, len);
    int src = lf_mp_skip(&sk);
    if ((src == 0) != (rc == 0) || (rc == 0 && sk.p != mp.p)) printf(" SKIPMISMATCH");
    printf(" | ");
    batch(buf, len);
    printf("\n");
    free(buf);
  }
  return 0;
}
