/* lf_out.h — builds describe()/decode() results with the wit-bindgen C types.
 *
 * Usage: include AFTER the generated "decoder_plugin.h". In describe():
 *   lf_info_init(ret, "my-decoder", "0.1.0");
 *   lf_info_subscribe(ret, "tcp", NULL, 0, true);
 *   uint32_t M_REQ = lf_info_metric(ret, "lightfoot_x_total", LF_COUNTER, "help", (const char*[]){"method"}, 1, NULL, 0);
 * In decode(batch, ret, err): `lf_out_init(ret)`, then
 *   lf_out_metric(ret, M_REQ, LF_ADD, 1, (lf_str_t[]){lf_str("GET")}, 1);
 *   lf_log_t *ev = lf_out_log(ret, LF_INFO, "open", conn); lf_log_str(ev, "peer", lf_str("10.0.0.1"));
 *   lf_out_annotate(ret, conn, "protocol", lf_str("http1")); lf_out_stream(ret, conn, dir, consumed);
 * and `return true`; or `return lf_err_malformed(err, "why")` (false). Finish with
 * lf_batch_free(batch): the guest owns the batch list the host passed in.
 * Why every string is copied: the generated post-return frees every non-empty
 * string and list with free(), so nothing in a result may point at static data
 * or into the batch. Lists grow by doubling; allocation failure traps (the host
 * reports it as a fault) instead of writing through NULL, which wasm allows.
 */
#ifndef LF_OUT_H
#define LF_OUT_H

#include <stdlib.h>
#include <string.h>
#include "lf_msgpack.h"

/* World-prefixed types of the generated bindings (decoder-plugin by default). */
#ifndef LF_WORLD
#define LF_WORLD decoder_plugin
#endif
#define LF_CAT_(a, b) a##b
#define LF_CAT(a, b) LF_CAT_(a, b)
typedef LF_CAT(LF_WORLD, _string_t) lf_wstring_t;
typedef LF_CAT(LF_WORLD, _list_string_t) lf_wlist_string_t;

typedef lightfoot_decoder_types_decoder_info_t lf_info_t;
typedef lightfoot_decoder_types_decode_output_t lf_output_t;
typedef lightfoot_decoder_types_decode_error_t lf_error_t;
typedef lightfoot_decoder_types_log_event_t lf_log_t;

#define LF_COUNTER LIGHTFOOT_DECODER_TYPES_METRIC_KIND_COUNTER
#define LF_GAUGE LIGHTFOOT_DECODER_TYPES_METRIC_KIND_GAUGE
#define LF_HISTOGRAM LIGHTFOOT_DECODER_TYPES_METRIC_KIND_HISTOGRAM
#define LF_ADD LIGHTFOOT_DECODER_TYPES_UPDATE_OP_ADD
#define LF_SET LIGHTFOOT_DECODER_TYPES_UPDATE_OP_SET
#define LF_OBSERVE LIGHTFOOT_DECODER_TYPES_UPDATE_OP_OBSERVE
#define LF_DEBUG LIGHTFOOT_DECODER_TYPES_LOG_LEVEL_DEBUG
#define LF_INFO LIGHTFOOT_DECODER_TYPES_LOG_LEVEL_INFO
#define LF_WARN LIGHTFOOT_DECODER_TYPES_LOG_LEVEL_WARN
#define LF_ERROR LIGHTFOOT_DECODER_TYPES_LOG_LEVEL_ERROR

/* A borrowed string: a C string (lf_str) or bytes (lf_strn, e.g. from a span). */
typedef lf_span_t lf_str_t;
static inline lf_str_t lf_str(const char *s) { lf_str_t r = {(const uint8_t *)s, (uint32_t)strlen(s)}; return r; }
static inline lf_str_t lf_strn(const void *p, size_t n) { lf_str_t r = {(const uint8_t *)p, (uint32_t)n}; return r; }

/* Decimal text of v in buf (no snprintf: stdio pulls in WASI imports). */
static inline lf_str_t lf_u64_str(char buf[21], uint64_t v) {
  char *p = buf + 21;
  do { *--p = (char)('0' + v % 10); v /= 10; } while (v);
  return lf_strn(p, (size_t)(buf + 21 - p));
}

