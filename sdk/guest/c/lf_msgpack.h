/* lf_msgpack.h — header-only, allocation-free msgpack reader for lightfoot decoders.
 *
 * Usage: `lf_mp_t mp; lf_mp_init(&mp, buf, len);` then pull values in the order
 * you expect them: lf_mp_read_map(&mp, &n), lf_mp_read_str(&mp, &span),
 * lf_mp_read_uint(&mp, &u), …; lf_mp_skip(&mp) skips any value (nested arrays
 * and maps included). Every read is bounds-checked and returns 0 on success or a
 * negative LF_MP_ERR_* code; the first error is sticky (mp.err), so a sequence of
 * reads can be checked once at the end. str/bin results are spans pointing INTO
 * the input buffer (no copies): they live as long as the buffer does. A read of
 * the wrong type fails with LF_MP_ERR_TYPE and does not advance the cursor, so
 * lf_mp_peek() + a typed read is a safe way to accept several types.
 */
#ifndef LF_MSGPACK_H
#define LF_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LF_MP_OK 0
#define LF_MP_ERR_EOF (-1)   /* value runs past the end of the buffer */
#define LF_MP_ERR_TYPE (-2)  /* value is not of the requested type */
#define LF_MP_ERR_RANGE (-3) /* integer does not fit the requested type */
#define LF_MP_ERR_BAD (-4)   /* 0xc1 (never used) or a value the caller rejected */

/* Value types, as returned by lf_mp_peek(). */
typedef enum {
  LF_MP_NIL = 1, LF_MP_BOOL, LF_MP_UINT, LF_MP_INT, LF_MP_FLOAT,
  LF_MP_STR, LF_MP_BIN, LF_MP_ARRAY, LF_MP_MAP, LF_MP_EXT
} lf_mp_type_t;

/* A byte range inside the input buffer. */
typedef struct {
  const uint8_t *ptr;
  uint32_t len;
} lf_span_t;

typedef struct {
  const uint8_t *start; /* for lf_mp_offset() */
  const uint8_t *p;     /* next byte to read */
  const uint8_t *end;   /* one past the last byte */
  int err;              /* first error, sticky; 0 while all is well */
} lf_mp_t;

static inline void lf_mp_init(lf_mp_t *mp, const uint8_t *buf, size_t len) {
  mp->start = buf;
  mp->p = buf;
  mp->end = buf + len;
  mp->err = LF_MP_OK;
}

/* Bytes consumed so far: where an error happened, for messages. */
static inline size_t lf_mp_offset(const lf_mp_t *mp) { return (size_t)(mp->p - mp->start); }
static inline size_t lf_mp_left(const lf_mp_t *mp) { return (size_t)(mp->end - mp->p); }
static inline bool lf_mp_at_end(const lf_mp_t *mp) { return mp->p >= mp->end; }

static inline int lf_mp_fail(lf_mp_t *mp, int code) {
  if (mp->err == LF_MP_OK) mp->err = code;
  return code;
}

/* True when the span holds exactly the NUL-terminated string s. */
static inline bool lf_span_eq(lf_span_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

static inline const char *lf_mp_strerror(int code) {
  switch (code) {
    case LF_MP_OK: return "ok";
    case LF_MP_ERR_EOF: return "truncated msgpack";
    case LF_MP_ERR_TYPE: return "unexpected msgpack type";
    case LF_MP_ERR_RANGE: return "integer out of range";
    default: return "invalid msgpack";
  }
}

/* Big-endian loads (msgpack is big-endian); callers have checked the bounds. */
static inline uint16_t lf_mp_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t lf_mp_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t lf_mp_be64(const uint8_t *p) {
  return ((uint64_t)lf_mp_be32(p) << 32) | lf_mp_be32(p + 4);
}

/* Type of the next value without consuming it; negative error at the end of
 * input or on the never-used 0xc1 byte. */
static inline int lf_mp_peek(lf_mp_t *mp) {
  if (mp->err) return mp->err;
  if (mp->p >= mp->end) return LF_MP_ERR_EOF;
  uint8_t b = *mp->p;
  if (b <= 0x7f) return LF_MP_UINT;
  if (b <= 0x8f) return LF_MP_MAP;
  if (b <= 0x9f) return LF_MP_ARRAY;
  if (b <= 0xbf) return LF_MP_STR;
  if (b >= 0xe0) return LF_MP_INT;
  switch (b) {
    case 0xc0: return LF_MP_NIL;
    case 0xc2: case 0xc3: return LF_MP_BOOL;
    case 0xc4: case 0xc5: case 0xc6: return LF_MP_BIN;
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return LF_MP_EXT;
    case 0xca: case 0xcb: return LF_MP_FLOAT;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return LF_MP_UINT;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: return LF_MP_INT;
    case 0xd9: case 0xda: case 0xdb: return LF_MP_STR;
    case 0xdc: case 0xdd: return LF_MP_ARRAY;
    case 0xde: case 0xdf: return LF_MP_MAP;
    default: return LF_MP_ERR_BAD; /* 0xc1 */
  }
}

/* Reads a big-endian length of `width` bytes after the tag byte (width 0: the
 * length is `inline_len`) and checks that `need_len` more bytes follow when the
 * caller reads them as payload. Advances past tag+length only on success. */
static inline int lf_mp_header(lf_mp_t *mp, unsigned width, uint32_t inline_len, bool payload, uint32_t *out) {
  size_t left = lf_mp_left(mp);
  if (left < 1u + width) return lf_mp_fail(mp, LF_MP_ERR_EOF);
  uint32_t n = inline_len;
  if (width == 1) n = mp->p[1];
  else if (width == 2) n = lf_mp_be16(mp->p + 1);
  else if (width == 4) n = lf_mp_be32(mp->p + 1);
  if (payload && (size_t)n > left - 1u - width) return lf_mp_fail(mp, LF_MP_ERR_EOF);
  mp->p += 1u + width;
  *out = n;
  return LF_MP_OK;
}

/* Map header: *n key/value pairs follow. */
static inline int lf_mp_read_map(lf_mp_t *mp, uint32_t *n) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t != LF_MP_MAP) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  uint8_t b = *mp->p;
  if (b <= 0x8f) return lf_mp_header(mp, 0, b & 0x0f, false, n);
  return lf_mp_header(mp, b == 0xde ? 2 : 4, 0, false, n);
}

