/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Record layouts of the OpenSSL/BoringSSL probe (openssl.bpf.c): the single
 * source of truth shared with the host. probes/openssl/generated/events.ts is
 * generated from the BTF of the compiled object (scripts/gen-event-readers.js).
 *
 * Rules as in tcp.h: only __u* types, explicit _pad fields, first field
 * `__u8 kind`.
 */
#ifndef LIGHTFOOT_OPENSSL_H
#define LIGHTFOOT_OPENSSL_H

/* Plaintext bytes per record; a call moving more is carried across several
 * records (offset), up to lf_cfg_capture_bytes per call. */
#define LF_SSL_CHUNK 8192
/* Records per call at most: the capture limit is <= LF_SSL_CHUNK * LF_SSL_MAX_CHUNKS. */
#define LF_SSL_MAX_CHUNKS 32

enum lf_ssl_event_kind {
	LF_SSL_EV_DATA = 1,  /* plaintext of one SSL_read/SSL_write call, or a chunk of it */
	LF_SSL_EV_CLOSE = 2, /* SSL_free of a connection that carried data */
};

enum lf_ssl_direction {
	LF_SSL_DIR_EGRESS = 0,  /* SSL_write*: the process sent it */
	LF_SSL_DIR_INGRESS = 1, /* SSL_read*: the process received it */
};

/* Which function a uprobe sits on: the low bits of its attach cookie. */
enum lf_ssl_func {
	LF_SSL_FN_READ = 0,
	LF_SSL_FN_WRITE = 1,
	LF_SSL_FN_READ_EX = 2,
	LF_SSL_FN_WRITE_EX = 3,
	LF_SSL_FN_WRITE_EX2 = 4,
};

/* Bits of lf_ssl_data.flags. */
enum lf_ssl_data_flag {
	LF_SSL_F_TRUNCATED = 1, /* the call moved more than the capture limit; the rest is missing */
	LF_SSL_F_UNJOINED = 2,  /* no socket seen for this SSL*: `cookie` is a pseudo id, not a socket cookie */
	LF_SSL_F_READ_FAULT = 4, /* the user buffer could not be read: data[] is empty */
};

/* Slots of the per-CPU lf_ssl_stats array. */
enum lf_ssl_stat {
	LF_SSL_STAT_CALLS = 0,          /* SSL_read/SSL_write calls of selected processes that moved bytes */
	LF_SSL_STAT_EMITTED = 1,        /* records submitted */
	LF_SSL_STAT_DROPPED = 2,        /* records lost: ring buffer full */
	LF_SSL_STAT_TRUNCATED = 3,      /* calls that moved more than the capture limit */
	LF_SSL_STAT_TRUNCATED_BYTES = 4, /* bytes of those calls that were not captured */
	LF_SSL_STAT_UNJOINED = 5,       /* calls whose SSL* had no socket yet */
	LF_SSL_STAT_FILTERED = 6,       /* calls by processes outside the selection */
	LF_SSL_STAT_ARGS_FULL = 7,      /* calls not followed: in-flight map full */
	LF_SSL_STAT_BYTES_SENT = 8,     /* plaintext bytes SSL_write* moved (selected processes) */
	LF_SSL_STAT_BYTES_RECEIVED = 9, /* plaintext bytes SSL_read* moved */
	LF_SSL_STAT_BYTES_CAPTURED = 10, /* bytes of those put in records (submitted or dropped) */
	LF_SSL_STAT_MAX = 11,
};

/* Variable length: the record ends after `captured` bytes of data. */
struct lf_ssl_data {
	__u8 kind;      /* LF_SSL_EV_DATA */
	__u8 direction; /* enum lf_ssl_direction */
	__u8 flags;     /* enum lf_ssl_data_flag bits */
	__u8 func;      /* enum lf_ssl_func */
	__u32 tgid;
	__u64 ts_ns;
	__u64 cookie;   /* socket cookie of the TCP connection (the TCP probe's identity) */
	__u64 ssl;      /* the SSL* in the process */
	__u32 len;      /* bytes the call moved */
	__u32 offset;   /* where this record's bytes start within the call */
	__u32 captured; /* bytes of data[] present */
	__u32 seq;      /* per connection and direction: calls so far (a jump means a lost call) */
	__u8 data[LF_SSL_CHUNK];
};

/* CLOSE. */
struct lf_ssl_event {
	__u8 kind;
	__u8 _pad0[3];
	__u32 tgid;
	__u64 ts_ns;
	__u64 cookie; /* the connection */
	__u64 ssl;
	char comm[16];
};

struct lf_ssl_stats {
	__u64 counters[LF_SSL_STAT_MAX];
	__u64 _pad0[1];
};

/* Key of the comm allow-list of lib/selection.bpf.h (as in tcp.h). */
struct lf_comm_key {
	char comm[16];
};

#endif /* LIGHTFOOT_OPENSSL_H */
