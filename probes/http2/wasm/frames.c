/* HTTP/2 framing (RFC 9113) per connection direction, and the stream lifecycle.
 *
 * A direction starts in D_NEW. The client preface makes the connection HTTP/2
 * with a known start (both HPACK tables known); otherwise the direction looks
 * for H2_SYNC_FRAMES consecutive plausible frames (D_SYNC) and starts there
 * with an unknown HPACK table. A `gap` or a protocol violation goes back to
 * D_SYNC (counted); after H2_MAX_RESYNCS the connection is given up. Frames
 * are consumed whole, except DATA (and unknown types), whose payload is
 * skipped as it arrives. Header blocks (HEADERS/PUSH_PROMISE + CONTINUATION)
 * are copied until END_HEADERS, then decoded.
 */
#include <stdlib.h>

#include "h2.h"

static const uint8_t PREFACE[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define DEFAULT_MAX_FRAME 16384u
#define LARGEST_FRAME 16777215u

static uint64_t ts_at(marks_t *m, uint64_t off) {
  if (m->n == 0) return 0;
  if (m->cur >= m->n || m->offs[m->cur] > off) m->cur = 0;
  while (m->cur + 1 < m->n && m->offs[m->cur + 1] <= off) m->cur++;
  return m->ts[m->cur];
}

/* ---- plausibility (sync) ---- */

/* 1: a plausible frame header of a frame that fits its type; 0: not. */
static int plausible(const uint8_t *h) {
  uint32_t len = ((uint32_t)h[0] << 16) | ((uint32_t)h[1] << 8) | h[2];
  uint8_t type = h[3];
  uint32_t sid = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]);
  if (len > DEFAULT_MAX_FRAME || (sid & 0x80000000u) || type >= FT_N) return 0;
  switch (type) {
    case FT_DATA: case FT_HEADERS: case FT_CONTINUATION: case FT_PUSH_PROMISE: return sid != 0;
    case FT_PRIORITY: return sid != 0 && len == 5;
    case FT_RST_STREAM: return sid != 0 && len == 4;
    case FT_SETTINGS: return sid == 0 && len % 6 == 0 && (!(h[4] & FL_ACK) || len == 0);
    case FT_PING: return sid == 0 && len == 8;
    case FT_GOAWAY: return sid == 0 && len >= 8;
    case FT_WINDOW_UPDATE: return len == 4;
  }
  return 0;
}

/* 1 sync here, 0 not, -1 need more bytes to tell. */
static int sync_at(const uint8_t *p, uint32_t n) {
  uint32_t off = 0;
  for (uint32_t k = 0; k < H2_SYNC_FRAMES; k++) {
    if (n - off < 9) return -1;
    if (!plausible(p + off)) return 0;
    uint32_t len = ((uint32_t)p[off] << 16) | ((uint32_t)p[off + 1] << 8) | p[off + 2];
    off += 9 + len;
    if (off > n) return -1;
    if (off == n && k >= 1) return 1; /* whole frames up to the end of what was written */
  }
  return 1;
}

/* ---- streams and header blocks ---- */

typedef struct {
  h2stream_t tmp; /* fields of this block */
  bool method, path, status, grpc_ct, ct, gstatus, msg;
} hdrs_t;

static bool name_is(const hp_field_t *f, const char *lit, uint32_t n) {
  return f->nlen == n && memcmp(f->name, lit, n) == 0;
}

