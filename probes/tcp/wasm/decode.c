/* The TCP decoder component: describe() and decode() of sdk/wit/decoder.wit.
 *
 * Per-connection last counters keyed by socket cookie turn the kernel's
 * cumulative snapshots (flush/reset/close) into deltas, as probes/tcp/decoder.ts
 * does; updates are aggregated within a batch per (metric, label values):
 * counter and gauge adds are summed (an add that sums to 0 is dropped), a gauge
 * set keeps the last value, histogram observations are emitted one by one. The
 * output keeps the order in which each (metric, labels) first appeared.
 * Twin in TypeScript: probes/tcp/reference-decoder.ts (same output, byte for byte).
 */
#include "decoder_plugin.h"
#include "lf_batch.h"
#include "lf_out.h"
#include "tcp_decoder.h"

typedef decoder_plugin_string_t wstr_t;
typedef lightfoot_decoder_types_metric_update_t update_t;
typedef lightfoot_decoder_types_log_event_t log_t;
typedef lightfoot_decoder_types_field_t field_t;

/* Metric indexes, in describe() order. */
enum {
  M_OPENED, M_CLOSED, M_CONNECT_FAILED, M_BYTES_SENT, M_BYTES_RECEIVED,
  M_RETRANSMITS, M_RESETS, M_RTT, M_CWND, M_ACTIVE, M_COUNT
};

static const double RTT_BUCKETS[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};

/* ---- persistent state (static: no allocation per record) ---- */
static conn_t g_conn_entries[LF_TCP_MAX_CONNS];
static uint32_t g_conn_idx[LF_TCP_MAX_CONNS * 2];
static conn_t g_closed_entries[LF_TCP_CLOSED_KEPT];
static uint32_t g_closed_idx[LF_TCP_CLOSED_KEPT * 4];
static table_t g_conns, g_closed;
static bool g_init;
static uint32_t g_epoch;
static uint64_t g_malformed_total, g_evicted_total;

static void state_init(void) {
  if (g_init) return;
  table_init(&g_conns, g_conn_entries, LF_TCP_MAX_CONNS, g_conn_idx, LF_TCP_MAX_CONNS * 2);
  table_init(&g_closed, g_closed_entries, LF_TCP_CLOSED_KEPT, g_closed_idx, LF_TCP_CLOSED_KEPT * 4);
  g_init = true;
}

/* ---- per-batch state (arena) ---- */

/* A connection's label values for this batch (connections move and get evicted
 * during a batch, so updates point at this copy, never at the tables). */
typedef struct labelset {
  wstr_t v[L_N];
  wstr_t reset_sent[L_N + 1], reset_received[L_N + 1];
  uint32_t hash;
} labelset_t;

static update_t *b_up;       /* metric updates, in first-seen order */
static labelset_t **b_upls;  /* labels of each update (for key comparison) */
static uint32_t b_nup;
static uint32_t *b_aggidx;   /* (metric, labels) -> update index + 1 */
static uint32_t b_aggmask;
static log_t *b_logs;
static uint32_t b_nlogs;

static inline void *xalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) __builtin_trap(); /* over the memory cap: the host sees a fault */
  return p;
}

static labelset_t *labels_of(conn_t *c) {
  if (c->ls && c->epoch == g_epoch) return c->ls;
  labelset_t *ls = xalloc(sizeof *ls);
  uint8_t n = c->off[L_N];
  char *text = xalloc(n);
  memcpy(text, c->buf, n);
  for (int i = 0; i < L_N; i++) {
    ls->v[i].ptr = (uint8_t *)text + c->off[i];
    ls->v[i].len = (size_t)(c->off[i + 1] - c->off[i]);
    ls->reset_sent[i] = ls->reset_received[i] = ls->v[i];
  }
  ls->reset_sent[L_N] = (wstr_t){(uint8_t *)"sent", 4};
  ls->reset_received[L_N] = (wstr_t){(uint8_t *)"received", 8};
  ls->hash = c->lhash;
  c->ls = ls;
  c->epoch = g_epoch;
  return ls;
}

static bool labels_equal(const labelset_t *a, const labelset_t *b) {
  if (a == b) return true;
  if (a->hash != b->hash) return false;
  for (int i = 0; i < L_N; i++) {
    if (a->v[i].len != b->v[i].len || memcmp(a->v[i].ptr, b->v[i].ptr, a->v[i].len) != 0) return false;
  }
  return true;
}

