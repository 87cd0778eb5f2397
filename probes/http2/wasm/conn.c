/* Connection and stream state, and the TCP identity of sockets.
 *
 * Connections: a bounded table keyed by (socket cookie, source probe), the
 * oldest evicted first when full. Streams: a small dense array per connection
 * (linear search: concurrency per connection is small), bounded per
 * connection and in total. Tuples: what the TCP probe reported about each
 * socket, for the event lines (4-tuple and process).
 */
#include <stdlib.h>

#include "h2.h"

static h2conn_t g_conns[H2_MAX_CONNS];
static uint32_t g_slots[H2_MAX_CONNS * 2]; /* 0 empty, else index + 1 */
static uint32_t g_head, g_tail, g_free, g_used, g_count;
static uint32_t g_stream_total;
#define STREAM_BUDGET 65536u

static inline uint32_t hash64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (uint32_t)x;
}
static inline uint32_t conn_hash(uint64_t cookie, uint8_t src) { return hash64(cookie * 2 + src); }
#define MASK (H2_MAX_CONNS * 2 - 1)

uint32_t conn_count(void) { return g_count; }

static void slot_remove(uint32_t i) {
  h2conn_t *c = &g_conns[i - 1];
  uint32_t j = conn_hash(c->cookie, c->src) & MASK;
  while (g_slots[j] != i) j = (j + 1) & MASK;
  for (;;) { /* backward-shift deletion */
    g_slots[j] = 0;
    uint32_t k = j;
    for (;;) {
      k = (k + 1) & MASK;
      uint32_t m = g_slots[k];
      if (m == 0) return;
      uint32_t h = conn_hash(g_conns[m - 1].cookie, g_conns[m - 1].src) & MASK;
      bool stays = j <= k ? (h > j && h <= k) : (h > j || h <= k);
      if (!stays) {
        g_slots[j] = m;
        j = k;
        break;
      }
    }
  }
}

void conn_free(h2conn_t *c) {
  uint32_t i = (uint32_t)(c - g_conns) + 1;
  slot_remove(i);
  if (c->prev) g_conns[c->prev - 1].next = c->next; else g_head = c->next;
  if (c->next) g_conns[c->next - 1].prev = c->prev; else g_tail = c->prev;
  for (int d = 0; d < 2; d++) {
    hp_table_free(&c->d[d].table);
    free(c->d[d].block);
  }
  g_stream_total -= c->nstreams;
  free(c->streams);
  memset(c, 0, sizeof *c);
  c->next = g_free;
  g_free = i;
  g_count--;
}

h2conn_t *conn_get(uint64_t cookie, uint8_t src, bool create) {
  uint32_t s = conn_hash(cookie, src) & MASK;
  for (;;) {
    uint32_t i = g_slots[s];
    if (i == 0) break;
    h2conn_t *c = &g_conns[i - 1];
    if (c->cookie == cookie && c->src == src) return c;
    s = (s + 1) & MASK;
  }
  if (!create) return NULL;
  if (g_count >= H2_MAX_CONNS) {
    h2conn_t *old = &g_conns[g_head - 1];
    h2_conn_closed(old);
    conn_free(old);
    s = conn_hash(cookie, src) & MASK;
  }
  uint32_t i;
  if (g_free) {
    i = g_free;
    g_free = g_conns[i - 1].next;
  } else {
    i = ++g_used;
  }
  h2conn_t *c = &g_conns[i - 1];
  memset(c, 0, sizeof *c);
  c->cookie = cookie;
  c->src = src;
  c->client_dir = -1;
  while (g_slots[s]) s = (s + 1) & MASK;
  g_slots[s] = i;
  c->prev = g_tail;
  if (g_tail) g_conns[g_tail - 1].next = i; else g_head = i;
  g_tail = i;
  g_count++;
  return c;
}

void conn_free_cookie(uint64_t cookie) {
  for (uint8_t src = 0; src < 2; src++) {
    h2conn_t *c = conn_get(cookie, src, false);
    if (c) {
      h2_conn_closed(c);
      conn_free(c);
    }
  }
}

h2stream_t *stream_get(h2conn_t *c, uint32_t id, bool create) {
  for (uint32_t i = 0; i < c->nstreams; i++)
    if (c->streams[i].id == id) return &c->streams[i];
  if (!create || c->nstreams >= H2_MAX_STREAMS || g_stream_total >= STREAM_BUDGET) return NULL;
  if (c->streams == NULL) {
    c->streams = malloc(H2_MAX_STREAMS * sizeof *c->streams);
    if (!c->streams) return NULL;
  }
  h2stream_t *s = &c->streams[c->nstreams++];
  g_stream_total++;
  memset(s, 0, offsetof(h2stream_t, method));
  s->id = id;
  return s;
}

void stream_free(h2conn_t *c, h2stream_t *s) {
  uint32_t i = (uint32_t)(s - c->streams);
  c->nstreams--;
  g_stream_total--;
  if (i != c->nstreams) c->streams[i] = c->streams[c->nstreams];
}

/* ---- tuples ---- */

static tuple_t g_tuples[H2_MAX_TUPLES];
static uint32_t g_ntuples;
#define TMASK (H2_MAX_TUPLES - 1)

static tuple_t *tuple_slot(uint64_t cookie, bool *found) {
  uint32_t s = hash64(cookie) & TMASK;
  for (uint32_t n = 0; n < H2_MAX_TUPLES; n++) {
    tuple_t *t = &g_tuples[s];
    if (!t->used) { *found = false; return t; }
    if (t->cookie == cookie) { *found = true; return t; }
    s = (s + 1) & TMASK;
  }
  *found = false;
  return NULL;
}

void tuple_put(const tuple_t *t) {
  bool found;
  tuple_t *slot = tuple_slot(t->cookie, &found);
  if (!slot) return;
  if (!found) {
    if (g_ntuples >= H2_MAX_TUPLES * 3 / 4) return; /* full: events of that socket go without it */
    g_ntuples++;
  }
  *slot = *t;
  slot->used = 1;
}

const tuple_t *tuple_get(uint64_t cookie) {
  bool found;
  tuple_t *t = tuple_slot(cookie, &found);
  return found ? t : NULL;
}

void tuple_drop(uint64_t cookie) {
  bool found;
  tuple_t *t = tuple_slot(cookie, &found);
  if (!found) return;
  /* backward-shift deletion */
  uint32_t j = (uint32_t)(t - g_tuples);
  for (;;) {
    g_tuples[j].used = 0;
    uint32_t k = j;
    for (;;) {
      k = (k + 1) & TMASK;
      if (!g_tuples[k].used) goto done;
      uint32_t h = hash64(g_tuples[k].cookie) & TMASK;
      bool stays = j <= k ? (h > j && h <= k) : (h > j || h <= k);
      if (!stays) {
        g_tuples[j] = g_tuples[k];
        j = k;
        break;
      }
    }
  }
done:
  g_ntuples--;
}
