// HTTP/1.x framing (see http1.h). Lines end with LF (CR optional). Anything that
// does not parse sends the stream to RESYNC rather than guessing.
#include "http1.h"
#include <string.h>

static bool is_tchar(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static size_t trim_cr(const uint8_t *line, size_t n) { return n > 0 && line[n - 1] == '\r' ? n - 1 : n; }

// `HTTP/1.x SP 3DIGIT ...` or `METHOD SP target SP HTTP/1.x`.
static bool parse_start(const uint8_t *l, size_t n, http1_start_t *st) {
  memset(st, 0, sizeof *st);
  if (n >= 12 && memcmp(l, "HTTP/1.", 7) == 0 && l[8] == ' ' && l[9] >= '1' && l[9] <= '5' &&
      l[10] >= '0' && l[10] <= '9' && l[11] >= '0' && l[11] <= '9' && (n == 12 || l[12] == ' ')) {
    st->is_response = true;
    st->status = (unsigned)(l[9] - '0') * 100 + (unsigned)(l[10] - '0') * 10 + (unsigned)(l[11] - '0');
    return true;
  }
  size_t m = 0;
  while (m < n && m < 16 && l[m] >= 'A' && l[m] <= 'Z') m++;
  if (m == 0 || m >= n || l[m] != ' ') return false;
  const uint8_t *sp = memchr(l + m + 1, ' ', n - m - 1);
  if (!sp || sp == l + m + 1) return false;
  size_t vlen = (size_t)(l + n - (sp + 1));
  if (vlen != 8 || memcmp(sp + 1, "HTTP/1.", 7) != 0) return false;
  st->method = l;
  st->method_len = m;
  st->target = l + m + 1;
  st->target_len = (size_t)(sp - (l + m + 1));
  return true;
}

static bool header_is(const uint8_t *l, size_t n, const char *name, const uint8_t **value, size_t *vlen) {
  size_t k = strlen(name);
  if (n <= k || l[k] != ':') return false;
  for (size_t i = 0; i < k; i++) {
    uint8_t c = l[i];
    if (c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
    if (c != (uint8_t)name[i]) return false;
  }
  size_t i = k + 1;
  while (i < n && (l[i] == ' ' || l[i] == '\t')) i++;
  *value = l + i;
  *vlen = n - i;
  return true;
}

static bool parse_uint(const uint8_t *p, size_t n, int base, uint64_t *out) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < n; i++) {
    uint8_t c = p[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
    else break;
    if (v > (UINT64_MAX - d) / (unsigned)base) return false;
    v = v * (unsigned)base + d;
  }
  if (i == 0) return false;
  *out = v;
  return true;
}

// End of headers: decide how the body is delimited.
static void headers_done(http1_stream_t *s) {
  if (s->is_response && s->no_body) s->state = H1_START;
  else if (s->chunked) s->state = H1_CHUNK_SIZE;
  else if (s->has_length) s->state = s->remaining ? H1_BODY : H1_START;
  else s->state = s->is_response ? H1_UNTIL_CLOSE : H1_START; // requests without length have no body
}

// One complete line (without LF). Returns false when the stream must resync.
static bool on_line(http1_stream_t *s, const uint8_t *l, size_t n, http1_on_start cb, void *ctx) {
  n = trim_cr(l, n);
  switch (s->state) {
    case H1_RESYNC:
    case H1_START: {
      http1_start_t st;
      if (n == 0 && s->state == H1_START) return true; // stray CRLF between messages
      if (!parse_start(l, n, &st)) return s->state == H1_RESYNC; // keep looking while resyncing
      s->is_response = st.is_response;
      s->chunked = s->has_length = false;
      s->remaining = 0;
      bool no_body = cb(ctx, &st);
      s->no_body = st.is_response && (no_body || st.status < 200 || st.status == 204 || st.status == 304);
      s->state = H1_HEADERS;
      return true;
    }
    case H1_HEADERS: {
      const uint8_t *v;
      size_t vl;
      if (n == 0) { headers_done(s); return true; }
      if (header_is(l, n, "content-length", &v, &vl)) {
        if (!parse_uint(v, vl, 10, &s->remaining)) return false;
        s->has_length = true;
      } else if (header_is(l, n, "transfer-encoding", &v, &vl)) {
        s->chunked = vl >= 7 && memcmp(v + vl - 7, "chunked", 7) == 0;
      }
      return true;
    }
    case H1_CHUNK_SIZE: {
      if (!parse_uint(l, n, 16, &s->remaining)) return false;
      if (s->remaining == 0) s->state = H1_TRAILERS;
      else { s->remaining += 2; s->state = H1_CHUNK_DATA; } // data + CRLF
      return true;
    }
    case H1_TRAILERS:
      if (n == 0) s->state = H1_START;
      return true;
    default:
      return false;
  }
}

size_t http1_feed(http1_stream_t *s, const uint8_t *data, size_t len, http1_on_start cb, void *ctx) {
  size_t pos = 0;
  while (pos < len) {
    if (s->state == H1_UNTIL_CLOSE) return len;
    if (s->state == H1_BODY || s->state == H1_CHUNK_DATA) {
      size_t take = (size_t)(s->remaining < len - pos ? s->remaining : len - pos);
      pos += take;
      s->remaining -= take;
      if (s->remaining == 0) s->state = s->state == H1_BODY ? H1_START : H1_CHUNK_SIZE;
      continue;
    }
    const uint8_t *lf = memchr(data + pos, '\n', len - pos);
    if (!lf) {
      // Incomplete line: keep it for the next segment unless it is absurdly long.
      if (len - pos > HTTP1_MAX_LINE || s->in_resync_line) {
        s->state = H1_RESYNC;
        s->in_resync_line = true;
        return len;
      }
      return pos;
    }
    size_t n = (size_t)(lf - (data + pos));
    if (s->state == H1_RESYNC && s->in_resync_line) {
      s->in_resync_line = false; // the tail of a line whose start was lost
    } else if (!on_line(s, data + pos, n, cb, ctx)) {
      s->state = H1_RESYNC;
    }
    pos += n + 1;
  }
  return pos;
}