/* dir: 0 none, 1 sent, 2 received (resets only). */
static void emit(uint32_t metric, uint8_t op, double value, labelset_t *ls, int dir) {
  update_t *u;
  if (op != LF_OBSERVE) {
    uint32_t h = (ls->hash ^ (metric * 0x9e3779b1u) ^ ((uint32_t)dir * 0x85ebca6bu)) * 0xc2b2ae35u;
    uint32_t s = (h ^ (h >> 16)) & b_aggmask;
    for (;;) {
      uint32_t i = b_aggidx[s];
      if (i == 0) break;
      u = &b_up[i - 1];
      if (u->metric == metric && u->labels.len == (dir ? L_N + 1u : (size_t)L_N) &&
          (!dir || u->labels.ptr[L_N].len == (dir == 1 ? 4u : 8u)) && labels_equal(b_upls[i - 1], ls)) {
        if (op == LF_SET) u->value = value;
        else u->value += value;
        return;
      }
      s = (s + 1) & b_aggmask;
    }
    b_aggidx[s] = b_nup + 1;
  }
  b_upls[b_nup] = ls;
  u = &b_up[b_nup++];
  u->metric = metric;
  u->op = op;
  u->value = value;
  u->labels.ptr = dir == 0 ? ls->v : dir == 1 ? ls->reset_sent : ls->reset_received;
  u->labels.len = dir ? L_N + 1u : (size_t)L_N;
}

/* ---- log events ---- */

#define F_MAX 20
static inline field_t *fld(log_t *ev, const char *key, uint8_t tag) {
  field_t *f = &ev->fields.ptr[ev->fields.len++];
  f->key.ptr = (uint8_t *)key;
  f->key.len = strlen(key);
  f->value.tag = tag;
  return f;
}
static void fld_str(log_t *ev, const char *key, const char *s, size_t n) {
  field_t *f = fld(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_STR);
  f->value.val.str.ptr = (uint8_t *)s;
  f->value.val.str.len = n;
}
static void fld_cstr(log_t *ev, const char *key, const char *s) { fld_str(ev, key, s, strlen(s)); }
static void fld_uint(log_t *ev, const char *key, uint64_t v) {
  fld(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_UINT)->value.val.uint = v;
}
static void fld_bool(log_t *ev, const char *key, bool v) {
  fld(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_BOOLEAN)->value.val.boolean = v;
}
static void fld_float(log_t *ev, const char *key, double v) {
  fld(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_FLOAT)->value.val.float_ = v;
}
static void fld_state(log_t *ev, const char *key, uint8_t state) {
  const char *name = lf_state_name(state);
  if (name) { fld_cstr(ev, key, name); return; }
  char *t = xalloc(10);
  memcpy(t, "STATE_", 6);
  fld_str(ev, key, t, 6 + lf_fmt_u64(t + 6, state));
}

static const char *const EVENT_NAMES[] = {NULL, "open", "state", "reset", "close", "flush"};

static void log_event(const struct lf_tcp_event *ev, bool connect_failed) {
  log_t *l = &b_logs[b_nlogs++];
  l->level = LF_INFO;
  l->message.ptr = (uint8_t *)EVENT_NAMES[ev->kind];
  l->message.len = strlen(EVENT_NAMES[ev->kind]);
  l->connection = ev->cookie;
  l->fields.ptr = xalloc(F_MAX * sizeof(field_t));
  l->fields.len = 0;
  char *t = xalloc(32 + 48 + 48 + 20);
  char *comm = t, *local = t + 32, *remote = t + 80, *cg = t + 128;
  size_t ncomm = lf_comm_utf8(comm, ev->comm);
  size_t nlocal = lf_fmt_endpoint(local, ev->family, ev->saddr, ev->sport);
  size_t nremote = lf_fmt_endpoint(remote, ev->family, ev->daddr, ev->dport);
  size_t ncg = lf_fmt_u64(cg, ev->cgroup_id);
  fld_uint(l, "pid", ev->tgid);
  fld_str(l, "comm", comm, ncomm);
  fld_cstr(l, "role", lf_role_name(ev->role));
  fld_str(l, "local", local, nlocal);
  fld_str(l, "remote", remote, nremote);
  fld_state(l, "oldState", ev->old_state);
  fld_state(l, "state", ev->new_state);
  fld_bool(l, "preexisting", (ev->flags & LF_TCP_F_PREEXISTING) != 0);
  fld_bool(l, "connectFailed", connect_failed);
  if (ev->kind == LF_TCP_EV_RESET)
    fld_cstr(l, "resetDirection", (ev->flags & LF_TCP_F_RESET_SENT) ? "sent" : "received");
  fld_uint(l, "bytesSent", ev->bytes_sent);
  fld_uint(l, "bytesReceived", ev->bytes_received);
  fld_uint(l, "retransmits", ev->total_retrans);
  fld_uint(l, "srttUs", ev->srtt_us);
  fld_uint(l, "cwnd", ev->snd_cwnd);
  fld_uint(l, "resetsSent", ev->resets_sent);
  fld_uint(l, "resetsReceived", ev->resets_received);
  uint64_t age_ns = ev->ts_ns > ev->open_ts_ns ? ev->ts_ns - ev->open_ts_ns : 0;
  fld_float(l, "ageMs", (double)(age_ns / 1000u) / 1000.0);
  fld_str(l, "cgroupId", cg, ncg);
  fld_uint(l, "tsNs", ev->ts_ns);
}

