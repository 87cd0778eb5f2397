/* Native driver of the http2 decoder's HPACK code (probes/http2/wasm/hpack.c),
 * built with ASan/UBSan by test/decoders/hpack.test.ts for the differential
 * test against hpack.js and for fuzzing.
 *
 * stdin: records `u8 op, u32le len, payload`:
 *   'I' u8 known_start   new table (known start or unknown state)
 *   'L' u32le limit      SETTINGS_HEADER_TABLE_SIZE of the decoding peer
 *   'F'                  forget (as after a gap)
 *   'B' block            decode one header block
 * stdout, per 'B': u8 status (0 ok), and when ok: u32le fields, each
 *   `u8 known, u32le nlen, name, u32le vlen, value`; then u32le entries, u32le size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hpack.h"

static hp_table_t t;
static uint8_t *fields;
static size_t flen, fcap;
static uint32_t nfields;

static void put(const void *p, size_t n) {
  if (flen + n > fcap) {
    fcap = (flen + n) * 2 + 4096;
    fields = realloc(fields, fcap);
  }
  memcpy(fields + flen, p, n);
  flen += n;
}

static void on_field(void *ctx, const hp_field_t *f) {
  (void)ctx;
  uint8_t k = f->known;
  put(&k, 1);
  put(&f->nlen, 4);
  if (f->nlen) put(f->name, f->nlen);
  put(&f->vlen, 4);
  if (f->vlen) put(f->value, f->vlen);
  nfields++;
}

int main(void) {
  hp_table_init(&t, true);
  for (;;) {
    uint8_t op;
    uint32_t len;
    if (fread(&op, 1, 1, stdin) != 1) break;
    if (fread(&len, 4, 1, stdin) != 1) return 2;
    uint8_t *p = malloc(len ? len : 1);
    if (len && fread(p, 1, len, stdin) != len) return 2;
    if (op == 'I') {
      hp_table_free(&t);
      hp_table_init(&t, len > 0 && p[0]);
      if (!(len > 0 && p[0])) hp_table_forget(&t);
    } else if (op == 'L') {
      uint32_t v;
      memcpy(&v, p, 4);
      hp_table_set_limit(&t, v);
    } else if (op == 'F') {
      hp_table_forget(&t);
    } else if (op == 'B') {
      uint64_t list;
      uint32_t unknown;
      flen = 0;
      nfields = 0;
      hp_status_t rc = hp_decode_block(&t, p, len, on_field, NULL, &list, &unknown);
      uint8_t st = (uint8_t)rc;
      fwrite(&st, 1, 1, stdout);
      if (rc == HP_OK) {
        fwrite(&nfields, 4, 1, stdout);
        fwrite(fields, 1, flen, stdout);
        fwrite(&t.count, 4, 1, stdout);
        fwrite(&t.size, 4, 1, stdout);
      } else {
        hp_table_forget(&t); /* what the decoder does after an error */
      }
    }
    free(p);
  }
  hp_table_free(&t);
  if (hp_total_bytes() != 0) {
    fprintf(stderr, "leak: %llu bytes of entries after free\n", (unsigned long long)hp_total_bytes());
    return 3;
  }
  return 0;
}