static int hexval(uint8_t c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void collect(void *ctx, const hp_field_t *f) {
  hdrs_t *h = ctx;
  if (!f->known) return;
  h2stream_t *s = &h->tmp;
  if (f->nlen > 0 && f->name[0] == ':') {
    if (name_is(f, ":method", 7)) {
      h->method = true;
      s->method_len = (uint8_t)(f->vlen < sizeof s->method ? f->vlen : sizeof s->method);
      memcpy(s->method, f->value, s->method_len);
      if (f->vlen > sizeof s->method) s->method_len = 0; /* absurd method: "_OTHER" */
    } else if (name_is(f, ":path", 5)) {
      h->path = true;
      s->path_len = (uint8_t)(f->vlen < H2_PATH_MAX ? f->vlen : H2_PATH_MAX);
      s->path_trunc = f->vlen > H2_PATH_MAX;
      memcpy(s->path, f->value, s->path_len);
    } else if (name_is(f, ":status", 7)) {
      uint32_t v = 0;
      bool ok = f->vlen == 3;
      for (uint32_t i = 0; ok && i < 3; i++) ok = f->value[i] >= '0' && f->value[i] <= '9', v = v * 10 + (f->value[i] - '0');
      if (ok) {
        h->status = true;
        s->status = (uint16_t)v;
      }
    }
    return;
  }
  if (name_is(f, "content-type", 12)) {
    h->ct = true;
    if (f->vlen >= 16 && memcmp(f->value, "application/grpc", 16) == 0 && (f->vlen == 16 || f->value[16] == '+' || f->value[16] == ';'))
      h->grpc_ct = true;
  } else if (name_is(f, "grpc-status", 11)) {
    uint32_t v = 0;
    bool ok = f->vlen >= 1 && f->vlen <= 3;
    for (uint32_t i = 0; ok && i < f->vlen; i++) ok = f->value[i] >= '0' && f->value[i] <= '9', v = v * 10 + (f->value[i] - '0');
    if (ok) {
      h->gstatus = true;
      s->grpc_status = (uint16_t)v;
    }
  } else if (name_is(f, "grpc-message", 12)) {
    /* percent-encoded on the wire (gRPC PROTOCOL-HTTP2.md); decoded, capped */
    h->msg = true;
    uint32_t o = 0;
    for (uint32_t i = 0; i < f->vlen && o < H2_MSG_MAX; i++) {
      uint8_t ch = f->value[i];
      if (ch == '%' && i + 2 < f->vlen) {
        int hi = hexval(f->value[i + 1]), lo = hexval(f->value[i + 2]);
        if (hi >= 0 && lo >= 0) {
          ch = (uint8_t)(hi * 16 + lo);
          i += 2;
        }
      }
      s->msg[o++] = (char)ch;
    }
    s->msg_len = (uint8_t)o;
  }
}

static inline uint8_t fstate(bool seen, uint32_t unknown) { return seen ? FS_KNOWN : unknown ? FS_UNKNOWN : FS_ABSENT; }

static void finish(h2conn_t *c, h2stream_t *s, bool reset, uint32_t err, bool local) {
  rep_stream_end(c, s, reset, err, local);
  stream_free(c, s);
}

static void on_block(h2conn_t *c, uint8_t dir, uint32_t sid, uint8_t flags, bool push, const uint8_t *p, uint32_t n,
                     bool lost, uint64_t ts) {
  h2dir_t *d = &c->d[dir];
  hdrs_t h;
  memset(&h, 0, sizeof h);
  uint64_t list = 0;
  uint32_t unknown = 0;
  if (lost) {
    hp_table_forget(&d->table);
    unknown = 1;
  } else {
    hp_status_t rc = hp_decode_block(&d->table, p, n, collect, &h, &list, &unknown);
    if (rc != HP_OK) {
      /* Table state is lost: everything from this block is unknown. */
      memset(&h, 0, sizeof h);
      hp_table_forget(&d->table);
      rep_resync("hpack_error");
      unknown = 1;
    }
    if (list > H2_MAX_LIST) rep_oversized("list_size");
  }
  if (push || (sid & 1) == 0) return; /* pushed or server-initiated: table state only */
  if (c->side_tentative && h.method) { /* a request tells the client's direction for sure */
    c->client_dir = (int8_t)dir;
    c->side_tentative = 0;
  }
  if (c->client_dir < 0) {
    if (h.method) c->client_dir = (int8_t)dir;
    else if (h.status) c->client_dir = (int8_t)!dir;
    else return;
  }
  h2stream_t *s = stream_get(c, sid, false);
  if (dir == (uint8_t)c->client_dir) {
    if (!s) {
      s = stream_get(c, sid, true);
      if (!s) {
        rep_oversized("streams");
        return;
      }
      s->t_start = ts;
      s->method_st = fstate(h.method, unknown);
      s->method_len = h.tmp.method_len;
      memcpy(s->method, h.tmp.method, h.tmp.method_len);
      s->path_st = fstate(h.path, unknown);
      s->path_len = h.tmp.path_len;
      s->path_trunc = h.tmp.path_trunc;
      memcpy(s->path, h.tmp.path, h.tmp.path_len);
      s->grpc_st = h.grpc_ct || h.ct ? FS_KNOWN : fstate(false, unknown);
      s->is_grpc = h.grpc_ct;
      rep_stream_start(c);
    }
    s->req_blocks++;
    if (flags & FL_END_STREAM) s->end_req = 1;
    return;
  }
  if (!s) return; /* a response to a request sent before we were watching */
  if (s->resp_blocks == 0) {
    if (h.status && h.tmp.status >= 100 && h.tmp.status < 200 && !(flags & FL_END_STREAM)) return; /* interim */
    s->status_st = fstate(h.status, unknown);
    s->status = h.tmp.status;
    /* the response's content-type decides when the request's was unknown */
    if (h.grpc_ct) s->is_grpc = 1, s->grpc_st = FS_KNOWN;
    else if (h.ct && s->grpc_st == FS_UNKNOWN) s->grpc_st = FS_KNOWN;
  }
  if (h.gstatus) s->is_grpc = 1, s->grpc_st = FS_KNOWN; /* only gRPC sends grpc-status */
  s->resp_blocks++;
  if (h.gstatus || s->gstatus_st != FS_KNOWN) {
    /* grpc-status comes in trailers, or in a trailers-only response */
    if (h.gstatus) s->gstatus_st = FS_KNOWN, s->grpc_status = h.tmp.grpc_status;
    else if (flags & FL_END_STREAM) s->gstatus_st = unknown ? FS_UNKNOWN : FS_ABSENT;
  }
  if (h.msg) {
    s->msg_st = FS_KNOWN;
    s->msg_len = h.tmp.msg_len;
    memcpy(s->msg, h.tmp.msg, h.tmp.msg_len);
  }
  if (flags & FL_END_STREAM) {
    s->end_resp = 1;
    s->t_end = ts;
    finish(c, s, false, 0, false);
  }
}

static void on_end_stream(h2conn_t *c, uint8_t dir, uint32_t sid, uint64_t ts) {
  if (c->client_dir < 0) return;
  h2stream_t *s = stream_get(c, sid, false);
  if (!s) return;
  if (dir == (uint8_t)c->client_dir) {
    s->end_req = 1;
  } else {
    s->end_resp = 1;
    s->t_end = ts;
    if (s->gstatus_st != FS_KNOWN) s->gstatus_st = FS_ABSENT; /* DATA ended the stream: no trailers */
    if (s->grpc_st == FS_UNKNOWN && !s->is_grpc) s->grpc_st = FS_KNOWN; /* gRPC always ends with trailers */
    finish(c, s, false, 0, false);
  }
}

/* ---- connection-level handling ---- */

static void lose_direction(h2conn_t *c, uint8_t dir, const char *reason) {
  h2dir_t *d = &c->d[dir];
  rep_resync(reason);
  d->mode = D_SYNC;
  d->fresh = 0;
  d->in_block = 0;
  d->block_len = 0;
  d->block_over = 0;
  d->skip = 0;
  d->sync_scanned = 0;
  d->ping_pending = 0;
  hp_table_forget(&d->table);
  if (++c->resyncs > H2_MAX_RESYNCS) {
    rep_abandon(c, "too_many_resyncs");
    c->dead = 1;
  }
}

static void mark_h2(h2conn_t *c) {
  if (!c->is_h2) {
    c->is_h2 = 1;
    rep_connection(c);
  }
}

static bool block_append(h2dir_t *d, const uint8_t *p, uint32_t n) {
  if (d->block_over) return false;
  if (d->block_len + n > H2_MAX_BLOCK) {
    d->block_over = 1;
    return false;
  }
  if (d->block_len + n > d->block_cap) {
    uint32_t cap = d->block_cap ? d->block_cap : 1024;
    while (cap < d->block_len + n) cap *= 2;
    uint8_t *b = realloc(d->block, cap);
    if (!b) {
      d->block_over = 1;
      return false;
    }
    d->block = b;
    d->block_cap = cap;
  }
  memcpy(d->block + d->block_len, p, n);
  d->block_len += n;
  return true;
}

/* A whole frame. Returns false on a protocol violation. */
static bool on_frame(h2conn_t *c, uint8_t dir, uint8_t type, uint8_t flags, uint32_t sid, const uint8_t *p,
                     uint32_t len, uint64_t ts) {
  h2dir_t *d = &c->d[dir];
  h2dir_t *o = &c->d[!dir];
  if (d->in_block && (type != FT_CONTINUATION || sid != d->block_stream)) return false;
  rep_frame(type, dir);
  switch (type) {
    case FT_DATA:
      if (sid == 0) return false;
      if ((flags & FL_PADDED) && (len < 1 || p[0] >= len)) return false;
      if (flags & FL_END_STREAM) on_end_stream(c, dir, sid, ts);
      return true;
    case FT_HEADERS:
    case FT_PUSH_PROMISE: {
      if (sid == 0) return false;
      uint32_t off = 0, pad = 0;
      if (flags & FL_PADDED) {
        if (len < 1) return false;
        pad = p[0];
        off = 1;
      }
      if (type == FT_HEADERS && (flags & FL_PRIORITY)) off += 5;
      if (type == FT_PUSH_PROMISE) off += 4;
      if (off + pad > len) return false;
      const uint8_t *frag = p + off;
      uint32_t flen = len - off - pad;
      if (flags & FL_END_HEADERS) {
        on_block(c, dir, sid, flags, type == FT_PUSH_PROMISE, frag, flen, false, ts);
      } else {
        d->in_block = 1;
        d->block_type = type;
        d->block_flags = flags;
        d->block_stream = sid;
        d->block_len = 0;
        d->block_over = 0;
        block_append(d, frag, flen);
      }
      return true;
    }
    case FT_CONTINUATION:
      if (!d->in_block) return false;
      block_append(d, p, len);
      if (flags & FL_END_HEADERS) {
        d->in_block = 0;
        if (d->block_over) rep_oversized("block_size");
        on_block(c, dir, sid, d->block_flags, d->block_type == FT_PUSH_PROMISE, d->block, d->block_len, d->block_over, ts);
        d->block_len = 0;
        d->block_over = 0;
        if (d->block_cap > 65536) { /* do not keep a large buffer around */
          free(d->block);
          d->block = NULL;
          d->block_cap = 0;
        }
      }
      return true;
    case FT_PRIORITY:
      return sid != 0 && len == 5;
    case FT_RST_STREAM: {
      if (sid == 0 || len != 4) return false;
      uint32_t err = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
      h2stream_t *s = stream_get(c, sid, false);
      rep_reset(c, sid, err, dir == 0, s, ts);
      if (s) {
        s->t_end = ts;
        finish(c, s, true, err, dir == 0);
      }
      return true;
    }
    case FT_SETTINGS:
      if (sid != 0 || len % 6 != 0 || ((flags & FL_ACK) && len != 0)) return false;
      if (flags & FL_ACK) return true;
      for (uint32_t i = 0; i + 6 <= len; i += 6) {
        uint16_t id = (uint16_t)((p[i] << 8) | p[i + 1]);
        uint32_t v = ((uint32_t)p[i + 2] << 24) | ((uint32_t)p[i + 3] << 16) | ((uint32_t)p[i + 4] << 8) | p[i + 5];
        if (id == 1) hp_table_set_limit(&o->table, v); /* the sender decodes what the other side encodes */
        if (id == 5) {
          if (v < DEFAULT_MAX_FRAME || v > LARGEST_FRAME) return false;
          o->max_frame = v;
        }
      }
      d->settings_seen = 1;
      rep_settings(c, dir, p, len, ts);
      return true;
    case FT_PING:
      if (sid != 0 || len != 8) return false;
      if (flags & FL_ACK) {
        if (o->ping_pending && memcmp(o->ping_data, p, 8) == 0) {
          o->ping_pending = 0;
          if (ts && o->ping_ts && ts >= o->ping_ts) rep_ping(c, dir == 1, (double)(ts - o->ping_ts) / 1e9);
        }
      } else {
        memcpy(d->ping_data, p, 8);
        d->ping_ts = ts;
        d->ping_pending = 1;
      }
      return true;
    case FT_GOAWAY: {
      if (sid != 0 || len < 8) return false;
      uint32_t last = (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]) & 0x7fffffffu;
      uint32_t err = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
      rep_goaway(c, last, err, len - 8, dir == 0, ts);
      return true;
    }
    case FT_WINDOW_UPDATE:
      return len == 4;
    default:
      return true; /* extension frame types are ignored (RFC 9113 §5.5) */
  }
}

