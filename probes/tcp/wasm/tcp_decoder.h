/* Internal interface of the TCP decoder component (probes/tcp/wasm/*.c).
 *
 * Files: arena.c (the guest heap: a bump arena reset between calls),
 * conn_table.c (bounded insertion-ordered hash tables cookie -> connection
 * state), labels.c (label values; IP text from sdk/guest/c/lf_net_fmt.h), decode.c (describe/decode exports).
 * The semantics mirror probes/tcp/decoder.ts + runtime/daemon/tcp-sink.ts; the
 * plain-TypeScript twin is probes/tcp/reference-decoder.ts (keep them in step).
 */
#ifndef LF_TCP_DECODER_H
#define LF_TCP_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
#include "../../../bpf/tcp.h"

_Static_assert(sizeof(struct lf_tcp_event) == 152, "lf_tcp_event layout drifted from probes/tcp/generated/events.ts");
_Static_assert(offsetof(struct lf_tcp_event, open_ts_ns) == 144, "lf_tcp_event layout");

/* Bounds, as in probes/tcp/decoder.ts. */
#define LF_TCP_MAX_CONNS 65536u
#define LF_TCP_CLOSED_KEPT 4096u

/* Label values of a connection, kept as text: pid, comm, role, peer, port. */
enum { L_PID, L_COMM, L_ROLE, L_PEER, L_PORT, L_N };
#define LF_LABEL_BUF 96 /* 10 + 32 (latin1 comm as UTF-8) + 7 + 39 + 5 = 93 */

struct labelset; /* per-batch snapshot, in the arena (decode.c) */

typedef struct conn {
  uint64_t cookie;
  uint64_t sent, received; /* last cumulative counters seen */
  uint32_t retrans;
  uint32_t chash;          /* hash of the cookie (index slot) */
  uint32_t prev, next;     /* insertion order (entry index + 1, 0 = none); free list via next */
  uint32_t lhash;          /* hash of the label values */
  uint32_t epoch;          /* batch in which `ls` was made */
  struct labelset *ls;     /* valid while epoch == the current batch */
  uint8_t opened;
  uint8_t off[L_N + 1];    /* label i is buf[off[i] .. off[i+1]) */
  char buf[LF_LABEL_BUF];
} conn_t;

/* A bounded map cookie -> conn_t that remembers insertion order (oldest first),
 * like a JS Map: open addressing (linear probing, backward-shift deletion). */
typedef struct {
  conn_t *e;
  uint32_t cap;    /* entries */
  uint32_t *idx;   /* slots: 0 empty, else entry index + 1 */
  uint32_t mask;   /* slots - 1 */
  uint32_t head, tail, free_head, used, count;
} table_t;

void table_init(table_t *t, conn_t *entries, uint32_t cap, uint32_t *idx, uint32_t slots);
conn_t *table_get(table_t *t, uint64_t cookie);
/* Appends a zeroed entry for cookie (not present; count < cap). */
conn_t *table_insert(table_t *t, uint64_t cookie);
void table_remove(table_t *t, conn_t *c);
conn_t *table_oldest(table_t *t);

/* Text forms (sdk/guest/c), shared with the http2 decoder. */
#include "lf_net_fmt.h" /* lf_fmt_u64, lf_fmt_ip, lf_fmt_endpoint, lf_comm_utf8 */
const char *lf_role_name(uint8_t role);
const char *lf_state_name(uint8_t state); /* NULL when unnamed: STATE_<n> */
void lf_conn_labels(conn_t *c, const struct lf_tcp_event *ev);

/* arena.c: the first allocation after lf_arena_call_done() starts a new arena. */
void lf_arena_call_done(void);

#endif