static inline void *lf_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL && n != 0) __builtin_trap();
  return q;
}

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when invalid. */
static inline size_t lf_utf8_seq(const uint8_t *p, size_t n) {
  uint8_t c = p[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1fu; }
  else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0fu; }
  else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07u; }
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3fu);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  return len;
}

/* Owned copy of s; empty strings stay {NULL, 0} (post-return frees only len > 0).
 * Invalid UTF-8 bytes become '?': the host refuses a string that is not UTF-8,
 * and decoders copy network bytes into labels and fields. */
static inline lf_wstring_t lf_dup(lf_str_t s) {
  lf_wstring_t r = {NULL, 0};
  if (s.len == 0) return r;
  r.ptr = (uint8_t *)lf_xrealloc(NULL, s.len);
  for (size_t i = 0; i < s.len;) {
    size_t k = lf_utf8_seq(s.ptr + i, s.len - i);
    if (k == 0) { r.ptr[i++] = '?'; continue; }
    memcpy(r.ptr + i, s.ptr + i, k);
    i += k;
  }
  r.len = s.len;
  return r;
}

/* Grows a list so one more element fits. Capacity is the next power of two of
 * len, so no separate capacity field is needed (the WIT list has none). */
static inline void *lf_grow_(void *ptr, size_t len, size_t elem) {
  if (len == 0) return lf_xrealloc(ptr, 4 * elem);
  if (len < 4 || (len & (len - 1)) != 0) return ptr; /* capacity max(4, pow2 >= len): room left */
  return lf_xrealloc(ptr, 2 * len * elem);
}
#define LF_PUSH(list, T) \
  ((list).ptr = (T *)lf_grow_((list).ptr, (list).len, sizeof(T)), &(list).ptr[(list).len++])

static inline lf_wlist_string_t lf_dup_strs(const lf_str_t *v, size_t n) {
  lf_wlist_string_t r = {NULL, 0};
  if (n == 0) return r;
  r.ptr = (lf_wstring_t *)lf_xrealloc(NULL, n * sizeof(lf_wstring_t));
  for (size_t i = 0; i < n; i++) r.ptr[i] = lf_dup(v[i]);
  r.len = n;
  return r;
}

/* ---- describe() ---- */

static inline void lf_info_init(lf_info_t *info, const char *name, const char *version) {
  memset(info, 0, sizeof *info);
  info->name = lf_dup(lf_str(name));
  info->version = lf_dup(lf_str(version));
}

/* kinds: record kinds wanted (NULL/0 = all); streams: also get payload streams. */
static inline void lf_info_subscribe(lf_info_t *info, const char *probe, const uint8_t *kinds, size_t nkinds, bool streams) {
  lightfoot_decoder_types_subscription_t *s = LF_PUSH(info->subscriptions, lightfoot_decoder_types_subscription_t);
  memset(s, 0, sizeof *s);
  s->probe = lf_dup(lf_str(probe));
  if (nkinds) {
    s->kinds.ptr = (uint8_t *)lf_xrealloc(NULL, nkinds);
    memcpy(s->kinds.ptr, kinds, nkinds);
    s->kinds.len = nkinds;
  }
  s->streams = streams;
}

/* Declares a metric; returns its index for lf_out_metric(). */
static inline uint32_t lf_info_metric(lf_info_t *info, const char *name, uint8_t kind, const char *help,
                                      const char *const *labels, size_t nlabels, const double *buckets, size_t nbuckets) {
  lightfoot_decoder_types_metric_decl_t *m = LF_PUSH(info->metrics, lightfoot_decoder_types_metric_decl_t);
  memset(m, 0, sizeof *m);
  m->name = lf_dup(lf_str(name));
  m->kind = kind;
  m->help = lf_dup(lf_str(help));
  if (nlabels) {
    m->labels.ptr = (lf_wstring_t *)lf_xrealloc(NULL, nlabels * sizeof(lf_wstring_t));
    for (size_t i = 0; i < nlabels; i++) m->labels.ptr[i] = lf_dup(lf_str(labels[i]));
    m->labels.len = nlabels;
  }
  if (nbuckets) {
    m->buckets.ptr = (double *)lf_xrealloc(NULL, nbuckets * sizeof(double));
    memcpy(m->buckets.ptr, buckets, nbuckets * sizeof(double));
    m->buckets.len = nbuckets;
  }
  return (uint32_t)(info->metrics.len - 1);
}

/* ---- decode() ---- */