/* Array header: *n values follow. */
static inline int lf_mp_read_array(lf_mp_t *mp, uint32_t *n) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t != LF_MP_ARRAY) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  uint8_t b = *mp->p;
  if (b <= 0x9f) return lf_mp_header(mp, 0, b & 0x0f, false, n);
  return lf_mp_header(mp, b == 0xdc ? 2 : 4, 0, false, n);
}

static inline int lf_mp_payload(lf_mp_t *mp, unsigned width, uint32_t inline_len, lf_span_t *s) {
  uint32_t n;
  int rc = lf_mp_header(mp, width, inline_len, true, &n);
  if (rc) return rc;
  s->ptr = mp->p;
  s->len = n;
  mp->p += n;
  return LF_MP_OK;
}

/* str: *s points into the buffer (not NUL-terminated; UTF-8 is not checked). */
static inline int lf_mp_read_str(lf_mp_t *mp, lf_span_t *s) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t != LF_MP_STR) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  uint8_t b = *mp->p;
  if (b <= 0xbf) return lf_mp_payload(mp, 0, b & 0x1f, s);
  return lf_mp_payload(mp, b == 0xd9 ? 1 : b == 0xda ? 2 : 4, 0, s);
}

/* bin: *s points into the buffer. */
static inline int lf_mp_read_bin(lf_mp_t *mp, lf_span_t *s) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t != LF_MP_BIN) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  uint8_t b = *mp->p;
  return lf_mp_payload(mp, b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4, 0, s);
}

/* Any integer encoding, as a sign flag and a magnitude-preserving 64-bit value. */
static inline int lf_mp_read_raw_int(lf_mp_t *mp, bool *neg, uint64_t *u) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t != LF_MP_UINT && t != LF_MP_INT) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  uint8_t b = *mp->p;
  size_t left = lf_mp_left(mp);
  unsigned w = 0;
  int64_t sv = 0;
  *neg = false;
  if (b <= 0x7f) { *u = b; mp->p += 1; return LF_MP_OK; }
  if (b >= 0xe0) { *neg = true; *u = (uint64_t)(int64_t)(int8_t)b; mp->p += 1; return LF_MP_OK; }
  switch (b) {
    case 0xcc: case 0xd0: w = 1; break;
    case 0xcd: case 0xd1: w = 2; break;
    case 0xce: case 0xd2: w = 4; break;
    default: w = 8; break; /* 0xcf, 0xd3 */
  }
  if (left < 1u + w) return lf_mp_fail(mp, LF_MP_ERR_EOF);
  const uint8_t *q = mp->p + 1;
  uint64_t raw = w == 1 ? q[0] : w == 2 ? lf_mp_be16(q) : w == 4 ? lf_mp_be32(q) : lf_mp_be64(q);
  if (b >= 0xd0) { /* signed: sign-extend from w bytes */
    sv = w == 1 ? (int8_t)raw : w == 2 ? (int16_t)raw : w == 4 ? (int32_t)raw : (int64_t)raw;
    *neg = sv < 0;
    raw = (uint64_t)sv;
  }
  *u = raw;
  mp->p += 1u + w;
  return LF_MP_OK;
}

