/* What the decoder reports: metric updates (counter adds aggregated per call
 * by metric and label values, so the output stays small), event lines, and the
 * label rules: OpenTelemetry HTTP/RPC names, paths templated and capped per
 * target (docs/metrics.md, "HTTP/2 and gRPC").
 */
#include <stdlib.h>

#include "decoder_plugin.h"
#include "lf_batch.h"
#include "lf_out.h"
#include "h2.h"
#include "metrics.h"
#include "lf_net_fmt.h"

static lf_output_t *g_out;
static bool g_logs;

/* ---- aggregation of adds within one call ---- */

static uint32_t *g_agg;  /* slots: 0 empty, else metric update index + 1 */
static uint32_t g_agg_cap; /* slots, power of two */
static uint32_t g_agg_n;

static uint32_t hash_labels(uint32_t metric, const lf_str_t *l, size_t n) {
  uint32_t h = 2166136261u ^ metric;
  for (size_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < l[i].len; j++) h = (h ^ l[i].ptr[j]) * 16777619u;
    h = (h ^ 0x1f) * 16777619u;
  }
  return h;
}

static bool same_labels(const lightfoot_decoder_types_metric_update_t *u, const lf_str_t *l, size_t n) {
  if (u->labels.len != n) return false;
  for (size_t i = 0; i < n; i++) {
    const lf_wstring_t *w = &u->labels.ptr[i];
    if (w->len != l[i].len || (l[i].len && memcmp(w->ptr, l[i].ptr, l[i].len) != 0)) return false;
  }
  return true;
}

static void agg_rehash(void) {
  uint32_t cap = g_agg_cap ? g_agg_cap * 2 : 256;
  uint32_t *slots = calloc(cap, sizeof *slots);
  if (!slots) __builtin_trap();
  for (uint32_t i = 0; i < g_out->metrics.len; i++) {
    lightfoot_decoder_types_metric_update_t *u = &g_out->metrics.ptr[i];
    if (u->op != LF_ADD) continue;
    lf_str_t l[8];
    size_t n = u->labels.len < 8 ? u->labels.len : 8;
    for (size_t k = 0; k < n; k++) l[k] = lf_strn(u->labels.ptr[k].ptr, u->labels.ptr[k].len);
    uint32_t s = hash_labels(u->metric, l, n) & (cap - 1);
    while (slots[s]) s = (s + 1) & (cap - 1);
    slots[s] = i + 1;
  }
  free(g_agg);
  g_agg = slots;
  g_agg_cap = cap;
}

static void add(uint32_t metric, double v, const lf_str_t *l, size_t n) {
  if (g_agg_n * 2 >= g_agg_cap) agg_rehash();
  uint32_t s = hash_labels(metric, l, n) & (g_agg_cap - 1);
  for (;;) {
    uint32_t i = g_agg[s];
    if (i == 0) break;
    lightfoot_decoder_types_metric_update_t *u = &g_out->metrics.ptr[i - 1];
    if (u->metric == metric && same_labels(u, l, n)) {
      u->value += v;
      return;
    }
    s = (s + 1) & (g_agg_cap - 1);
  }
  lf_out_metric(g_out, metric, LF_ADD, v, l, n);
  g_agg[s] = (uint32_t)g_out->metrics.len;
  g_agg_n++;
}

void rep_begin(void *out, bool logs) {
  g_out = out;
  g_logs = logs;
  g_agg_n = 0;
  if (g_agg) memset(g_agg, 0, g_agg_cap * sizeof *g_agg);
}

void rep_end(void) {
  g_out = NULL;
  if (g_agg_cap > 4096) { /* a huge call: do not keep its table */
    free(g_agg);
    g_agg = NULL;
    g_agg_cap = 0;
  }
}

/* ---- names ---- */

static const char *const FRAME_NAMES[FT_N] = {"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
                                               "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"};