static inline void lf_out_init(lf_output_t *out) { memset(out, 0, sizeof *out); }

static inline void lf_out_metric(lf_output_t *out, uint32_t metric, uint8_t op, double value, const lf_str_t *labels, size_t nlabels) {
  lightfoot_decoder_types_metric_update_t *u = LF_PUSH(out->metrics, lightfoot_decoder_types_metric_update_t);
  u->metric = metric;
  u->labels = lf_dup_strs(labels, nlabels);
  u->op = op;
  u->value = value;
}

/* Appends a log event; add fields with lf_log_* on the returned pointer (valid
 * until the next lf_out_log, which may move the list). */
static inline lf_log_t *lf_out_log(lf_output_t *out, uint8_t level, const char *message, uint64_t connection) {
  lf_log_t *ev = LF_PUSH(out->logs, lf_log_t);
  memset(ev, 0, sizeof *ev);
  ev->level = level;
  ev->message = lf_dup(lf_str(message));
  ev->connection = connection;
  return ev;
}

static inline lightfoot_decoder_types_field_t *lf_log_field_(lf_log_t *ev, const char *key, uint8_t tag) {
  lightfoot_decoder_types_field_t *f = LF_PUSH(ev->fields, lightfoot_decoder_types_field_t);
  memset(f, 0, sizeof *f);
  f->key = lf_dup(lf_str(key));
  f->value.tag = tag;
  return f;
}
static inline void lf_log_str(lf_log_t *ev, const char *key, lf_str_t v) {
  lf_log_field_(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_STR)->value.val.str = lf_dup(v);
}
static inline void lf_log_int(lf_log_t *ev, const char *key, int64_t v) {
  lf_log_field_(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_INT)->value.val.int_ = v;
}
static inline void lf_log_uint(lf_log_t *ev, const char *key, uint64_t v) {
  lf_log_field_(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_UINT)->value.val.uint = v;
}
static inline void lf_log_float(lf_log_t *ev, const char *key, double v) {
  lf_log_field_(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_FLOAT)->value.val.float_ = v;
}
static inline void lf_log_bool(lf_log_t *ev, const char *key, bool v) {
  lf_log_field_(ev, key, LIGHTFOOT_DECODER_TYPES_FIELD_VALUE_BOOLEAN)->value.val.boolean = v;
}

static inline void lf_out_annotate(lf_output_t *out, uint64_t connection, const char *key, lf_str_t value) {
  lightfoot_decoder_types_annotation_t *a = LF_PUSH(out->annotations, lightfoot_decoder_types_annotation_t);
  a->connection = connection;
  a->key = lf_dup(lf_str(key));
  a->value = lf_dup(value);
}

/* Tells the host how many bytes of this stream's data were consumed; it keeps
 * the rest. Report every segment you were given: a stream left out counts
 * as consumed = 0 and the host keeps (and resends) all of it. */
static inline void lf_out_stream(lf_output_t *out, uint64_t connection, uint8_t direction, uint32_t consumed) {
  lightfoot_decoder_types_stream_progress_t *p = LF_PUSH(out->streams, lightfoot_decoder_types_stream_progress_t);
  p->connection = connection;
  p->direction = direction;
  p->consumed = consumed;
}

/* Discards a half-built output (on error paths): the host never sees it. */
static inline void lf_out_discard(lf_output_t *out) {
  lightfoot_decoder_types_decode_output_free(out);
  lf_out_init(out);
}

static inline bool lf_err_(lf_error_t *err, uint8_t tag, const char *msg) {
  err->tag = tag;
  err->val.malformed = lf_dup(lf_str(msg));
  return false;
}
/* `return lf_err_malformed(err, "…")` from decode(): result is err(malformed). */
static inline bool lf_err_malformed(lf_error_t *err, const char *msg) {
  return lf_err_(err, LIGHTFOOT_DECODER_TYPES_DECODE_ERROR_MALFORMED, msg);
}
static inline bool lf_err_unsupported(lf_error_t *err, const char *msg) {
  return lf_err_(err, LIGHTFOOT_DECODER_TYPES_DECODE_ERROR_UNSUPPORTED, msg);
}

/* The batch list belongs to the guest once decode() is called: free it. */
#define lf_batch_free(batch) LF_CAT(LF_WORLD, _list_u8_free)(batch)

#endif /* LF_OUT_H */
