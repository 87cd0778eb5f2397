// http1-requests: an example third-party lightfoot decoder.
//
// Subscribes to the tcp probe's payload streams, finds HTTP/1.x request lines
// and status lines in both directions (client or server side), pairs each
// response with the oldest pending request of its connection, and counts
// lightfoot_http1_requests_total{method,status_class}. Partial lines are left
// unconsumed (the host hands them back with the next segment); after a `gap`
// the parser resyncs at the next line start; state is freed on `closed`.
#include "decoder_plugin.h"
#include "lf_batch.h"
#include "lf_out.h"
#include "conn.h"
#include "http1.h"

enum { M_REQUESTS, M_GAPS, M_CONNECTIONS };

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER", "unknown"};
enum { METHOD_HEAD = 1, METHOD_OTHER = 9, METHOD_UNKNOWN = 10 };
static const char *const STATUS_CLASS[] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

void exports_lightfoot_decoder_decoder_describe(lf_info_t *ret) {
  static const char *const req_labels[] = {"method", "status_class"};
  static const char *const dir_labels[] = {"direction"};
  lf_info_init(ret, "http1-requests", "0.1.0");
  lf_info_subscribe(ret, "tcp", NULL, 0, /*streams=*/true);
  lf_info_metric(ret, "lightfoot_http1_requests_total", LF_COUNTER,
                 "HTTP/1.x requests answered, by method and response status class.", req_labels, 2, NULL, 0);
  lf_info_metric(ret, "lightfoot_http1_stream_gaps_total", LF_COUNTER,
                 "Stream segments that followed lost bytes (parser resynced).", dir_labels, 1, NULL, 0);
  lf_info_metric(ret, "lightfoot_http1_tracked_connections", LF_GAUGE,
                 "Connections the decoder holds parser state for.", NULL, 0, NULL, 0);
}

static uint8_t method_index(const uint8_t *m, size_t n) {
  for (uint8_t i = 0; i < METHOD_OTHER; i++)
    if (strlen(METHODS[i]) == n && memcmp(METHODS[i], m, n) == 0) return i;
  return METHOD_OTHER;
}

typedef struct {
  lf_output_t *out;
  conn_t *conn;
  bool logs;
} start_ctx_t;

// A start line: queue requests; pair responses with the oldest queued request.
static bool on_start(void *p, const http1_start_t *st) {
  start_ctx_t *x = p;
  conn_t *c = x->conn;
  if (!c->announced) {
    lf_out_annotate(x->out, c->id, "protocol", lf_str("http/1.1"));
    c->announced = true;
  }
  if (!st->is_response) {
    if (c->count == CONN_FIFO) { c->head = (uint8_t)((c->head + 1) % CONN_FIFO); c->count--; } // drop the oldest
    conn_req_t *r = &c->fifo[(c->head + c->count) % CONN_FIFO];
    c->count++;
    r->method = method_index(st->method, st->method_len);
    r->path_len = (uint8_t)(st->target_len < CONN_PATH_MAX ? st->target_len : CONN_PATH_MAX);
    memcpy(r->path, st->target, r->path_len);
    return false;
  }
  if (st->status < 200 && st->status != 101) return false; // interim 1xx: the final response follows
  conn_req_t req = {.method = METHOD_UNKNOWN};
  if (c->count) {
    req = c->fifo[c->head];
    c->head = (uint8_t)((c->head + 1) % CONN_FIFO);
    c->count--;
  }
  lf_str_t labels[2] = {lf_str(METHODS[req.method]), lf_str(STATUS_CLASS[st->status / 100])};
  lf_out_metric(x->out, M_REQUESTS, LF_ADD, 1, labels, 2);
  if (x->logs) {
    lf_log_t *ev = lf_out_log(x->out, LF_INFO, "request", c->id);
    lf_log_str(ev, "method", labels[0]);
    lf_log_str(ev, "path", lf_strn(req.path, req.path_len));
    lf_log_uint(ev, "status", st->status);
  }
  return req.method == METHOD_HEAD;
}

bool exports_lightfoot_decoder_decoder_decode(decoder_plugin_list_u8_t *batch, lf_output_t *ret, lf_error_t *err) {
  lf_batch_t b;
  bool ok = true;
  lf_out_init(ret);
  if (lf_batch_open(&b, batch->ptr, batch->len) != 0) {
    ok = lf_err_malformed(err, b.error);
    goto done;
  }
  // Plaintext byte streams: the tcp probe's payload, or the openssl probe's TLS plaintext.
  if (!lf_span_eq(b.probe, "tcp") && !lf_span_eq(b.probe, "openssl")) {
    ok = lf_err_unsupported(err, "http1-requests decodes the tcp and openssl probes' streams only");
    goto done;
  }
  size_t before = conn_count();
  lf_iter_t st = lf_batch_streams(&b);
  lf_segment_t seg;
  while (lf_next_segment(&st, &seg)) {
    conn_t *c = conn_get(seg.conn, true);
    uint32_t consumed = seg.data.len;
    if (c) {
      http1_stream_t *s = &c->dir[seg.dir];
      if (seg.gap) {
        s->state = H1_RESYNC;
        s->in_resync_line = true;
        c->count = 0; // requests or responses were lost: pairing is unreliable now
        lf_str_t dir = lf_str(seg.dir == LF_DIR_EGRESS ? "egress" : "ingress");
        lf_out_metric(ret, M_GAPS, LF_ADD, 1, &dir, 1);
      }
      start_ctx_t x = {ret, c, b.logs};
      consumed = (uint32_t)http1_feed(s, seg.data.ptr, seg.data.len, on_start, &x);
      if (seg.eos) consumed = seg.data.len; // nothing more will come: keep nothing
    }
    lf_out_stream(ret, seg.conn, seg.dir, consumed);
  }
  lf_iter_t cl = lf_batch_closed(&b);
  uint64_t conn;
  while (lf_next_closed(&cl, &conn)) conn_free(conn);
  if (conn_count() != before) lf_out_metric(ret, M_CONNECTIONS, LF_SET, (double)conn_count(), NULL, 0);

done:
  lf_batch_free(batch);
  return ok;
}