static const char *const ERROR_NAMES[] = {"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
                                          "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
                                          "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
                                          "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
static const char *const GRPC_CODES[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                         "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                         "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
                                         "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

static const char *error_name(uint32_t e) {
  return e < sizeof ERROR_NAMES / sizeof ERROR_NAMES[0] ? ERROR_NAMES[e] : "UNKNOWN_CODE";
}

/* gRPC's mapping of a stream reset to a status (grpc PROTOCOL-HTTP2.md, "Errors"). */
static int grpc_status_of_reset(uint32_t e) {
  switch (e) {
    case 7: return 14;  /* REFUSED_STREAM -> UNAVAILABLE */
    case 8: return 1;   /* CANCEL -> CANCELLED */
    case 11: return 8;  /* ENHANCE_YOUR_CALM -> RESOURCE_EXHAUSTED */
    case 12: return 7;  /* INADEQUATE_SECURITY -> PERMISSION_DENIED */
    default: return 13; /* the others -> INTERNAL */
  }
}

const char *side_name(const h2conn_t *c) {
  return c->client_dir == 0 ? "client" : c->client_dir == 1 ? "server" : "unknown";
}

/* ---- targets: the server endpoint of a connection, with its route cap ---- */

#define TARGETS 1024u
#define ROUTES_PER_TARGET 64u
#define RPCS_PER_TARGET 128u
typedef struct {
  uint32_t key; /* 0 = free */
  uint16_t nroutes, nrpcs;
  uint32_t routes[ROUTES_PER_TARGET];
  uint32_t rpcs[RPCS_PER_TARGET];
} target_t;
static target_t g_targets[TARGETS];

typedef struct {
  char addr[48], port[8];
  lf_str_t address, portv; /* server_address, server_port */
  bool have;
} endpoint_t;

static void endpoint_of(const h2conn_t *c, endpoint_t *e) {
  const tuple_t *t = tuple_get(c->cookie);
  e->have = t != NULL && c->client_dir >= 0;
  if (!e->have) {
    e->address = lf_str("unknown");
    e->portv = lf_str("unknown");
    return;
  }
  bool client = c->client_dir == 0;
  /* the server's address: the remote one for a client, the local one for a server */
  size_t n = lf_fmt_ip(e->addr, t->family, client ? t->daddr : t->saddr);
  e->address = lf_strn(e->addr, n);
  n = lf_fmt_u64(e->port, client ? t->dport : t->sport);
  e->portv = lf_strn(e->port, n);
}

static uint32_t fnv(const void *p, size_t n, uint32_t h) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
  return h;
}

static target_t *target_of(const h2conn_t *c, const endpoint_t *e) {
  uint32_t key = fnv(side_name(c), 6, 2166136261u);
  key = fnv(e->address.ptr, e->address.len, key);
  key = fnv(e->portv.ptr, e->portv.len, key) | 1u;
  uint32_t s = key & (TARGETS - 1);
  for (uint32_t i = 0; i < TARGETS; i++, s = (s + 1) & (TARGETS - 1)) {
    if (g_targets[s].key == key) return &g_targets[s];
    if (g_targets[s].key == 0) {
      g_targets[s].key = key;
      return &g_targets[s];
    }
  }
  return NULL; /* too many targets: everything goes to _other_ */
}

/* Admits a value into a per-target set of at most cap hashes. */
static bool admit(uint32_t *set, uint16_t *n, uint32_t cap, uint32_t h) {
  for (uint32_t i = 0; i < *n; i++)
    if (set[i] == h) return true;
  if (*n >= cap) return false;
  set[(*n)++] = h;
  return true;
}

/* The route template of a path: query dropped, numeric, hex and long segments collapsed. */
static size_t template_path(const char *p, size_t n, char *out, size_t cap) {
  size_t o = 0, i = 0;
  for (size_t q = 0; q < n; q++)
    if (p[q] == '?' || p[q] == '#') { n = q; break; }
  if (n == 0 || p[0] != '/') {
    memcpy(out, "_other_", 7);
    return 7;
  }
  while (i < n) {
    size_t j = i + 1;
    while (j < n && p[j] != '/') j++;
    const char *seg = p + i + 1;
    size_t sl = j - i - 1;
    bool digits = sl > 0, hex = sl >= 8, has_digit = false;
    for (size_t k = 0; k < sl; k++) {
      char ch = seg[k];
      bool d = ch >= '0' && ch <= '9';
      has_digit |= d;
      if (!d) digits = false;
      if (!(d || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == '-')) hex = false;
    }
    const char *rep = NULL;
    size_t rl = sl;
    if (digits) rep = "{id}", rl = 4;
    else if (hex && has_digit) rep = "{hex}", rl = 5;
    else if (sl > 40) rep = "{long}", rl = 6;
    if (o + 1 + rl > cap) break;
    out[o++] = '/';
    memcpy(out + o, rep ? rep : seg, rl);
    o += rl;
    i = j;
  }
  return o;
}

/* "/pkg.Service/Method" -> service, method. */
static bool grpc_split(const h2stream_t *s, lf_str_t *svc, lf_str_t *meth) {
  if (s->path_st != FS_KNOWN || s->path_trunc || s->path_len < 4 || s->path[0] != '/') return false;
  const char *slash = memchr(s->path + 1, '/', s->path_len - 1);
  if (!slash || slash == s->path + 1 || slash == s->path + s->path_len - 1) return false;
  if (memchr(slash + 1, '/', (size_t)(s->path + s->path_len - slash - 1))) return false;
  *svc = lf_strn(s->path + 1, (size_t)(slash - s->path - 1));
  *meth = lf_strn(slash + 1, (size_t)(s->path + s->path_len - slash - 1));
  return true;
}

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

static lf_str_t method_label(const h2stream_t *s) {
  if (s->method_st == FS_UNKNOWN) return lf_str("unknown");
  if (s->method_st != FS_KNOWN) return lf_str("_OTHER");
  for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
    if (strlen(METHODS[i]) == s->method_len && memcmp(METHODS[i], s->method, s->method_len) == 0) return lf_str(METHODS[i]);
  return lf_str("_OTHER");
}

/* ---- event lines ---- */

static void log_tuple(lf_log_t *ev, const h2conn_t *c) {
  const tuple_t *t = tuple_get(c->cookie);
  lf_log_str(ev, "side", lf_str(side_name(c)));
  lf_log_str(ev, "transport", lf_str(c->src == SRC_TLS ? "tls" : "tcp"));
  if (!t) return;
  char buf[48];
  lf_log_uint(ev, "pid", t->tgid);
  lf_log_str(ev, "comm", lf_strn(buf, lf_comm_utf8(buf, t->comm)));
  lf_log_str(ev, "local", lf_strn(buf, lf_fmt_endpoint(buf, t->family, t->saddr, t->sport)));
  lf_log_str(ev, "remote", lf_strn(buf, lf_fmt_endpoint(buf, t->family, t->daddr, t->dport)));
}

static void log_stream_names(lf_log_t *ev, const h2stream_t *s) {
  lf_str_t svc, meth;
  if (s->is_grpc && grpc_split(s, &svc, &meth)) {
    lf_log_str(ev, "rpcService", svc);
    lf_log_str(ev, "rpcMethod", meth);
  } else if (s->path_st == FS_KNOWN) {
    char route[H2_PATH_MAX];
    lf_log_str(ev, "method", method_label(s));
    lf_log_str(ev, "route", lf_strn(route, template_path(s->path, s->path_len, route, sizeof route)));
  }
}

/* ---- reports ---- */

void rep_frame(uint8_t type, uint8_t dir) {
  lf_str_t l[2] = {lf_str(type < FT_N ? FRAME_NAMES[type] : "unknown"), lf_str(dir ? "received" : "sent")};
  add(M_FRAMES, 1, l, 2);
}

void rep_connection(h2conn_t *c) {
  if (c->announced) return;
  c->announced = 1;
  lf_str_t l[3] = {lf_str(side_name(c)), lf_str(c->midstream ? "midstream" : "preface"), lf_str(c->src == SRC_TLS ? "tls" : "h2c")};
  add(M_CONNECTIONS, 1, l, 3);
  lf_out_annotate(g_out, c->cookie, "protocol", lf_str(c->src == SRC_TLS ? "h2" : "h2c"));
}

void rep_resync(const char *reason) {
  lf_str_t l = lf_str(reason);
  add(M_RESYNCS, 1, &l, 1);
}

void rep_abandon(h2conn_t *c, const char *reason) {
  if (!c->is_h2 && strcmp(reason, "not_h2") == 0) {
    lf_str_t l[2] = {lf_str(reason), lf_str(c->src == SRC_TLS ? "tls" : "h2c")};
    add(M_NOT_H2, 1, l, 2);
    return;
  }
  lf_str_t l = lf_str(reason);
  add(M_ABANDONED, 1, &l, 1);
}

void rep_unknown(const char *field) {
  lf_str_t l = lf_str(field);
  add(M_UNKNOWN_FIELDS, 1, &l, 1);
}

void rep_oversized(const char *reason) {
  lf_str_t l = lf_str(reason);
  add(M_LIMITED, 1, &l, 1);
}

void rep_stream_start(h2conn_t *c) {
  lf_str_t l = lf_str(side_name(c));
  add(M_STREAMS_STARTED, 1, &l, 1);
}

void rep_tracked(uint32_t n) { lf_out_metric(g_out, M_TRACKED, LF_SET, (double)n, NULL, 0); }

void rep_ping(h2conn_t *c, bool local, double rtt) {
  lf_str_t l[2] = {lf_str(side_name(c)), lf_str(local ? "local" : "peer")};
  lf_out_metric(g_out, M_PING_RTT, LF_OBSERVE, rtt, l, 2);
}

void rep_reset(h2conn_t *c, uint32_t stream, uint32_t err, bool local, h2stream_t *s, uint64_t ts) {
  lf_str_t l[3] = {lf_str(side_name(c)), lf_str(error_name(err)), lf_str(local ? "local" : "peer")};
  add(M_RESETS, 1, l, 3);
  if (!g_logs) return;
  lf_log_t *ev = lf_out_log(g_out, LF_INFO, "stream-reset", c->cookie);
  lf_log_uint(ev, "stream", stream);
  lf_log_str(ev, "errorCode", lf_str(error_name(err)));
  lf_log_uint(ev, "errorCodeValue", err);
  lf_log_str(ev, "sender", lf_str(local ? "local" : "peer"));
  if (s) log_stream_names(ev, s);
  log_tuple(ev, c);
  if (ts) lf_log_uint(ev, "tsNs", ts);
}

void rep_goaway(h2conn_t *c, uint32_t last, uint32_t err, uint32_t debug_len, bool local, uint64_t ts) {
  lf_str_t l[3] = {lf_str(side_name(c)), lf_str(error_name(err)), lf_str(local ? "local" : "peer")};
  add(M_GOAWAYS, 1, l, 3);
  if (!g_logs) return;
  lf_log_t *ev = lf_out_log(g_out, LF_INFO, "goaway", c->cookie);
  lf_log_uint(ev, "lastStreamId", last);
  lf_log_str(ev, "errorCode", lf_str(error_name(err)));
  lf_log_uint(ev, "errorCodeValue", err);
  lf_log_uint(ev, "debugDataLength", debug_len); /* never the debug bytes */
  lf_log_str(ev, "sender", lf_str(local ? "local" : "peer"));
  log_tuple(ev, c);
  if (ts) lf_log_uint(ev, "tsNs", ts);
}

void rep_settings(h2conn_t *c, uint8_t dir, const uint8_t *p, uint32_t n, uint64_t ts) {
  if (!g_logs) return;
  static const char *const NAMES[] = {NULL, "headerTableSize", "enablePush", "maxConcurrentStreams",
                                      "initialWindowSize", "maxFrameSize", "maxHeaderListSize"};
  lf_log_t *ev = lf_out_log(g_out, LF_DEBUG, "settings", c->cookie);
  lf_log_str(ev, "sender", lf_str(dir == 0 ? "local" : "peer"));
  for (uint32_t i = 0; i + 6 <= n && ev->fields.len < 24; i += 6) {
    uint16_t id = (uint16_t)((p[i] << 8) | p[i + 1]);
    uint32_t v = ((uint32_t)p[i + 2] << 24) | ((uint32_t)p[i + 3] << 16) | ((uint32_t)p[i + 4] << 8) | p[i + 5];
    if (id >= 1 && id <= 6) lf_log_uint(ev, NAMES[id], v);
  }
  log_tuple(ev, c);
  if (ts) lf_log_uint(ev, "tsNs", ts);
}

static void observe(h2conn_t *c, h2stream_t *s, bool reset, uint32_t err);

/* Streams that ended before the tcp probe's record of their socket arrived
 * (payload and events travel in separate rings): their labels and event lines
 * wait a few calls for the server address and process. */
#define DEFER_MAX 256u
#define DEFER_CALLS 3u
typedef struct {
  h2stream_t s;
  uint64_t cookie;
  uint32_t err;
  uint8_t src, reset, age;
  int8_t client_dir;
} deferred_t;
static deferred_t g_def[DEFER_MAX];
static uint32_t g_ndef;

static void emit_deferred(uint32_t i) {
  deferred_t *d = &g_def[i];
  h2conn_t tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.cookie = d->cookie;
  tmp.src = d->src;
  tmp.client_dir = d->client_dir;
  observe(&tmp, &d->s, d->reset, d->err);
  g_def[i] = g_def[--g_ndef];
}

void rep_flush_deferred(bool all) {
  for (uint32_t i = 0; i < g_ndef;) {
    deferred_t *d = &g_def[i];
    if (all || ++d->age >= DEFER_CALLS || tuple_get(d->cookie)) emit_deferred(i);
    else i++;
  }
}

void rep_flush_cookie(uint64_t cookie) {
  for (uint32_t i = 0; i < g_ndef;) {
    if (g_def[i].cookie == cookie) emit_deferred(i);
    else i++;
  }
}

void rep_stream_end(h2conn_t *c, h2stream_t *s, bool reset, uint32_t err, bool local) {
  lf_str_t side = lf_str(side_name(c));
  lf_str_t outcome = lf_str(err == ERR_ABANDONED ? "abandoned" : reset ? "reset" : "complete");
  lf_str_t l2[2] = {side, outcome};
  add(M_STREAMS, 1, l2, 2);
  if (err == ERR_ABANDONED) return;
  (void)local;
  if (!tuple_get(c->cookie) && c->src == SRC_TCP) {
    if (g_ndef >= DEFER_MAX) emit_deferred(0);
    deferred_t *d = &g_def[g_ndef++];
    d->s = *s;
    d->cookie = c->cookie;
    d->err = err;
    d->src = c->src;
    d->reset = reset;
    d->age = 0;
    d->client_dir = c->client_dir;
    return;
  }
  observe(c, s, reset, err);
}

static void observe(h2conn_t *c, h2stream_t *s, bool reset, uint32_t err) {
  if (s->method_st == FS_UNKNOWN) rep_unknown("method");
  if (s->path_st == FS_UNKNOWN) rep_unknown("path");
  bool grpc = s->is_grpc;
  if (s->grpc_st == FS_UNKNOWN && !grpc) {
    /* we cannot tell gRPC from plain HTTP: only the counters above */
    rep_unknown("content_type");
    return;
  }
  double dur = s->t_start && s->t_end >= s->t_start ? (double)(s->t_end - s->t_start) / 1e9 : -1;
  endpoint_t e;
  endpoint_of(c, &e);
  target_t *tg = target_of(c, &e);
  bool client = c->client_dir == 0;
  if (grpc) {
    lf_str_t svc = lf_str("unknown"), meth = lf_str("unknown");
    if (s->path_st == FS_KNOWN) {
      if (!grpc_split(s, &svc, &meth)) svc = meth = lf_str("_other_");
      else {
        uint32_t h = fnv(s->path, s->path_len, 2166136261u);
        if (!tg || !admit(tg->rpcs, &tg->nrpcs, RPCS_PER_TARGET, h)) svc = meth = lf_str("_other_");
      }
    }
    int code = -1;
    if (s->gstatus_st == FS_KNOWN) code = s->grpc_status;
    else if (reset) code = grpc_status_of_reset(err);
    char cb[21];
    lf_str_t codev = code >= 0 ? lf_u64_str(cb, (uint64_t)code) : lf_str("unknown");
    if (code < 0) rep_unknown("grpc_status");
    if (dur >= 0) {
      lf_str_t l[6] = {lf_str("grpc"), svc, meth, codev, client ? e.address : e.portv, e.portv};
      if (client) lf_out_metric(g_out, M_RPC_CLIENT, LF_OBSERVE, dur, l, 6);
      else lf_out_metric(g_out, M_RPC_SERVER, LF_OBSERVE, dur, l, 5);
    }
    if (g_logs && code != 0) {
      lf_log_t *ev = lf_out_log(g_out, LF_INFO, "rpc-failed", c->cookie);
      lf_log_uint(ev, "stream", s->id);
      lf_log_str(ev, "rpcService", svc);
      lf_log_str(ev, "rpcMethod", meth);
      if (code >= 0) {
        lf_log_uint(ev, "grpcStatus", (uint64_t)code);
        if ((size_t)code < sizeof GRPC_CODES / sizeof GRPC_CODES[0]) lf_log_str(ev, "grpcCode", lf_str(GRPC_CODES[code]));
      } else {
        lf_log_str(ev, "grpcStatus", lf_str("unknown"));
      }
      if (reset) lf_log_str(ev, "resetCode", lf_str(error_name(err)));
      if (s->msg_st == FS_KNOWN) lf_log_str(ev, "grpcMessage", lf_strn(s->msg, s->msg_len)); /* capped at H2_MSG_MAX */
      if (dur >= 0) lf_log_float(ev, "durationMs", dur * 1e3);
      log_tuple(ev, c);
      if (s->t_end) lf_log_uint(ev, "tsNs", s->t_end);
    }
    return;
  }
  if (reset || dur < 0) return; /* no response: counted in streams/resets */
  char route[H2_PATH_MAX + 8];
  lf_str_t routev = lf_str("unknown");
  if (s->path_st == FS_KNOWN) {
    size_t rn = template_path(s->path, s->path_len, route, sizeof route);
    uint32_t h = fnv(route, rn, 2166136261u);
    routev = tg && admit(tg->routes, &tg->nroutes, ROUTES_PER_TARGET, h) ? lf_strn(route, rn) : lf_str("_other_");
  }
  char sb[4];
  lf_str_t status = lf_str("unknown");
  if (s->status_st == FS_KNOWN) {
    sb[0] = (char)('0' + s->status / 100 % 10), sb[1] = (char)('0' + s->status / 10 % 10), sb[2] = (char)('0' + s->status % 10);
    status = lf_strn(sb, 3);
  } else if (s->status_st == FS_UNKNOWN) {
    rep_unknown("status");
  }
  if (client) {
    lf_str_t l[5] = {method_label(s), status, routev, e.address, e.portv};
    lf_out_metric(g_out, M_HTTP_CLIENT, LF_OBSERVE, dur, l, 5);
  } else {
    lf_str_t l[4] = {method_label(s), status, routev, e.portv};
    lf_out_metric(g_out, M_HTTP_SERVER, LF_OBSERVE, dur, l, 4);
  }
}