static void diag_log(const char *message, uint64_t count, uint64_t total) {
  log_t *l = &b_logs[b_nlogs++];
  l->level = LF_WARN;
  l->message.ptr = (uint8_t *)message;
  l->message.len = strlen(message);
  l->connection = 0;
  l->fields.ptr = xalloc(2 * sizeof(field_t));
  l->fields.len = 0;
  fld_uint(l, "count", count);
  fld_uint(l, "total", total);
}

/* ---- record interpretation ---- */

/* Moves a connection to the recently-closed table (no-op when it is there). */
static void retire(conn_t *c) {
  if (c >= g_closed_entries && c < g_closed_entries + LF_TCP_CLOSED_KEPT) return;
  conn_t saved = *c;
  table_remove(&g_conns, c);
  if (g_closed.count >= LF_TCP_CLOSED_KEPT) table_remove(&g_closed, table_oldest(&g_closed));
  conn_t *d = table_insert(&g_closed, saved.cookie);
  uint32_t chash = d->chash, prev = d->prev, next = d->next;
  *d = saved;
  d->chash = chash;
  d->prev = prev;
  d->next = next;
}

static void apply(const struct lf_tcp_event *ev, bool logs, uint32_t *evicted) {
  uint8_t kind = ev->kind;
  bool failed_connect = kind == LF_TCP_EV_CLOSE && (ev->flags & LF_TCP_F_NEVER_ESTABLISHED);
  conn_t *c = table_get(&g_conns, ev->cookie);
  if (!c) c = table_get(&g_closed, ev->cookie);
  if (!c) {
    if (g_conns.count >= LF_TCP_MAX_CONNS) {
      table_remove(&g_conns, table_oldest(&g_conns));
      (*evicted)++;
    }
    c = table_insert(&g_conns, ev->cookie);
    lf_conn_labels(c, ev);
  }
  labelset_t *ls = labels_of(c);

  if (kind == LF_TCP_EV_OPEN && !c->opened) {
    c->opened = 1;
    emit(M_OPENED, LF_ADD, 1, ls, 0);
    emit(M_ACTIVE, LF_ADD, 1, ls, 0);
  }
  if (ev->bytes_sent > c->sent) {
    emit(M_BYTES_SENT, LF_ADD, (double)(ev->bytes_sent - c->sent), ls, 0);
    c->sent = ev->bytes_sent;
  }
  if (ev->bytes_received > c->received) {
    emit(M_BYTES_RECEIVED, LF_ADD, (double)(ev->bytes_received - c->received), ls, 0);
    c->received = ev->bytes_received;
  }
  if (ev->total_retrans > c->retrans) {
    emit(M_RETRANSMITS, LF_ADD, (double)(ev->total_retrans - c->retrans), ls, 0);
    c->retrans = ev->total_retrans;
  }
  if (kind == LF_TCP_EV_RESET) emit(M_RESETS, LF_ADD, 1, ls, (ev->flags & LF_TCP_F_RESET_SENT) ? 1 : 2);
  if ((kind == LF_TCP_EV_CLOSE || kind == LF_TCP_EV_FLUSH) && ev->srtt_us > 0)
    emit(M_RTT, LF_OBSERVE, (double)ev->srtt_us / 1e6, ls, 0);
  if (ev->snd_cwnd > 0 && kind != LF_TCP_EV_RESET) emit(M_CWND, LF_SET, (double)ev->snd_cwnd, ls, 0);
  if (kind == LF_TCP_EV_CLOSE) {
    if (failed_connect) {
      emit(M_CONNECT_FAILED, LF_ADD, 1, ls, 0);
    } else {
      emit(M_CLOSED, LF_ADD, 1, ls, 0);
      emit(M_ACTIVE, LF_ADD, -1, ls, 0);
    }
    retire(c);
  }
  if (logs) log_event(ev, failed_connect);
}

/* ---- exports ---- */

