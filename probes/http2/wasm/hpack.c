/* HPACK decoding: see hpack.h. Huffman strings are decoded four bits at a time
 * with a state machine built once from the RFC code table (the approach of
 * nghttp2's decoder): state = internal node of the code tree. */
#include <stdlib.h>
#include <string.h>

#include "hpack.h"
#include "huffman_codes.h"
#include "static_table.h"

/* ---- Huffman ---- */

typedef struct {
  uint8_t next;  /* internal node after the nibble */
  uint8_t sym;   /* emitted symbol when F_EMIT */
  uint8_t flags; /* F_EMIT, F_FAIL (EOS decoded), F_ACCEPT (may end here) */
} huff_step_t;
enum { F_EMIT = 1, F_FAIL = 2, F_ACCEPT = 4 };

static huff_step_t g_huff[256][16];
static bool g_huff_ready;

static void huff_build(void) {
  /* The tree: 256 internal nodes (ids 0..255, root 0), 257 leaves. */
  static int16_t child[256][2]; /* >= 0 internal node id, < 0: -(sym + 1) leaf, 0 unset (root is never a child) */
  static uint8_t depth[256], ones[256];
  int nodes = 1;
  memset(child, 0, sizeof child);
  depth[0] = 0;
  ones[0] = 1;
  for (int sym = 0; sym < 257; sym++) {
    uint32_t code = HUFF_CODE[sym];
    int len = HUFF_LEN[sym], n = 0;
    for (int b = len - 1; b >= 0; b--) {
      int bit = (code >> b) & 1;
      if (b == 0) {
        child[n][bit] = (int16_t)(-(sym + 1));
      } else {
        if (child[n][bit] == 0) {
          int id = nodes++;
          child[n][bit] = (int16_t)id;
          depth[id] = (uint8_t)(depth[n] + 1);
          ones[id] = (uint8_t)(ones[n] && bit);
        }
        n = child[n][bit];
      }
    }
  }
  for (int s = 0; s < 256; s++) {
    for (int nib = 0; nib < 16; nib++) {
      int n = s, flags = 0, sym = 0;
      for (int b = 3; b >= 0; b--) {
        int c = child[n][(nib >> b) & 1];
        if (c < 0) {
          sym = -c - 1;
          if (sym == 256) flags |= F_FAIL;
          flags |= F_EMIT;
          n = 0;
        } else {
          n = c;
        }
      }
      if (n == 0 || (ones[n] && depth[n] <= 7)) flags |= F_ACCEPT;
      g_huff[s][nib] = (huff_step_t){(uint8_t)n, (uint8_t)sym, (uint8_t)flags};
    }
  }
  g_huff_ready = true;
}

int32_t hp_huffman_decode(const uint8_t *src, size_t n, uint8_t *dst) {
  if (!g_huff_ready) huff_build();
  uint8_t state = 0;
  uint8_t accept = F_ACCEPT;
  uint8_t *o = dst;
  for (size_t i = 0; i < n; i++) {
    const huff_step_t *a = &g_huff[state][src[i] >> 4];
    if (a->flags & F_FAIL) return -1;
    if (a->flags & F_EMIT) *o++ = a->sym;
    const huff_step_t *b = &g_huff[a->next][src[i] & 15];
    if (b->flags & F_FAIL) return -1;
    if (b->flags & F_EMIT) *o++ = b->sym;
    state = b->next;
    accept = b->flags & F_ACCEPT;
  }
  /* Padding: at most 7 bits, all ones (a prefix of EOS). */
  if (!accept) return -1;
  return (int32_t)(o - dst);
}

/* ---- dynamic table ---- */

static uint64_t g_total;

uint64_t hp_total_bytes(void) { return g_total; }

void hp_table_init(hp_table_t *t, bool known_start) {
  memset(t, 0, sizeof *t);
  t->max = HP_DEFAULT_SIZE;
  t->limit = HP_DEFAULT_SIZE;
  t->limit_known = known_start;
  t->tail_unknown = !known_start;
}

static void evict_oldest(hp_table_t *t) {
  hp_entry_t *e = &t->ring[t->first];
  t->size -= e->nlen + e->vlen + HP_ENTRY_OVERHEAD;
  g_total -= e->nlen + e->vlen;
  free(e->data);
  e->data = NULL;
  t->first = (t->first + 1) % t->rcap;
  t->count--;
}

static void evict_to(hp_table_t *t, uint32_t size) {
  while (t->count > 0 && t->size > size) evict_oldest(t);
}

