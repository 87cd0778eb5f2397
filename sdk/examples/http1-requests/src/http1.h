// HTTP/1.x message framing over one stream direction: start lines, headers,
// Content-Length and chunked bodies. Knows nothing of the WIT output; it calls
// back for each start line it recognises.
#ifndef HTTP1_H
#define HTTP1_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Longest start/header line kept across segments; longer ones are dropped and
// the parser resyncs at the next line start (bounded memory per stream).
#define HTTP1_MAX_LINE 8192

enum http1_state {
  H1_RESYNC,      // after a gap or garbage: skip to the next line start, then look for a start line
  H1_START,       // expecting a request or status line
  H1_HEADERS,     // header lines until the empty line
  H1_BODY,        // `remaining` body bytes
  H1_CHUNK_SIZE,  // chunked: size line
  H1_CHUNK_DATA,  // chunked: `remaining` data bytes + CRLF
  H1_TRAILERS,    // chunked: trailer lines until the empty line
  H1_UNTIL_CLOSE, // response body delimited by the connection close
};

typedef struct {
  uint8_t state;
  bool in_resync_line;  // RESYNC: still inside the line where bytes were lost
  bool is_response;     // the message being framed is a response
  bool chunked;
  bool has_length;
  bool no_body;         // response to HEAD, 1xx, 204, 304
  uint64_t remaining;
} http1_stream_t;

// A start line found in the stream. `method`/`target` for requests, `status` for responses.
typedef struct {
  bool is_response;
  const uint8_t *method; size_t method_len;
  const uint8_t *target; size_t target_len;
  unsigned status;
} http1_start_t;

// Called for each start line; returns true when the response has no body
// (the caller knows the request method: HEAD).
typedef bool (*http1_on_start)(void *ctx, const http1_start_t *start);

// Parses data[0..len); returns how many bytes were consumed (the rest is an
// incomplete line the host should keep and hand back with more data).
size_t http1_feed(http1_stream_t *s, const uint8_t *data, size_t len, http1_on_start cb, void *ctx);

#endif
