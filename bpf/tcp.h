/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Event layouts of the TCP probe: the single source of truth shared by
 * tcp.bpf.c and the host. The TypeScript reader (probes/tcp/generated/events.ts)
 * is generated from the BTF of the compiled object; `npm run build` regenerates
 * it and a unit test fails when the committed copy drifts.
 *
 * Rules: only __u* types (no kernel types), no packed structs, explicit _pad
 * fields (the build compiles this header with -Wpadded -Werror), first field of
 * every event is `__u8 kind`.
 */
#ifndef LIGHTFOOT_TCP_H
#define LIGHTFOOT_TCP_H

/* What a record in the ring buffer is. */
enum lf_tcp_event_kind {
	LF_TCP_EV_OPEN = 1,    /* connection established (or first seen, see flags) */
	LF_TCP_EV_STATE = 2,   /* TCP state change of a tracked connection */
	LF_TCP_EV_RESET = 3,   /* RST sent or received (flags say which) */
	LF_TCP_EV_CLOSE = 4,   /* socket destroyed (closed by its owner and the stack); counters are final */
	LF_TCP_EV_FLUSH = 5,   /* counter snapshot of a live connection (host-triggered, every flush interval) */
	LF_TCP_EV_DATA = 6,    /* payload bytes of one send/recv syscall (struct lf_tcp_data) */
};

/* Which side opened the connection. */
enum lf_tcp_role {
	LF_TCP_ROLE_UNKNOWN = 0, /* existed before lightfoot started */
	LF_TCP_ROLE_CLIENT = 1,  /* seen in connect() */
	LF_TCP_ROLE_SERVER = 2,  /* seen as a child of a listening socket */
};

/* Bits of lf_tcp_event.flags. */
enum lf_tcp_event_flag {
	LF_TCP_F_PREEXISTING = 1,       /* first seen already established */
	LF_TCP_F_NEVER_ESTABLISHED = 2, /* CLOSE of a connect() that failed */
	LF_TCP_F_RESET_SENT = 4,        /* RESET: we sent it */
	LF_TCP_F_RESET_RECEIVED = 8,    /* RESET: the peer sent it */
	LF_TCP_F_BYTES_UNTRACKED = 16,  /* unused since bytes come from the kernel's own counters; kept for readers */
};

/* Slots of the per-CPU lf_tcp_stats array (conservation: attempted = emitted + dropped). */
enum lf_tcp_stat {
	LF_TCP_STAT_EMITTED = 0,       /* records submitted to the ring buffer */
	LF_TCP_STAT_DROPPED = 1,       /* ring buffer full: record lost */
	LF_TCP_STAT_TRACKED = 2,       /* connections that entered the socket map */
	LF_TCP_STAT_FILTERED = 3,      /* connect/listen/close by processes outside the selection, accepts on a deselected owner's listener */
	LF_TCP_STAT_MAP_FULL = 4,      /* socket map insert failures */
	LF_TCP_STAT_DATA_EMITTED = 5,  /* payload records submitted (data ring buffer) */
	LF_TCP_STAT_DATA_DROPPED = 6,  /* payload records lost: data ring buffer full */
	LF_TCP_STAT_MAX = 7,
};

struct lf_tcp_event {
	__u8 kind;        /* enum lf_tcp_event_kind */
	__u8 family;      /* AF_INET (2) or AF_INET6 (10) */
	__u8 old_state;   /* TCP_* numbering of include/net/tcp_states.h */
	__u8 new_state;
	__u8 role;        /* enum lf_tcp_role */
	__u8 flags;       /* enum lf_tcp_event_flag bits */
	__u16 _pad0;
	__u32 tgid;       /* owning process, taken in process context */
	__u16 sport;      /* host byte order */
	__u16 dport;      /* host byte order */
	__u64 ts_ns;      /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 cookie;     /* socket cookie: unique per socket for the boot */
	__u64 cgroup_id;  /* cgroup v2 id of the owner */
	__u8 saddr[16];   /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	char comm[16];    /* process (group leader) name */
	__u64 bytes_sent;      /* payload bytes the owner wrote (accepted into the send buffer) */
	__u64 bytes_received;  /* payload bytes received in order (whether read yet or not) */
	__u64 bytes_acked;     /* tcp_sock.bytes_acked */
	__u64 bytes_retrans;   /* tcp_sock.bytes_retrans */
	__u32 total_retrans;   /* tcp_sock.total_retrans: retransmitted segments */
	__u32 srtt_us;         /* smoothed RTT, microseconds */
	__u32 snd_cwnd;        /* congestion window, segments */
	__u32 resets_sent;
	__u32 resets_received;
	__u32 _pad1;
	__u64 open_ts_ns;      /* when the connection was opened or first seen */
};

struct lf_tcp_stats {
	__u64 counters[LF_TCP_STAT_MAX];
	__u64 _pad0[1];
};

/* Payload capture, for decoders that subscribe to streams. */
#define LF_TCP_DATA_MAX 8192

enum lf_tcp_direction {
	LF_TCP_DIR_EGRESS = 0,  /* written by the owner */
	LF_TCP_DIR_INGRESS = 1, /* read by the owner */
};

/* Variable length: the record ends after `captured` bytes of data. */
struct lf_tcp_data {
	__u8 kind;        /* LF_TCP_EV_DATA */
	__u8 direction;   /* enum lf_tcp_direction */
	__u16 _pad0;
	__u32 tgid;
	__u64 ts_ns;
	__u64 cookie;
	__u32 len;        /* bytes the syscall moved */
	__u32 captured;   /* bytes of data[] present; < len means the rest was not captured */
	__u8 data[LF_TCP_DATA_MAX];
};

/* Key of the comm allow-list: the kernel's 16-byte, NUL-padded task comm. */
struct lf_comm_key {
	char comm[16];
};

/* Bits of lf_tcp_sock.track: what the byte arithmetic needs to know. */
enum lf_tcp_track_flag {
	LF_TCP_T_COUNTING = 1,   /* baselines taken: bytes are counted from here */
	LF_TCP_T_FIN_QUEUED = 2, /* our FIN is in write_seq (it takes one sequence number) */
	LF_TCP_T_FROZEN = 4,     /* at CLOSE: the *_final values hold (tcp_disconnect zeroes the kernel's) */
	LF_TCP_T_OPENED = 8,     /* an OPEN event went out */
};

/* Per-connection state in the lf_tcp_socks socket storage. Bytes are not
 * summed per syscall: they are the kernel's own per-socket counters
 * (tcp_sock.bytes_acked, write_seq, snd_una, bytes_received) minus the
 * baselines taken when tracking started. Shared with the host so a reader can
 * be generated from it. */
struct lf_tcp_sock {
	__u64 open_ts_ns;
	__u64 cgroup_id;
	__u64 sent_base;       /* kernel send total when counting started */
	__u64 received_base;   /* kernel in-order receive total when counting started */
	__u64 sent_final;      /* valid with LF_TCP_T_FROZEN */
	__u64 received_final;
	char comm[16];
	__u32 tgid;
	__u32 resets_sent;
	__u32 resets_received;
	__u8 role;
	__u8 flags;
	/* The 4-tuple as last seen live: sockets lose their ports when unhashed
	 * at CLOSE, and have none yet at SYN_SENT. */
	__u8 family;
	__u8 state_before_close; /* reported as old_state of the CLOSE event */
	__u16 sport;
	__u16 dport;
	__u8 track;              /* enum lf_tcp_track_flag bits */
	__u8 _pad1[3];
	__u8 saddr[16];
	__u8 daddr[16];
};

#endif /* LIGHTFOOT_TCP_H */
