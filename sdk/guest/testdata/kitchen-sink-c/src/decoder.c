// Emits every WIT output shape (all field-value cases, u64 extremes, UTF-8,
// histogram buckets, kinds lists) so the AssemblyScript hand-written canonical
// ABI can be compared with wit-bindgen's C output (test/sdk/as-abi.test.ts).
// Must behave exactly like ../kitchen-sink-as/assembly/index.ts.
#include "decoder_plugin.h"
#include "lf_batch.h"
#include "lf_out.h"

void exports_lightfoot_decoder_decoder_describe(lf_info_t *ret) {
  static const uint8_t kinds[] = {1, 2, 255};
  static const char *const two[] = {"kind", "n\xc3\xbc"};
  static const double buckets[] = {0.001, 0.5, 10};
  lf_info_init(ret, "kitchen-sink", "1.2.3-\xc3\xa9");
  lf_info_subscribe(ret, "tcp", kinds, 3, true);
  lf_info_subscribe(ret, "openssl", NULL, 0, false);
  lf_info_metric(ret, "lightfoot_ks_total", LF_COUNTER, "c", two, 2, NULL, 0);
  lf_info_metric(ret, "lightfoot_ks_level", LF_GAUGE, "", NULL, 0, NULL, 0);
  lf_info_metric(ret, "lightfoot_ks_seconds", LF_HISTOGRAM, "h", NULL, 0, buckets, 3);
}

bool exports_lightfoot_decoder_decoder_decode(decoder_plugin_list_u8_t *batch, lf_output_t *ret, lf_error_t *err) {
  lf_batch_t b;
  bool ok = true;
  lf_out_init(ret);
  if (lf_batch_open(&b, batch->ptr, batch->len) != 0) { ok = lf_err_malformed(err, b.error); goto done; }
  lf_iter_t it = lf_batch_records(&b);
  lf_span_t rec;
  while (lf_next_record(&it, &rec)) {
    if (rec.ptr[0] == 0xee) { lf_out_discard(ret); ok = lf_err_malformed(err, "bad kind \xc3\xbc"); goto done; }
    char buf[21];
    lf_str_t labels[2] = {lf_u64_str(buf, rec.ptr[0]), lf_str("\xc3\xbc")};
    lf_out_metric(ret, 0, LF_ADD, rec.len, labels, 2);
    lf_out_metric(ret, 1, LF_SET, -1.5, NULL, 0);
    lf_out_metric(ret, 2, LF_OBSERVE, 0.25, NULL, 0);
    lf_log_t *ev = lf_out_log(ret, LF_WARN, "rec", UINT64_MAX);
    lf_log_str(ev, "s", lf_str("\xc3\xbcn\xc3\xaf"));
    lf_log_int(ev, "i", -9007199254740993LL);
    lf_log_int(ev, "neg", -5);
    lf_log_uint(ev, "u", UINT64_MAX);
    lf_log_uint(ev, "small", 42);
    lf_log_float(ev, "f", 1.5);
    lf_log_bool(ev, "b", true);
    lf_log_bool(ev, "nb", false);
    lf_log_str(ev, "empty", lf_str(""));
    lf_out_log(ret, LF_ERROR, "", 0);
    lf_out_annotate(ret, 9223372036854775808ULL, "k", lf_str("v"));
    lf_out_stream(ret, 5, LF_DIR_INGRESS, rec.len);
  }
done:
  lf_batch_free(batch);
  return ok;
}