uint32_t h2_feed(h2conn_t *c, uint8_t dir, const uint8_t *p, uint32_t n, uint32_t start, bool gap, marks_t *m,
                 uint64_t until, uint64_t *next) {
  h2dir_t *d = &c->d[dir];
  *next = UINT64_MAX;
  if (c->dead) return n;
  if (gap) {
    if (d->mode == D_NEW || d->mode == D_PREFACE) {
      d->mode = D_SYNC; /* lost the start: cannot see the preface */
      d->fresh = 0;
      hp_table_forget(&d->table);
    } else if (d->mode != D_SYNC) {
      lose_direction(c, dir, "gap");
      if (c->dead) return n;
    }
  }
  uint32_t off = start;
  for (;;) {
    if (c->dead) return n;
    if (d->mode == D_NEW || d->mode == D_PREFACE) {
      uint32_t k = n - off < 24 ? n - off : 24;
      if (memcmp(p + off, PREFACE, k) == 0) {
        if (k < 24) {
          d->mode = D_PREFACE;
          break; /* wait for the rest of the preface */
        }
        off += 24;
        c->client_dir = (int8_t)dir;
        c->side_tentative = 0;
        d->mode = D_FRAMES;
        hp_table_init(&d->table, true);
        d->max_frame = DEFAULT_MAX_FRAME;
        if (c->d[!dir].mode == D_NEW) { /* the server's bytes will start at their start too */
          hp_table_init(&c->d[!dir].table, true);
          c->d[!dir].fresh = 1;
          c->d[!dir].max_frame = DEFAULT_MAX_FRAME;
        }
        mark_h2(c);
        continue;
      }
      const tuple_t *tu = tuple_get(c->cookie);
      if (c->client_dir == -1 && d->mode == D_NEW && c->d[!dir].mode == D_NEW && !(tu && tu->preexisting)) {
        /* Perhaps a connection seen from its start: the server may write its
         * SETTINGS before we see the client's preface. The side is tentative
         * until the preface or a request confirms it. */
        if (n - off < 9) break;
        const uint8_t *h = p + off;
        if (h[3] == FT_SETTINGS && !(h[4] & FL_ACK) && plausible(h)) {
          c->client_dir = (int8_t)!dir;
          c->side_tentative = 1;
          d->mode = D_FRAMES;
          hp_table_init(&d->table, true);
          d->max_frame = DEFAULT_MAX_FRAME;
          hp_table_init(&c->d[!dir].table, true);
          c->d[!dir].max_frame = DEFAULT_MAX_FRAME;
          continue; /* is_h2 once the preface arrives */
        }
      }
      if (d->mode == D_PREFACE || (d->fresh && c->client_dir == -1)) {
        rep_abandon(c, "not_h2");
        c->dead = 1;
        return n;
      }
      if (d->fresh) {
        /* the server side of a connection whose preface we saw: frames from here */
        d->mode = D_FRAMES;
        continue;
      }
      d->mode = D_SYNC;
      hp_table_init(&d->table, false);
      hp_table_forget(&d->table);
      continue;
    }
    if (d->mode == D_SYNC) {
      uint32_t i = off;
      int r = 0;
      for (; i + 9 <= n && i - off < H2_SYNC_SCAN; i++) {
        r = sync_at(p + i, n - i);
        if (r != 0) break;
      }
      if (r == 1) {
        d->mode = D_FRAMES;
        d->sync_scanned = 0;
        if (d->max_frame == 0) d->max_frame = LARGEST_FRAME; /* the peer's setting is unknown */
        if (!c->is_h2) {
          c->midstream = 1;
          mark_h2(c);
        }
        off = i;
        continue;
      }
      /* keep the bytes a later sync may start in */
      uint32_t keep_from = r == -1 ? i : (n > 8 ? n - 8 : 0);
      if (keep_from < off) keep_from = off;
      d->sync_scanned += keep_from - off;
      off = keep_from;
      if (d->sync_scanned > (1u << 20) || (r == -1 && n - off > (200u << 10))) {
        rep_abandon(c, c->is_h2 ? "lost_sync" : "not_h2");
        c->dead = 1;
        return n;
      }
      break;
    }
    if (d->mode != D_FRAMES) return n;
    if (d->skip) {
      uint32_t k = n - off < d->skip ? n - off : d->skip;
      if (k == 0) break;
      uint64_t t = ts_at(m, off + k - 1);
      if (m->n && t > until) {
        *next = t;
        return off;
      }
      off += k;
      d->skip -= k;
      if (d->skip == 0 && (d->skip_flags & FL_END_STREAM)) on_end_stream(c, dir, d->skip_stream, ts_at(m, off - 1));
      if (d->skip) break;
      continue;
    }
    if (n - off < 9) break;
    const uint8_t *h = p + off;
    uint32_t len = ((uint32_t)h[0] << 16) | ((uint32_t)h[1] << 8) | h[2];
    uint8_t type = h[3], flags = h[4];
    uint32_t sid = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) & 0x7fffffffu;
    uint32_t maxf = d->max_frame ? d->max_frame : DEFAULT_MAX_FRAME;
    if (len > maxf) {
      lose_direction(c, dir, "protocol_error");
      continue;
    }
    bool skippable = type == FT_DATA || type >= FT_N;
    if (n - off < 9 + len) {
      if (skippable && !d->in_block) {
        uint64_t t = ts_at(m, n - 1);
        if (m->n && t > until) {
          *next = t;
          return off;
        }
        /* DATA: only the flags matter; skip the payload as it arrives */
        if (type == FT_DATA && sid == 0) {
          lose_direction(c, dir, "protocol_error");
          continue;
        }
        rep_frame(type, dir);
        d->skip = len - (n - off - 9);
        d->skip_flags = type == FT_DATA ? flags : 0;
        d->skip_stream = sid;
        off = n;
        break;
      }
      if (9 + len > (200u << 10)) { /* more than the host holds for us: lose it */
        lose_direction(c, dir, "oversized_frame");
        continue;
      }
      break;
    }
    uint64_t fts = ts_at(m, off + 9 + len - 1);
    if (m->n && fts > until) { /* the other direction has earlier frames: let it go first */
      *next = fts;
      return off;
    }
    if (!on_frame(c, dir, type, flags, sid, h + 9, len, fts)) {
      lose_direction(c, dir, "protocol_error");
      off += 9 + len;
      continue;
    }
    off += 9 + len;
  }
  return off;
}

void h2_conn_closed(h2conn_t *c) {
  while (c->nstreams > 0) finish(c, &c->streams[c->nstreams - 1], false, ERR_ABANDONED, false);
}