void hp_table_free(hp_table_t *t) {
  while (t->count > 0) evict_oldest(t);
  free(t->ring);
  t->ring = NULL;
  t->rcap = 0;
}

void hp_table_forget(hp_table_t *t) {
  while (t->count > 0) evict_oldest(t);
  t->size = 0;
  t->tail_unknown = true;
  if (!t->limit_known) t->max = HP_TABLE_CAP;
}

void hp_table_set_limit(hp_table_t *t, uint32_t limit) {
  t->limit = limit;
  t->limit_known = true;
}

/* RFC 7541 §4.4: evict until the entry fits; an entry larger than the table empties it. */
static bool table_insert(hp_table_t *t, const uint8_t *name, uint32_t nlen, const uint8_t *value, uint32_t vlen) {
  uint64_t esize = (uint64_t)nlen + vlen + HP_ENTRY_OVERHEAD;
  if (esize > t->max) {
    evict_to(t, 0);
    return true;
  }
  if (g_total + nlen + vlen > HP_TOTAL_BUDGET) return false;
  /* Copied before evicting: the name may be that of an entry the insertion evicts (RFC 7541 §4.4). */
  uint8_t *d = malloc(nlen + vlen + 1);
  if (!d) return false;
  memcpy(d, name, nlen);
  memcpy(d + nlen, value, vlen);
  evict_to(t, t->max - (uint32_t)esize);
  uint32_t need = t->count + 1;
  if (need > t->rcap) {
    uint32_t ncap = t->rcap ? t->rcap * 2 : 16;
    while (ncap < need) ncap *= 2;
    hp_entry_t *r = malloc(ncap * sizeof *r);
    if (!r) {
      free(d);
      return false;
    }
    for (uint32_t i = 0; i < t->count; i++) r[i] = t->ring[(t->first + i) % t->rcap];
    free(t->ring);
    t->ring = r;
    t->rcap = ncap;
    t->first = 0;
  }
  hp_entry_t *e = &t->ring[(t->first + t->count) % t->rcap];
  e->data = d;
  e->nlen = nlen;
  e->vlen = vlen;
  t->count++;
  t->size += (uint32_t)esize;
  g_total += nlen + vlen;
  return true;
}

/* Index (1-based, static then dynamic): 1 found, 0 unknown, -1 invalid. */
static int lookup(const hp_table_t *t, uint32_t idx, hp_field_t *f) {
  if (idx == 0) return -1;
  if (idx <= 61) {
    f->name = (const uint8_t *)HPACK_STATIC[idx].name;
    f->nlen = HPACK_STATIC[idx].nlen;
    f->value = (const uint8_t *)HPACK_STATIC[idx].value;
    f->vlen = HPACK_STATIC[idx].vlen;
    return 1;
  }
  uint32_t d = idx - 62;
  if (d < t->count) {
    const hp_entry_t *e = &t->ring[(t->first + t->count - 1 - d) % t->rcap];
    f->name = e->data;
    f->nlen = e->nlen;
    f->value = e->data + e->nlen;
    f->vlen = e->vlen;
    return 1;
  }
  return t->tail_unknown ? 0 : -1;
}

/* ---- block decoding ---- */

static int read_int(const uint8_t **pp, const uint8_t *end, int prefix, uint32_t *out) {
  const uint8_t *p = *pp;
  uint32_t mask = (1u << prefix) - 1;
  uint64_t v = *p++ & mask;
  if (v == mask) {
    int shift = 0;
    for (;;) {
      if (p >= end) return HP_ERR_TRUNCATED;
      uint8_t b = *p++;
      v += (uint64_t)(b & 0x7f) << shift;
      if (v > 0xffffffffu) return HP_ERR_INTEGER;
      if (!(b & 0x80)) break;
      shift += 7;
      if (shift > 28) return HP_ERR_INTEGER;
    }
  }
  *pp = p;
  *out = (uint32_t)v;
  return HP_OK;
}

/* Scratch for Huffman-decoded strings: grows, kept across calls (bounded by block size). */
static uint8_t *g_scratch;
static size_t g_scratch_cap;
static uint8_t *g_name; /* a dynamic entry's name, copied before an insertion may evict it */
static uint32_t g_name_cap;

static uint8_t *scratch(size_t need) {
  if (need <= g_scratch_cap) return g_scratch;
  size_t cap = g_scratch_cap ? g_scratch_cap : 4096;
  while (cap < need) cap *= 2;
  uint8_t *p = realloc(g_scratch, cap);
  if (!p) return NULL;
  g_scratch = p;
  g_scratch_cap = cap;
  return p;
}

