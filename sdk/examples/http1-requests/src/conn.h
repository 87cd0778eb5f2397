// Per-connection state, keyed by socket cookie: both stream directions and the
// FIFO of requests awaiting their response. Freed when the host reports the
// connection closed.
#ifndef CONN_H
#define CONN_H
#include "http1.h"

#define CONN_MAX 65536     // connections tracked at once; more are not decoded
#define CONN_FIFO 16       // pipelined requests remembered per connection
#define CONN_PATH_MAX 64   // request target bytes kept for the log line

typedef struct {
  uint8_t method;          // METHOD_* index
  uint8_t path_len;
  char path[CONN_PATH_MAX];
} conn_req_t;

typedef struct {
  uint64_t id;             // 0: empty slot
  http1_stream_t dir[2];   // egress, ingress
  bool announced;          // protocol annotation sent
  uint8_t head, count;     // FIFO of requests
  conn_req_t fifo[CONN_FIFO];
  // Responses seen before their request within one batch. The host sends the
  // direction with the earlier new bytes first, so this is rare (a request
  // line still incomplete when its response arrived); such responses pair with
  // the requests that follow in the batch.
  uint8_t orphans;
  uint16_t orphan_status[CONN_FIFO];
} conn_t;

conn_t *conn_get(uint64_t id, bool create); // NULL when absent (or the table is full)
void conn_free(uint64_t id);
size_t conn_count(void);

#endif
