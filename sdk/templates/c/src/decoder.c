// __NAME__: a lightfoot protocol decoder (scaffolded by `lightfoot-sdk new`).
//
// It counts the tcp probe's records by kind and the payload bytes it sees on
// each stream direction. Replace the body of decode() with your protocol.
// Build: `lightfoot-sdk build`; test: `lightfoot-sdk test` (fixtures/).
#include "decoder_plugin.h" // generated from sdk/wit/decoder.wit at build time
#include "lf_batch.h"
#include "lf_out.h"

// Metric indices, in declaration order (the host validates updates against them).
enum { M_RECORDS, M_STREAM_BYTES };

void exports_lightfoot_decoder_decoder_describe(lf_info_t *ret) {
  lf_info_init(ret, "__NAME__", "0.1.0");
  lf_info_subscribe(ret, "tcp", NULL, 0, /*streams=*/true);
  static const char *const kind_label[] = {"kind"};
  static const char *const dir_label[] = {"direction"};
  lf_info_metric(ret, "lightfoot___IDENT___records_total", LF_COUNTER,
                 "Probe records seen, by record kind.", kind_label, 1, NULL, 0);
  lf_info_metric(ret, "lightfoot___IDENT___stream_bytes_total", LF_COUNTER,
                 "Payload bytes seen, by direction.", dir_label, 1, NULL, 0);
}

bool exports_lightfoot_decoder_decoder_decode(decoder_plugin_list_u8_t *batch, lf_output_t *ret, lf_error_t *err) {
  lf_batch_t b;
  bool ok = true;
  lf_out_init(ret);
  if (lf_batch_open(&b, batch->ptr, batch->len) != 0) {
    ok = lf_err_malformed(err, b.error);
    goto done;
  }
  if (!lf_span_eq(b.probe, "tcp")) {
    ok = lf_err_unsupported(err, "only the tcp probe is supported");
    goto done;
  }

  lf_iter_t it = lf_batch_records(&b);
  lf_span_t rec;
  while (lf_next_record(&it, &rec)) {
    char buf[21];
    lf_str_t label = lf_u64_str(buf, rec.ptr[0]); // lf_batch_open guarantees len >= 1
    lf_out_metric(ret, M_RECORDS, LF_ADD, 1, &label, 1);
  }

  lf_iter_t st = lf_batch_streams(&b);
  lf_segment_t seg;
  while (lf_next_segment(&st, &seg)) {
    lf_str_t dir = lf_str(seg.dir == LF_DIR_EGRESS ? "egress" : "ingress");
    if (seg.data.len) lf_out_metric(ret, M_STREAM_BYTES, LF_ADD, seg.data.len, &dir, 1);
    lf_out_stream(ret, seg.conn, seg.dir, seg.data.len); // everything consumed
  }

  lf_iter_t cl = lf_batch_closed(&b);
  uint64_t conn;
  while (lf_next_closed(&cl, &conn)) {
    if (!b.logs) continue; // the host asked for no per-event logs
    lf_log_t *ev = lf_out_log(ret, LF_DEBUG, "closed", conn);
    lf_log_str(ev, "decoder", lf_str("__NAME__"));
  }

done:
  lf_batch_free(batch); // the batch belongs to the guest: free it
  return ok;
}