/* A string literal; Huffman output goes to scratch at *used. */
static int read_str(const uint8_t **pp, const uint8_t *end, size_t *used, const uint8_t **s, uint32_t *len) {
  if (*pp >= end) return HP_ERR_TRUNCATED;
  bool huff = (**pp & 0x80) != 0;
  uint32_t n;
  int rc = read_int(pp, end, 7, &n);
  if (rc) return rc;
  if ((size_t)(end - *pp) < n) return HP_ERR_TRUNCATED;
  if (!huff) {
    *s = *pp;
    *len = n;
  } else {
    size_t room = (size_t)n * 8 / 5 + 1;
    uint8_t *base = scratch(*used + room);
    if (!base) return HP_ERR_MEMORY;
    int32_t m = hp_huffman_decode(*pp, n, base + *used);
    if (m < 0) return HP_ERR_HUFFMAN;
    *s = base + *used; /* fixed up by the caller if scratch moves */
    *len = (uint32_t)m;
    *used += (size_t)m;
  }
  *pp += n;
  return HP_OK;
}

hp_status_t hp_decode_block(hp_table_t *t, const uint8_t *p, size_t n, hp_field_fn fn, void *ctx,
                            uint64_t *list_size, uint32_t *unknown) {
  const uint8_t *end = p + n;
  bool fields_seen = false;
  *list_size = 0;
  *unknown = 0;
  /* Huffman strings of one field must both stay valid: reserve up front. */
  if (!scratch(n * 8 / 5 + 16)) return HP_ERR_MEMORY;
  while (p < end) {
    uint8_t b = *p;
    hp_field_t f = {0};
    int rc;
    if (b & 0x80) { /* indexed field */
      uint32_t idx;
      if ((rc = read_int(&p, end, 7, &idx))) return rc;
      int k = lookup(t, idx, &f);
      if (k < 0) return HP_ERR_INDEX;
      f.known = k == 1;
    } else if ((b & 0xe0) == 0x20) { /* dynamic table size update */
      uint32_t sz;
      if (fields_seen) return HP_ERR_SIZE_UPDATE;
      if ((rc = read_int(&p, end, 5, &sz))) return rc;
      if (sz > t->limit && t->limit_known) return HP_ERR_SIZE_UPDATE;
      if (sz > HP_TABLE_CAP) {
        /* Larger than we keep: entries past our cap may exist. */
        t->max = HP_TABLE_CAP;
        t->tail_unknown = true;
      } else {
        t->max = sz;
        if (sz == 0 && t->tail_unknown) t->tail_unknown = false; /* emptied: fully known again */
      }
      evict_to(t, t->max);
      continue;
    } else { /* literal: with incremental indexing (01), without (0000), never indexed (0001) */
      bool incremental = (b & 0xc0) == 0x40;
      uint32_t idx;
      size_t used = 0;
      if ((rc = read_int(&p, end, incremental ? 6 : 4, &idx))) return rc;
      bool name_known = true;
      if (idx) {
        int k = lookup(t, idx, &f);
        if (k < 0) return HP_ERR_INDEX;
        name_known = k == 1;
        if (!name_known) f.name = NULL, f.nlen = 0;
      } else if ((rc = read_str(&p, end, &used, &f.name, &f.nlen))) {
        return rc;
      }
      if ((rc = read_str(&p, end, &used, &f.value, &f.vlen))) return rc;
      f.known = name_known;
      if (incremental && idx > 61 && name_known) {
        /* The insertion may evict the entry the name comes from: keep a copy. */
        if (f.nlen > g_name_cap) {
          uint8_t *q = realloc(g_name, f.nlen);
          if (!q) return HP_ERR_MEMORY;
          g_name = q;
          g_name_cap = f.nlen;
        }
        memcpy(g_name, f.name, f.nlen);
        f.name = g_name;
      }
      if (incremental) {
        if (name_known) {
          if (!table_insert(t, f.name, f.nlen, f.value, f.vlen)) {
            hp_table_forget(t); /* over the memory budget: lose track rather than grow */
          }
        } else {
          /* An entry with an unknown name: indices stay right, but we cannot
           * store it. Forget the table (only later insertions are known). */
          hp_table_forget(t);
        }
      }
    }
    fields_seen = true;
    if (!f.known) (*unknown)++;
    *list_size += (uint64_t)f.nlen + f.vlen + 32;
    fn(ctx, &f);
  }
  return HP_OK;
}