void exports_lightfoot_decoder_decoder_describe(exports_lightfoot_decoder_decoder_decoder_info_t *ret) {
  static const char *const L[] = {"pid", "comm", "role", "peer", "port"};
  static const char *const LR[] = {"pid", "comm", "role", "peer", "port", "direction"};
  lf_info_init(ret, "tcp", "0.1.0");
  lf_info_subscribe(ret, "tcp", NULL, 0, false);
  lf_info_metric(ret, "lightfoot_tcp_connections_opened_total", LF_COUNTER,
                 "TCP connections established by watched processes.", L, 5, NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_connections_closed_total", LF_COUNTER,
                 "TCP connections of watched processes that closed.", L, 5, NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_connect_failures_total", LF_COUNTER,
                 "Outgoing TCP connection attempts that failed (refused, timed out, reset during handshake).",
                 L, 5, NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_bytes_sent_total", LF_COUNTER, "Payload bytes sent on TCP connections.", L, 5,
                 NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_bytes_received_total", LF_COUNTER, "Payload bytes received on TCP connections.",
                 L, 5, NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_retransmits_total", LF_COUNTER, "TCP segments retransmitted.", L, 5, NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_resets_total", LF_COUNTER,
                 "TCP resets, by direction: sent by the watched process or received from the peer.", LR, 6, NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_rtt_seconds", LF_HISTOGRAM,
                 "Smoothed round-trip time (srtt) samples of TCP connections.", L, 5, RTT_BUCKETS,
                 sizeof RTT_BUCKETS / sizeof RTT_BUCKETS[0]);
  lf_info_metric(ret, "lightfoot_tcp_congestion_window_segments", LF_GAUGE,
                 "Congestion window (snd_cwnd, in segments) of the most recent sample.", L, 5, NULL, 0);
  lf_info_metric(ret, "lightfoot_tcp_active_connections", LF_GAUGE, "TCP connections currently open.", L, 5, NULL, 0);
  lf_arena_call_done();
}

static bool decode_impl(decoder_plugin_list_u8_t *batch, lf_output_t *ret, lf_error_t *err) {
  lf_batch_t b;
  lf_out_init(ret);
  if (lf_batch_open(&b, batch->ptr, batch->len) != 0) return lf_err_malformed(err, b.error);
  if (!lf_span_eq(b.probe, "tcp")) return lf_err_unsupported(err, "the tcp decoder reads only probe \"tcp\" batches");
  if (b.v != 1) return lf_err_unsupported(err, "unsupported batch format version (this decoder reads v 1)");
  if (b.schema != 1) return lf_err_unsupported(err, "unsupported tcp record schema (this decoder reads schema 1)");
  state_init();
  g_epoch++;

  uint32_t nrec = b.records.left;
  uint32_t cap = nrec * 8u + 1u;
  uint32_t slots = 16;
  while (slots < cap * 2u) slots <<= 1;
  b_up = xalloc(cap * sizeof *b_up);
  b_upls = xalloc(cap * sizeof *b_upls);
  b_aggidx = xalloc(slots * sizeof *b_aggidx);
  memset(b_aggidx, 0, slots * sizeof *b_aggidx);
  b_aggmask = slots - 1;
  b_nup = 0;
  b_logs = xalloc((nrec + 2u) * sizeof *b_logs);
  b_nlogs = 0;

  uint32_t malformed = 0, evicted = 0;
  lf_iter_t it = lf_batch_records(&b);
  lf_span_t rec;
  while (lf_next_record(&it, &rec)) {
    if (rec.len < sizeof(struct lf_tcp_event) || rec.ptr[0] < LF_TCP_EV_OPEN || rec.ptr[0] > LF_TCP_EV_FLUSH) {
      malformed++;
      continue;
    }
    struct lf_tcp_event ev; /* the span is unaligned; wasm is little-endian like the record */
    memcpy(&ev, rec.ptr, sizeof ev);
    apply(&ev, b.logs, &evicted);
  }
  /* Connections the host saw close without our CLOSE record: forget them the same way. */
  lf_iter_t cl = lf_batch_closed(&b);
  uint64_t cookie;
  while (lf_next_closed(&cl, &cookie)) {
    conn_t *c = table_get(&g_conns, cookie);
    if (c) retire(c);
  }
  g_malformed_total += malformed;
  g_evicted_total += evicted;
  if (malformed) diag_log("malformed-records", malformed, g_malformed_total);
  if (evicted) diag_log("connections-evicted", evicted, g_evicted_total);

  /* drop adds that summed to zero (active +1 -1 within the batch) */
  uint32_t n = 0;
  for (uint32_t i = 0; i < b_nup; i++) {
    if (b_up[i].op == LF_ADD && b_up[i].value == 0) continue;
    b_up[n++] = b_up[i];
  }
  ret->metrics.ptr = n ? b_up : NULL;
  ret->metrics.len = n;
  ret->logs.ptr = b_nlogs ? b_logs : NULL;
  ret->logs.len = b_nlogs;
  return true;
}

bool exports_lightfoot_decoder_decoder_decode(decoder_plugin_list_u8_t *batch, lf_output_t *ret, lf_error_t *err) {
  bool ok = decode_impl(batch, ret, err);
  lf_arena_call_done();
  return ok;
}
