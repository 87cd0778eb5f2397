// Open-addressing hash table of conn_t (linear probing, backward-shift delete,
// so no tombstones pile up under connection churn).
#include "conn.h"
#include <stdlib.h>
#include <string.h>

static conn_t *slots;
static size_t cap, used;

static size_t hash(uint64_t id) {
  id ^= id >> 33; id *= 0xff51afd7ed558ccdULL; id ^= id >> 33;
  return (size_t)id;
}

static void grow(void) {
  size_t ncap = cap ? cap * 2 : 64;
  conn_t *n = calloc(ncap, sizeof *n);
  if (!n) __builtin_trap();
  for (size_t i = 0; i < cap; i++) {
    if (!slots[i].id) continue;
    size_t j = hash(slots[i].id) & (ncap - 1);
    while (n[j].id) j = (j + 1) & (ncap - 1);
    n[j] = slots[i];
  }
  free(slots);
  slots = n;
  cap = ncap;
}

conn_t *conn_get(uint64_t id, bool create) {
  if (id == 0) return NULL; // 0 marks empty slots; the host never uses it for a connection
  if (cap) {
    for (size_t j = hash(id) & (cap - 1); slots[j].id; j = (j + 1) & (cap - 1))
      if (slots[j].id == id) return &slots[j];
  }
  if (!create || used >= CONN_MAX) return NULL;
  if ((used + 1) * 4 > cap * 3) grow();
  size_t j = hash(id) & (cap - 1);
  while (slots[j].id) j = (j + 1) & (cap - 1);
  memset(&slots[j], 0, sizeof slots[j]);
  slots[j].id = id;
  slots[j].dir[0].state = slots[j].dir[1].state = H1_START;
  used++;
  return &slots[j];
}

void conn_free(uint64_t id) {
  conn_t *c = conn_get(id, false);
  if (!c) return;
  size_t i = (size_t)(c - slots);
  slots[i].id = 0;
  used--;
  // Backward shift: move later members of the cluster into the hole when their
  // home slot is at or before it.
  for (size_t j = (i + 1) & (cap - 1); slots[j].id; j = (j + 1) & (cap - 1)) {
    size_t home = hash(slots[j].id) & (cap - 1);
    if (((j - home) & (cap - 1)) >= ((j - i) & (cap - 1))) {
      slots[i] = slots[j];
      slots[j].id = 0;
      i = j;
    }
  }
}

size_t conn_count(void) { return used; }
