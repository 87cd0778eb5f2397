/* The http2 decoder component: describe() and decode() of sdk/wit/decoder.wit.
 *
 * Input: the tcp probe's payload streams (h2c) and OPEN/FLUSH/CLOSE records
 * (the 4-tuple and process of each socket, for event lines and labels), and
 * the openssl probe's plaintext streams (TLS; same socket cookie as tcp).
 * Connection state is kept per (socket, source probe): a TLS connection's
 * ciphertext on the tcp stream is recognised as not HTTP/2 at its first bytes.
 */
#include "decoder_plugin.h"
#include "lf_batch.h"
#include "lf_out.h"
#include "h2.h"
#include "metrics.h"
#include <stdlib.h>

typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
#include "../../../bpf/tcp.h"

_Static_assert(sizeof(struct lf_tcp_event) == 152, "lf_tcp_event layout drifted");

/* Seconds: loopback RPCs take tens of microseconds; the OTel buckets start at 5 ms. */
static const double DURATION_BUCKETS[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                                          0.1,    0.25,    0.5,    0.75,  1,      2.5,   5,    7.5,   10};
static const double RTT_BUCKETS[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
#define NB(a) (sizeof a / sizeof a[0])

void exports_lightfoot_decoder_decoder_describe(lf_info_t *ret) {
  static const char *const HTTP_SRV[] = {"http_request_method", "http_response_status_code", "http_route", "server_port"};
  static const char *const HTTP_CLI[] = {"http_request_method", "http_response_status_code", "url_template", "server_address", "server_port"};
  static const char *const RPC_SRV[] = {"rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code", "server_port"};
  static const char *const RPC_CLI[] = {"rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code", "server_address", "server_port"};
  static const char *const SIDE[] = {"side"};
  static const char *const SIDE_OUTCOME[] = {"side", "outcome"};
  static const char *const SIDE_CODE[] = {"side", "error_code", "sender"};
  static const char *const SIDE_SENDER[] = {"side", "sender"};
  static const char *const FRAME[] = {"type", "direction"};
  static const char *const CONN[] = {"side", "detected", "transport"};
  static const char *const REASON[] = {"reason"};
  static const char *const REASON_T[] = {"reason", "transport"};
  static const char *const FIELD[] = {"field"};
  static const uint8_t TCP_KINDS[] = {LF_TCP_EV_OPEN, LF_TCP_EV_CLOSE, LF_TCP_EV_FLUSH};
  static const uint8_t NO_RECORDS[] = {0}; /* kind 0 is never emitted: streams only */
  lf_info_init(ret, "http2", "0.1.0");
  lf_info_subscribe(ret, "tcp", TCP_KINDS, NB(TCP_KINDS), true);
  lf_info_subscribe(ret, "openssl", NO_RECORDS, 1, true);
  lf_info_metric(ret, "lightfoot_http_server_request_duration_seconds", LF_HISTOGRAM,
                 "Duration of HTTP/2 requests served by watched processes (OTel http.server.request.duration).",
                 HTTP_SRV, 4, DURATION_BUCKETS, NB(DURATION_BUCKETS));
  lf_info_metric(ret, "lightfoot_http_client_request_duration_seconds", LF_HISTOGRAM,
                 "Duration of HTTP/2 requests made by watched processes (OTel http.client.request.duration).",
                 HTTP_CLI, 5, DURATION_BUCKETS, NB(DURATION_BUCKETS));
  lf_info_metric(ret, "lightfoot_rpc_server_duration_seconds", LF_HISTOGRAM,
                 "Duration of gRPC calls served by watched processes (OTel rpc.server.duration).", RPC_SRV, 5,
                 DURATION_BUCKETS, NB(DURATION_BUCKETS));
  lf_info_metric(ret, "lightfoot_rpc_client_duration_seconds", LF_HISTOGRAM,
                 "Duration of gRPC calls made by watched processes (OTel rpc.client.duration).", RPC_CLI, 6,
                 DURATION_BUCKETS, NB(DURATION_BUCKETS));
  lf_info_metric(ret, "lightfoot_http2_streams_started_total", LF_COUNTER,
                 "HTTP/2 request streams opened (request headers seen).", SIDE, 1, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_streams_total", LF_COUNTER,
                 "HTTP/2 request streams ended: complete (response ended), reset (RST_STREAM), abandoned (connection gone first).",
                 SIDE_OUTCOME, 2, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_stream_resets_total", LF_COUNTER,
                 "RST_STREAM frames, by error code and sender (local: the watched process).", SIDE_CODE, 3, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_goaways_total", LF_COUNTER,
                 "GOAWAY frames, by error code and sender (local: the watched process).", SIDE_CODE, 3, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_ping_rtt_seconds", LF_HISTOGRAM,
                 "Time from a PING to its ACK, as the watched process saw it (sender local: it pinged; peer: it answered).",
                 SIDE_SENDER, 2, RTT_BUCKETS, NB(RTT_BUCKETS));
  lf_info_metric(ret, "lightfoot_http2_frames_total", LF_COUNTER, "HTTP/2 frames, by type and direction.", FRAME, 2,
                 NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_connections_total", LF_COUNTER,
                 "Connections recognised as HTTP/2: from the preface, or mid-stream (opened before lightfoot, or after a loss).",
                 CONN, 3, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_connections_not_h2_total", LF_COUNTER,
                 "Connections whose first bytes were not HTTP/2 (ignored from then on).", REASON_T, 2, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_resyncs_total", LF_COUNTER,
                 "Times a direction lost its framing or HPACK state and resynchronised (gap, protocol_error, hpack_error, oversized_frame).",
                 REASON, 1, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_connections_abandoned_total", LF_COUNTER,
                 "HTTP/2 connections given up (too many resyncs, sync lost).", REASON, 1, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_unknown_fields_total", LF_COUNTER,
                 "Streams reported with a field unknown (HPACK state unknown after a mid-connection start or loss).", FIELD,
                 1, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_limits_total", LF_COUNTER,
                 "Bounds hit: list_size (header list over 1 MiB), block_size (header block over 256 KiB), streams (stream table full).",
                 REASON, 1, NULL, 0);
  lf_info_metric(ret, "lightfoot_http2_tracked_connections", LF_GAUGE, "Connections the decoder holds state for.",
                 NULL, 0, NULL, 0);
}

static void take_tuple(lf_span_t rec) {
  struct lf_tcp_event ev;
  memcpy(&ev, rec.ptr, sizeof ev);
  tuple_t t;
  memset(&t, 0, sizeof t);
  t.cookie = ev.cookie;
  t.tgid = ev.tgid;
  t.sport = ev.sport;
  t.dport = ev.dport;
  t.family = ev.family;
  t.role = ev.role;
  t.preexisting = (ev.flags & LF_TCP_F_PREEXISTING) != 0;
  memcpy(t.saddr, ev.saddr, 16);
  memcpy(t.daddr, ev.daddr, 16);
  memcpy(t.comm, ev.comm, 16);
  const tuple_t *old = tuple_get(ev.cookie);
  if (old && ev.kind != LF_TCP_EV_OPEN) {
    /* CLOSE loses the ports; keep what OPEN said */
    if (t.sport == 0) t.sport = old->sport;
    if (t.dport == 0) t.dport = old->dport;
    t.preexisting = old->preexisting;
  }
  tuple_put(&t);
}

static marks_t g_marks[2];
static lf_segment_t *g_segs;
static uint32_t *g_order;
static uint32_t g_segs_cap;

static int by_conn_dir(const void *a, const void *b) {
  const lf_segment_t *x = &g_segs[*(const uint32_t *)a], *y = &g_segs[*(const uint32_t *)b];
  if (x->conn != y->conn) return x->conn < y->conn ? -1 : 1;
  return (int)x->dir - (int)y->dir;
}

/* One connection's segments (one or both directions), parsed in arrival order:
 * a server's requests (ingress) come before its responses (egress) although
 * the batch holds each direction as one segment. */
static void feed_connection(lf_output_t *ret, uint8_t src, lf_segment_t *seg[2]) {
  uint64_t cookie = seg[0] ? seg[0]->conn : seg[1]->conn;
  bool any = (seg[0] && seg[0]->data.len) || (seg[1] && seg[1]->data.len);
  h2conn_t *c = conn_get(cookie, src, any);
  uint32_t off[2] = {0, 0};
  if (c) {
    if (c->d[0].mode == D_NEW && c->d[1].mode == D_NEW && !c->is_h2 && !c->dead && c->client_dir < 0 &&
        !c->d[0].fresh && !c->d[1].fresh) {
      /* a TCP connection seen from its start must begin with HTTP/2's first bytes */
      const tuple_t *t = tuple_get(cookie);
      if (src == SRC_TCP && t && !t->preexisting) c->d[0].fresh = c->d[1].fresh = 1;
    }
    uint64_t next[2] = {UINT64_MAX, UINT64_MAX};
    for (int d = 0; d < 2; d++) {
      if (!seg[d]) continue;
      g_marks[d].n = lf_seg_marks(seg[d], g_marks[d].offs, g_marks[d].ts, 256);
      g_marks[d].cur = 0;
      off[d] = h2_feed(c, (uint8_t)d, seg[d]->data.ptr, seg[d]->data.len, 0, seg[d]->gap, &g_marks[d], 0, &next[d]);
    }
    while (next[0] != UINT64_MAX || next[1] != UINT64_MAX) {
      int d = next[0] <= next[1] ? 0 : 1;
      uint64_t until = next[!d];
      if (until < next[d]) until = next[d]; /* the other side is waiting for bytes: no bound */
      off[d] = h2_feed(c, (uint8_t)d, seg[d]->data.ptr, seg[d]->data.len, off[d], false, &g_marks[d],
                       next[!d] == UINT64_MAX ? UINT64_MAX : until, &next[d]);
    }
  }
  for (int d = 0; d < 2; d++) {
    if (!seg[d]) continue;
    uint32_t consumed = !c || c->dead || seg[d]->eos ? seg[d]->data.len : off[d];
    lf_out_stream(ret, cookie, (uint8_t)d, consumed);
  }
}

static bool decode_impl(decoder_plugin_list_u8_t *batch, lf_output_t *ret, lf_error_t *err) {
  lf_batch_t b;
  lf_out_init(ret);
  if (lf_batch_open(&b, batch->ptr, batch->len) != 0) return lf_err_malformed(err, b.error);
  if (b.v != 1) return lf_err_unsupported(err, "unsupported batch format version (this decoder reads v 1)");
  uint8_t src;
  if (lf_span_eq(b.probe, "tcp")) {
    if (b.schema != 1) return lf_err_unsupported(err, "unsupported tcp record schema (this decoder reads schema 1)");
    src = SRC_TCP;
  } else if (lf_span_eq(b.probe, "openssl")) {
    src = SRC_TLS;
  } else {
    return lf_err_unsupported(err, "the http2 decoder reads tcp and openssl batches");
  }
  uint32_t before = conn_count();
  rep_begin(ret, b.logs);
  if (src == SRC_TCP) {
    lf_iter_t it = lf_batch_records(&b);
    lf_span_t rec;
    while (lf_next_record(&it, &rec)) {
      uint8_t k = rec.ptr[0];
      if ((k == LF_TCP_EV_OPEN || k == LF_TCP_EV_FLUSH || k == LF_TCP_EV_CLOSE) && rec.len >= sizeof(struct lf_tcp_event))
        take_tuple(rec);
    }
  }
  rep_flush_deferred(false);
  uint32_t nseg = b.streams.left;
  if (nseg > g_segs_cap) {
    free(g_segs);
    free(g_order);
    g_segs = malloc(nseg * sizeof *g_segs);
    g_order = malloc(nseg * sizeof *g_order);
    if (!g_segs || !g_order) __builtin_trap();
    g_segs_cap = nseg;
  }
  lf_iter_t st = lf_batch_streams(&b);
  for (uint32_t i = 0; i < nseg && lf_next_segment(&st, &g_segs[i]); i++) g_order[i] = i;
  qsort(g_order, nseg, sizeof *g_order, by_conn_dir);
  for (uint32_t i = 0; i < nseg;) {
    lf_segment_t *pair[2] = {NULL, NULL};
    lf_segment_t *a = &g_segs[g_order[i++]];
    pair[a->dir] = a;
    while (i < nseg && g_segs[g_order[i]].conn == a->conn) {
      lf_segment_t *x = &g_segs[g_order[i++]];
      if (pair[x->dir] == NULL) pair[x->dir] = x;
      else lf_out_stream(ret, x->conn, x->dir, 0); /* a duplicate segment: not from the host */
    }
    feed_connection(ret, src, pair);
  }
  lf_iter_t cl = lf_batch_closed(&b);
  uint64_t cookie;
  while (lf_next_closed(&cl, &cookie)) {
    conn_free_cookie(cookie);
    rep_flush_cookie(cookie); /* the connection is gone: report what waited for its tuple */
    if (src == SRC_TCP) tuple_drop(cookie);
  }
  if (conn_count() != before) rep_tracked(conn_count());
  rep_end();
  return true;
}

bool exports_lightfoot_decoder_decoder_decode(decoder_plugin_list_u8_t *batch, lf_output_t *ret, lf_error_t *err) {
  bool ok = decode_impl(batch, ret, err);
  if (!ok) lf_out_discard(ret);
  lf_batch_free(batch);
  return ok;
}
