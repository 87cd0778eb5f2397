// http1-requests: an example third-party lightfoot decoder.
//
// Subscribes to the tcp probe's payload streams, finds HTTP/1.x request lines
// and status lines in both directions (client or server side), pairs each
// response with the oldest pending request of its connection (or with a
// request that follows it in the same batch), counts
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

static void count_request(start_ctx_t *x, const conn_req_t *req, uint16_t status) {
  lf_str_t labels[2] = {lf_str(METHODS[req->method]), lf_str(STATUS_CLASS[status / 100])};
  lf_out_metric(x->out, M_REQUESTS, LF_ADD, 1, labels, 2);
  if (x->logs) {
    lf_log_t *ev = lf_out_log(x->out, LF_INFO, "request", x->conn->id);
    lf_log_str(ev, "method", labels[0]);
    lf_log_str(ev, "path", lf_strn(req->path, req->path_len));
    lf_log_uint(ev, "status", status);
  }
}

// Responses still without a request once the batch has moved past their
// connection: counted with method "unknown", never dropped.
static void flush_orphans(start_ctx_t *x) {
  conn_t *c = x->conn;
  const conn_req_t unknown = {.method = METHOD_UNKNOWN};
  for (uint8_t i = 0; i < c->orphans; i++) count_request(x, &unknown, c->orphan_status[i]);
  c->orphans = 0;
}

static void flush_orphans_of(lf_output_t *out, bool logs, uint64_t id) {
  conn_t *c = conn_get(id, false);
  if (!c || !c->orphans) return;
  start_ctx_t x = {out, c, logs};
  flush_orphans(&x);
}

// A start line: queue requests; pair responses with the oldest queued request
// (or a request with the oldest response that came before it in this batch).
static bool on_start(void *p, const http1_start_t *st) {
  start_ctx_t *x = p;
  conn_t *c = x->conn;
  if (!c->announced) {
    lf_out_annotate(x->out, c->id, "protocol", lf_str("http/1.1"));
    c->announced = true;
  }
  if (!st->is_response) {
    conn_req_t r = {.method = method_index(st->method, st->method_len)};
    r.path_len = (uint8_t)(st->target_len < CONN_PATH_MAX ? st->target_len : CONN_PATH_MAX);
    memcpy(r.path, st->target, r.path_len);
    if (c->orphans) {
      uint16_t status = c->orphan_status[0];
      memmove(c->orphan_status, c->orphan_status + 1, (size_t)(c->orphans - 1) * sizeof c->orphan_status[0]);
      c->orphans--;
      count_request(x, &r, status);
      return false;
    }
    if (c->count == CONN_FIFO) { c->head = (uint8_t)((c->head + 1) % CONN_FIFO); c->count--; } // drop the oldest
    c->fifo[(c->head + c->count) % CONN_FIFO] = r;
    c->count++;
    return false;
  }
  if (st->status < 200 && st->status != 101) return false; // interim 1xx: the final response follows
  if (!c->count) {
    if (c->orphans == CONN_FIFO) flush_orphans(x);
    c->orphan_status[c->orphans++] = st->status;
    return false; // its method is not known yet: assume a body follows (not HEAD)
  }
  conn_req_t req = c->fifo[c->head];
  c->head = (uint8_t)((c->head + 1) % CONN_FIFO);
  c->count--;
  count_request(x, &req, st->status);
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
  uint64_t prev = 0; // a connection's two segments are adjacent in a batch
  while (lf_next_segment(&st, &seg)) {
    if (prev && prev != seg.conn) flush_orphans_of(ret, b.logs, prev);
    prev = seg.conn;
    conn_t *c = conn_get(seg.conn, true); // may grow the table: no conn_t pointer is kept across it
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
  if (prev) flush_orphans_of(ret, b.logs, prev);
  lf_iter_t cl = lf_batch_closed(&b);
  uint64_t conn;
  while (lf_next_closed(&cl, &conn)) conn_free(conn);
  if (conn_count() != before) lf_out_metric(ret, M_CONNECTIONS, LF_SET, (double)conn_count(), NULL, 0);

done:
  lf_batch_free(batch);
  return ok;
}
