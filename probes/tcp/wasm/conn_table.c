/* Bounded cookie -> connection tables that keep insertion order (JS Map semantics:
 * re-setting an existing key keeps its place; the oldest entry is evicted first). */
#include "tcp_decoder.h"

static inline uint32_t hash_cookie(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return (uint32_t)x;
}

void table_init(table_t *t, conn_t *entries, uint32_t cap, uint32_t *idx, uint32_t slots) {
  memset(t, 0, sizeof *t);
  t->e = entries;
  t->cap = cap;
  t->idx = idx;
  t->mask = slots - 1;
}

conn_t *table_get(table_t *t, uint64_t cookie) {
  uint32_t s = hash_cookie(cookie) & t->mask;
  for (;;) {
    uint32_t i = t->idx[s];
    if (i == 0) return NULL;
    if (t->e[i - 1].cookie == cookie) return &t->e[i - 1];
    s = (s + 1) & t->mask;
  }
}

conn_t *table_insert(table_t *t, uint64_t cookie) {
  uint32_t i; /* entry index + 1 */
  if (t->free_head) {
    i = t->free_head;
    t->free_head = t->e[i - 1].next;
  } else {
    i = ++t->used;
  }
  conn_t *c = &t->e[i - 1];
  memset(c, 0, offsetof(conn_t, buf));
  c->cookie = cookie;
  c->chash = hash_cookie(cookie);
  uint32_t s = c->chash & t->mask;
  while (t->idx[s]) s = (s + 1) & t->mask;
  t->idx[s] = i;
  c->prev = t->tail;
  c->next = 0;
  if (t->tail) t->e[t->tail - 1].next = i; else t->head = i;
  t->tail = i;
  t->count++;
  return c;
}

void table_remove(table_t *t, conn_t *c) {
  uint32_t i = (uint32_t)(c - t->e) + 1;
  uint32_t j = c->chash & t->mask;
  while (t->idx[j] != i) j = (j + 1) & t->mask;
  /* backward-shift deletion */
  for (;;) {
    t->idx[j] = 0;
    uint32_t k = j;
    for (;;) {
      k = (k + 1) & t->mask;
      uint32_t m = t->idx[k];
      if (m == 0) goto unlinked;
      uint32_t h = t->e[m - 1].chash & t->mask;
      /* keep m where it is when its home h lies cyclically in (j, k] */
      bool stays = j <= k ? (h > j && h <= k) : (h > j || h <= k);
      if (!stays) {
        t->idx[j] = m;
        j = k;
        break;
      }
    }
  }
unlinked:
  if (c->prev) t->e[c->prev - 1].next = c->next; else t->head = c->next;
  if (c->next) t->e[c->next - 1].prev = c->prev; else t->tail = c->prev;
  c->cookie = 0;
  c->next = t->free_head;
  t->free_head = i;
  t->count--;
}

conn_t *table_oldest(table_t *t) { return t->head ? &t->e[t->head - 1] : NULL; }
