/* HPACK (RFC 7541) decoding for the http2 decoder: integers, Huffman strings,
 * the static table and one dynamic table per connection and direction.
 *
 * The table may be in an *unknown* state (the decoder started mid-connection,
 * or bytes were lost): then only the entries inserted since are known, and a
 * reference past them yields a field whose name and value are unknown, never a
 * guess. Memory: each table is bounded by its maximum size (<= HP_TABLE_CAP)
 * and all tables together by HP_TOTAL_BUDGET; past the budget a table drops
 * its entries and becomes unknown instead of growing.
 */
#ifndef LF_H2_HPACK_H
#define LF_H2_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_DEFAULT_SIZE 4096u
#define HP_TABLE_CAP 65536u          /* largest dynamic table kept per direction */
#define HP_TOTAL_BUDGET (24u << 20)  /* bytes of entries over all tables */
#define HP_ENTRY_OVERHEAD 32u

typedef struct {
  uint8_t *data; /* name then value */
  uint32_t nlen, vlen;
} hp_entry_t;

typedef struct {
  hp_entry_t *ring; /* circular, capacity rcap; newest at (first + count - 1) % rcap */
  uint32_t rcap, first, count;
  uint32_t size;     /* RFC 7541 size: sum of nlen + vlen + 32 */
  uint32_t max;      /* current maximum size (table size updates) */
  uint32_t limit;    /* what the receiving peer allows (SETTINGS_HEADER_TABLE_SIZE) */
  bool limit_known;  /* limit came from a SETTINGS frame or the protocol default at a known start */
  bool tail_unknown; /* entries older than ours may exist and are unknown */
} hp_table_t;

/* One decoded field. A field whose name is unknown has name == NULL. */
typedef struct {
  const uint8_t *name, *value;
  uint32_t nlen, vlen;
  bool known;
} hp_field_t;

typedef enum {
  HP_OK = 0,
  HP_ERR_TRUNCATED,   /* block ends inside a representation */
  HP_ERR_INDEX,       /* index 0 or past a fully known table */
  HP_ERR_HUFFMAN,     /* bad Huffman padding or EOS inside a string */
  HP_ERR_INTEGER,     /* integer over 2^32 */
  HP_ERR_SIZE_UPDATE, /* size update over the limit, or after a field */
  HP_ERR_MEMORY,      /* scratch space could not be had */
} hp_status_t;

/* Called once per field of a block, in order. */
typedef void (*hp_field_fn)(void *ctx, const hp_field_t *f);

void hp_table_init(hp_table_t *t, bool known_start);
void hp_table_free(hp_table_t *t);
/* The decoder lost track (gap, start mid-connection): only later insertions are known. */
void hp_table_forget(hp_table_t *t);
/* The peer that decodes this table advertised SETTINGS_HEADER_TABLE_SIZE. */
void hp_table_set_limit(hp_table_t *t, uint32_t limit);

/* Decodes one complete header block, updating the table. `list_size` gets the
 * RFC 9113 header list size (sum of name + value + 32). `unknown` counts fields
 * whose name or value is unknown. On error the table is in an unusable state:
 * the caller must hp_table_forget() it. */
hp_status_t hp_decode_block(hp_table_t *t, const uint8_t *p, size_t n, hp_field_fn fn, void *ctx,
                            uint64_t *list_size, uint32_t *unknown);

/* Huffman-decodes src into dst (room for n * 8 / 5 + 1 bytes); returns length or -1. */
int32_t hp_huffman_decode(const uint8_t *src, size_t n, uint8_t *dst);

/* Bytes of entries held by all tables (for tests and the memory budget). */
uint64_t hp_total_bytes(void);

#endif
