/* Internal interface of the http2 decoder component (probes/http2/wasm/*.c).
 *
 * Files: hpack.c (HPACK), conn.c (connection and stream tables, TCP identity
 * of each socket), frames.c (HTTP/2 framing per direction, stream lifecycle),
 * report.c (metrics with in-call aggregation, event lines, label rules),
 * decode.c (the describe/decode exports).
 */
#ifndef LF_H2_H
#define LF_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hpack.h"

/* Bounds. */
#define H2_MAX_CONNS 4096u          /* connections with decoder state */
#define H2_MAX_STREAMS 256u         /* concurrent streams tracked per connection */
#define H2_MAX_BLOCK (256u << 10)   /* header block (HEADERS + CONTINUATION) kept for decoding */
#define H2_MAX_LIST (1u << 20)      /* header list size beyond which the block counts as oversized */
#define H2_MAX_RESYNCS 8u           /* per connection, then it is given up */
#define H2_PATH_MAX 192u
#define H2_MSG_MAX 128u             /* grpc-message bytes kept (event lines only) */
#define H2_SYNC_FRAMES 3u           /* consecutive plausible frames to accept a mid-stream start */
#define H2_SYNC_SCAN 16393u         /* bytes scanned for a frame boundary */
#define H2_MAX_TUPLES 16384u

/* Sources: the probe a connection's bytes come from. */
enum { SRC_TCP = 0, SRC_TLS = 1 };

/* Frame types. */
enum { FT_DATA, FT_HEADERS, FT_PRIORITY, FT_RST_STREAM, FT_SETTINGS, FT_PUSH_PROMISE, FT_PING, FT_GOAWAY,
       FT_WINDOW_UPDATE, FT_CONTINUATION, FT_N };
/* Flags. */
#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20

/* Direction modes. */
enum { D_NEW, D_PREFACE, D_FRAMES, D_SYNC, D_DEAD };
/* Field states. */
enum { FS_ABSENT = 0, FS_KNOWN = 1, FS_UNKNOWN = 2 };

typedef struct h2stream {
  uint32_t id;          /* 0 = free slot */
  uint8_t req_blocks, resp_blocks;
  uint8_t end_req, end_resp;
  uint8_t method_st, path_st, status_st, grpc_st, gstatus_st, msg_st, authority_st;
  uint8_t path_len, msg_len, method_len, path_trunc, is_grpc;
  uint16_t status;
  uint16_t grpc_status;
  uint64_t t_start, t_end;
  char method[16];
  char path[H2_PATH_MAX];
  char msg[H2_MSG_MAX];
} h2stream_t;

typedef struct h2dir {
  uint8_t mode;
  uint8_t in_block;      /* a header block awaits CONTINUATION */
  uint8_t block_type;    /* FT_HEADERS or FT_PUSH_PROMISE */
  uint8_t block_flags;   /* flags of the HEADERS frame that opened it */
  uint8_t skip_flags;    /* flags of the DATA frame being skipped */
  uint8_t block_over;    /* block outgrew H2_MAX_BLOCK: decode impossible */
  uint8_t fresh;         /* the direction's first bytes are its real start */
  uint32_t sync_scanned; /* bytes searched for a frame boundary since the last sync */
  uint8_t ping_pending;
  uint8_t settings_seen;
  uint32_t block_stream;
  uint32_t skip;         /* payload bytes of the current frame still to skip */
  uint32_t skip_stream;
  uint32_t block_len, block_cap;
  uint8_t *block;        /* header block fragments */
  uint32_t max_frame;    /* frames in this direction may be this long (peer's SETTINGS_MAX_FRAME_SIZE) */
  uint8_t ping_data[8];
  uint64_t ping_ts;
  hp_table_t table;      /* HPACK table of the encoder sending in this direction */
} h2dir_t;

typedef struct h2conn {
  uint64_t cookie;
  uint8_t src;
  uint8_t is_h2;         /* detected */
  uint8_t dead;          /* given up: bytes consumed and ignored */
  uint8_t midstream;     /* started without the preface */
  int8_t client_dir;     /* direction carrying client->server bytes; -1 unknown */
  uint8_t announced;     /* annotation and connection metric emitted */
  uint8_t resyncs;
  uint8_t side_tentative; /* client_dir guessed from a server's first SETTINGS */
  uint32_t prev, next;   /* insertion order, index + 1 */
  uint32_t nstreams;
  h2stream_t *streams;   /* H2_MAX_STREAMS slots, allocated when the connection is HTTP/2 */
  h2dir_t d[2];
} h2conn_t;

/* What the TCP probe told us about a socket (from its OPEN/FLUSH/CLOSE records). */
typedef struct tuple {
  uint64_t cookie;
  uint32_t tgid;
  uint16_t sport, dport;
  uint8_t family, role, used, preexisting;
  uint8_t saddr[16], daddr[16];
  char comm[16];
} tuple_t;

/* conn.c */
h2conn_t *conn_get(uint64_t cookie, uint8_t src, bool create);
void conn_free(h2conn_t *c);
void conn_free_cookie(uint64_t cookie);
uint32_t conn_count(void);
h2stream_t *stream_get(h2conn_t *c, uint32_t id, bool create);
void stream_free(h2conn_t *c, h2stream_t *s);
void tuple_put(const tuple_t *t);
const tuple_t *tuple_get(uint64_t cookie);
void tuple_drop(uint64_t cookie);

/* Time of a byte in the current segment (frames.c). */
typedef struct {
  uint64_t offs[256], ts[256];
  uint32_t n, cur;
} marks_t;

/* frames.c: parses a segment's bytes from `start`, stopping before a frame
 * that arrived after `until` (its time in *next; UINT64_MAX when it stopped
 * for want of bytes). Returns the offset reached. */
uint32_t h2_feed(h2conn_t *c, uint8_t dir, const uint8_t *p, uint32_t n, uint32_t start, bool gap, marks_t *m,
                 uint64_t until, uint64_t *next);
/* The connection is gone: count its open streams as abandoned. */
void h2_conn_closed(h2conn_t *c);

/* report.c */
void rep_begin(void *out, bool logs);
void rep_end(void);
#define ERR_ABANDONED 0xffffffffu /* rep_stream_end: the connection went away first */
void rep_stream_end(h2conn_t *c, h2stream_t *s, bool reset, uint32_t err, bool reset_local);
void rep_reset(h2conn_t *c, uint32_t stream, uint32_t err, bool local, h2stream_t *s, uint64_t ts);
void rep_goaway(h2conn_t *c, uint32_t last, uint32_t err, uint32_t debug_len, bool local, uint64_t ts);
void rep_ping(h2conn_t *c, bool local, double rtt);
void rep_frame(uint8_t type, uint8_t dir);
void rep_connection(h2conn_t *c);
void rep_resync(const char *reason);
void rep_abandon(h2conn_t *c, const char *reason);
void rep_unknown(const char *field);
void rep_oversized(const char *reason);
void rep_stream_start(h2conn_t *c);
void rep_settings(h2conn_t *c, uint8_t dir, const uint8_t *p, uint32_t n, uint64_t ts);
void rep_tracked(uint32_t n);
/* Deferred stream reports whose socket identity arrived (or that waited long enough). */
void rep_flush_deferred(bool all);
void rep_flush_cookie(uint64_t cookie);
const char *side_name(const h2conn_t *c);

#endif