/* Unsigned integer (any int encoding with a non-negative value). */
static inline int lf_mp_read_uint(lf_mp_t *mp, uint64_t *v) {
  lf_mp_t save = *mp;
  bool neg;
  uint64_t u;
  int rc = lf_mp_read_raw_int(mp, &neg, &u);
  if (rc) return rc;
  if (neg) { *mp = save; return lf_mp_fail(mp, LF_MP_ERR_RANGE); }
  *v = u;
  return LF_MP_OK;
}

/* Signed integer; a uint above INT64_MAX is LF_MP_ERR_RANGE. */
static inline int lf_mp_read_int(lf_mp_t *mp, int64_t *v) {
  lf_mp_t save = *mp;
  bool neg;
  uint64_t u;
  int rc = lf_mp_read_raw_int(mp, &neg, &u);
  if (rc) return rc;
  if (!neg && u > (uint64_t)INT64_MAX) { *mp = save; return lf_mp_fail(mp, LF_MP_ERR_RANGE); }
  *v = (int64_t)u;
  return LF_MP_OK;
}

/* float32/float64, or any integer converted to double. */
static inline int lf_mp_read_float(lf_mp_t *mp, double *v) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t == LF_MP_UINT || t == LF_MP_INT) {
    bool neg;
    uint64_t u;
    int rc = lf_mp_read_raw_int(mp, &neg, &u);
    if (rc) return rc;
    *v = neg ? (double)(int64_t)u : (double)u;
    return LF_MP_OK;
  }
  if (t != LF_MP_FLOAT) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  unsigned w = *mp->p == 0xca ? 4 : 8;
  if (lf_mp_left(mp) < 1u + w) return lf_mp_fail(mp, LF_MP_ERR_EOF);
  if (w == 4) {
    uint32_t bits = lf_mp_be32(mp->p + 1);
    float f;
    memcpy(&f, &bits, 4);
    *v = f;
  } else {
    uint64_t bits = lf_mp_be64(mp->p + 1);
    memcpy(v, &bits, 8);
  }
  mp->p += 1u + w;
  return LF_MP_OK;
}

static inline int lf_mp_read_bool(lf_mp_t *mp, bool *v) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t != LF_MP_BOOL) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  *v = *mp->p == 0xc3;
  mp->p += 1;
  return LF_MP_OK;
}

static inline int lf_mp_read_nil(lf_mp_t *mp) {
  int t = lf_mp_peek(mp);
  if (t < 0) return lf_mp_fail(mp, t);
  if (t != LF_MP_NIL) return lf_mp_fail(mp, LF_MP_ERR_TYPE);
  mp->p += 1;
  return LF_MP_OK;
}

/* Skips one complete value, containers included. Iterative (no recursion, so no
 * stack to exhaust on hostile nesting): `pending` counts values still to skip.
 * Each step consumes at least one byte, so it ends within len steps. */
static inline int lf_mp_skip(lf_mp_t *mp) {
  uint64_t pending = 1;
  while (pending > 0) {
    int t = lf_mp_peek(mp);
    if (t < 0) return lf_mp_fail(mp, t);
    uint8_t b = *mp->p;
    uint32_t n;
    lf_span_t s;
    int rc = LF_MP_OK;
    pending--;
    switch (t) {
      case LF_MP_NIL: case LF_MP_BOOL: mp->p += 1; break;
      case LF_MP_UINT: case LF_MP_INT: {
        bool neg;
        uint64_t u;
        rc = lf_mp_read_raw_int(mp, &neg, &u);
        break;
      }
      case LF_MP_FLOAT: {
        double d;
        rc = lf_mp_read_float(mp, &d);
        break;
      }
      case LF_MP_STR: rc = lf_mp_read_str(mp, &s); break;
      case LF_MP_BIN: rc = lf_mp_read_bin(mp, &s); break;
      case LF_MP_ARRAY: rc = lf_mp_read_array(mp, &n); pending += n; break;
      case LF_MP_MAP: rc = lf_mp_read_map(mp, &n); pending += 2ull * n; break;
      case LF_MP_EXT: {
        /* fixext 1/2/4/8/16 carry a type byte + fixed data; ext 8/16/32 a length first */
        if (b >= 0xd4) {
          uint32_t size = 1u << (b - 0xd4);
          rc = lf_mp_payload(mp, 0, size + 1u, &s);
        } else {
          rc = lf_mp_payload(mp, b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4, 0, &s);
          /* the type byte sits between the length and the data: one more byte */
          if (rc == LF_MP_OK) {
            if (lf_mp_left(mp) < 1) return lf_mp_fail(mp, LF_MP_ERR_EOF);
            mp->p += 1;
          }
        }
        break;
      }
      default: return lf_mp_fail(mp, LF_MP_ERR_BAD);
    }
    if (rc) return rc;
  }
  return LF_MP_OK;
}

#endif /* LF_MSGPACK_H */
