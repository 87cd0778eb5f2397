// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The OpenSSL/BoringSSL probe: plaintext of SSL_read/SSL_write (and the _ex,
 * _ex2 forms) in selected processes, joined to the TCP connection.
 *
 * Attachment is per binary (a uprobe lives on an inode), planned by the
 * module's planner; every program filters the current process in the kernel
 * (lib/selection.bpf.h), so each selected process is traced once and the
 * others pay one map lookup per call.
 *
 * Which socket an SSL* belongs to (version-agnostic, no struct offsets): the
 * socket syscall the same thread makes inside the call (libssl with a socket
 * BIO: curl, Python, gRPC C++), or else the thread's socket receive just before
 * SSL_read (a memory BIO fed by the caller: Node). The binding is kept per
 * (process, SSL*) and dropped at SSL_free. The socket hooks return at once for
 * threads that never entered an SSL call of a selected process.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "openssl.h"
#include "common/map_sizing.h"
#include "lib/selection.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* Bytes captured per call at most (<= LF_SSL_CHUNK * LF_SSL_MAX_CHUNKS). */
const volatile __u32 lf_cfg_capture_bytes = 65536;
const volatile __u64 lf_cfg_wakeup_bytes = 256 * 1024;

/* Emits BTF for the types of openssl.h so the host reader is generated from them. */
const volatile struct {
	enum lf_ssl_event_kind kind;
	enum lf_ssl_direction direction;
	enum lf_ssl_func func;
	enum lf_ssl_data_flag flag;
	enum lf_ssl_stat stat;
	struct lf_ssl_data data;
	struct lf_ssl_event event;
	struct lf_ssl_stats stats;
} lf_ssl_btf_anchor;

/* Per thread: the call in flight and the thread's last socket send/recv. */
struct lf_ssl_thread {
	__u64 ssl;         /* 0: no call in flight */
	__u64 buf;
	__u64 out_len;     /* _ex forms: size_t *readbytes / *written */
	__u64 send_cookie; /* last TCP socket this thread sent on */
	__u64 recv_cookie; /* ... and received on */
	__u32 sends;       /* socket sends / receives so far */
	__u32 recvs;
	__u32 entry_sends; /* ... when the call in flight began */
	__u32 entry_recvs;
	__u32 exit_recvs;  /* ... when the last call ended: more since then = a fresh receive */
	__u32 _pad0;
	__u8 func;
	__u8 depth;        /* nested SSL calls (SSL_write_ex -> SSL_write_ex2) */
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LF_MAX_IO_IN_FLIGHT);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct lf_ssl_thread);
} lf_ssl_threads SEC(".maps");

struct lf_ssl_conn_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

struct lf_ssl_conn {
	__u64 cookie;
	__u32 seq[2];
	__u8 joined;
	__u8 _pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LF_MAX_SSL_CONNS);
	__type(key, struct lf_ssl_conn_key);
	__type(value, struct lf_ssl_conn);
} lf_ssl_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LF_DEFAULT_RINGBUF_BYTES);
} lf_ssl_data_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} lf_ssl_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lf_ssl_data);
} lf_ssl_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lf_ssl_stats);
} lf_ssl_stats SEC(".maps");

static __always_inline void lf_stat_add(enum lf_ssl_stat slot, __u64 n)
{
	__u32 zero = 0;
	struct lf_ssl_stats *s = bpf_map_lookup_elem(&lf_ssl_stats, &zero);

	if (s && slot < LF_SSL_STAT_MAX)
		s->counters[slot] += n;
}

static __always_inline int lf_ssl_enter(struct pt_regs *ctx, void *ssl, const void *buf, __u64 out_len)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lf_ssl_thread *t = bpf_map_lookup_elem(&lf_ssl_threads, &id);

	if (t && t->ssl) {
		if (t->depth < 255)
			t->depth++;
		return 0;
	}
	if (!t) {
		if (!lf_current_selected(id >> 32)) {
			lf_stat_add(LF_SSL_STAT_FILTERED, 1);
			return 0;
		}
		struct lf_ssl_thread fresh = {};

		if (bpf_map_update_elem(&lf_ssl_threads, &id, &fresh, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&lf_ssl_threads, &id)) {
			lf_stat_add(LF_SSL_STAT_ARGS_FULL, 1);
			return 0;
		}
		t = bpf_map_lookup_elem(&lf_ssl_threads, &id);
		if (!t)
			return 0;
	}
	t->ssl = (__u64)ssl;
	t->buf = (__u64)buf;
	t->out_len = out_len;
	t->func = (__u8)bpf_get_attach_cookie(ctx);
	t->depth = 0;
	t->entry_sends = t->sends;
	t->entry_recvs = t->recvs;
	return 0;
}

/* The socket of this call: see the file comment for the order. */
static __always_inline __u64 lf_join(struct lf_ssl_thread *t, struct lf_ssl_conn *c, bool egress)
{
	if (egress ? t->sends != t->entry_sends : t->recvs != t->entry_recvs)
		return egress ? t->send_cookie : t->recv_cookie;
	/* A memory BIO (Node) is fed from a socket read made just before SSL_read,
	 * in the same callback; only a read since the thread's previous SSL call
	 * counts, never an old one. A write keeps its connection's binding (a fresh
	 * read may be another socket's) and falls back to that read only before
	 * the first binding (a client's first write follows the read that finished
	 * its handshake). */
	bool fresh = t->recv_cookie && t->recvs != t->exit_recvs;

	if (!egress && fresh)
		return t->recv_cookie;
	if (c && c->joined)
		return c->cookie;
	if (fresh)
		return t->recv_cookie;
	return 0;
}

static __always_inline void lf_emit_data(struct lf_ssl_thread *t, struct lf_ssl_conn *c, __u32 tgid,
					 __u64 moved, __u8 dir)
{
	__u32 zero = 0;
	struct lf_ssl_data *d = bpf_map_lookup_elem(&lf_ssl_scratch, &zero);

	if (!d)
		return;
	__u32 limit = lf_cfg_capture_bytes;
	__u32 len = moved > 0xffffffffULL ? 0xffffffff : (__u32)moved;
	__u32 want = len < limit ? len : limit;
	__u8 flags = c->joined ? 0 : LF_SSL_F_UNJOINED;

	if (want < len) {
		flags |= LF_SSL_F_TRUNCATED;
		lf_stat_add(LF_SSL_STAT_TRUNCATED, 1);
		lf_stat_add(LF_SSL_STAT_TRUNCATED_BYTES, len - want);
	}
	if (!c->joined)
		lf_stat_add(LF_SSL_STAT_UNJOINED, 1);
	lf_stat_add(LF_SSL_STAT_CALLS, 1);
	lf_stat_add(dir == LF_SSL_DIR_EGRESS ? LF_SSL_STAT_BYTES_SENT : LF_SSL_STAT_BYTES_RECEIVED, len);
	__u32 seq = c->seq[dir & 1]++;

	for (int i = 0; i < LF_SSL_MAX_CHUNKS; i++) {
		__u32 off = i * LF_SSL_CHUNK;

		if (i > 0 && off >= want)
			break;
		__u32 n = want > off ? want - off : 0;

		if (n > LF_SSL_CHUNK)
			n = LF_SSL_CHUNK;
		d->kind = LF_SSL_EV_DATA;
		d->direction = dir;
		d->flags = flags;
		d->func = t->func;
		d->tgid = tgid;
		d->ts_ns = bpf_ktime_get_ns();
		d->cookie = c->cookie;
		d->ssl = t->ssl;
		d->len = len;
		d->offset = off;
		d->seq = seq;
		if (n && bpf_probe_read_user(d->data, n, (void *)(t->buf + off))) {
			d->flags |= LF_SSL_F_READ_FAULT;
			n = 0;
		}
		d->captured = n;
		lf_stat_add(LF_SSL_STAT_BYTES_CAPTURED, n);
		__u64 avail = bpf_ringbuf_query(&lf_ssl_data_events, BPF_RB_AVAIL_DATA);

		if (bpf_ringbuf_output(&lf_ssl_data_events, d, __builtin_offsetof(struct lf_ssl_data, data) + n,
				       avail >= lf_cfg_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP))
			lf_stat_add(LF_SSL_STAT_DROPPED, 1);
		else
			lf_stat_add(LF_SSL_STAT_EMITTED, 1);
	}
}

static __always_inline int lf_ssl_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lf_ssl_thread *t = bpf_map_lookup_elem(&lf_ssl_threads, &id);

	if (!t || !t->ssl)
		return 0;
	if (t->depth) {
		t->depth--;
		return 0;
	}
	__u8 func = t->func;
	bool egress = func == LF_SSL_FN_WRITE || func == LF_SSL_FN_WRITE_EX || func == LF_SSL_FN_WRITE_EX2;
	long rc = PT_REGS_RC(ctx);
	__u64 moved = 0;

	if (func == LF_SSL_FN_READ || func == LF_SSL_FN_WRITE) {
		if ((int)rc > 0)
			moved = (int)rc;
	} else if ((int)rc == 1 && t->out_len) {
		bpf_probe_read_user(&moved, sizeof(moved), (void *)t->out_len);
	}

	struct lf_ssl_conn_key key = { .ssl = t->ssl, .tgid = id >> 32 };
	struct lf_ssl_conn *c = bpf_map_lookup_elem(&lf_ssl_conns, &key);
	__u64 cookie = lf_join(t, c, egress);

	if (cookie && (!c || !c->joined || c->cookie != cookie)) {
		struct lf_ssl_conn fresh = { .cookie = cookie, .joined = 1 };

		if (c) {
			c->cookie = cookie;
			c->joined = 1;
		} else {
			bpf_map_update_elem(&lf_ssl_conns, &key, &fresh, BPF_ANY);
		}
	}
	if (moved) {
		c = bpf_map_lookup_elem(&lf_ssl_conns, &key);
		if (!c) {
			/* Not joined (yet): a pseudo id that cannot be a socket cookie. */
			struct lf_ssl_conn fresh = {
				.cookie = (1ULL << 63) | (((__u64)(id >> 32) << 47) ^ (t->ssl & ((1ULL << 47) - 1))),
			};

			bpf_map_update_elem(&lf_ssl_conns, &key, &fresh, BPF_ANY);
			c = bpf_map_lookup_elem(&lf_ssl_conns, &key);
		}
		if (c)
			lf_emit_data(t, c, id >> 32, moved, egress ? LF_SSL_DIR_EGRESS : LF_SSL_DIR_INGRESS);
	}
	t->exit_recvs = t->recvs;
	t->ssl = 0;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(lf_ssl_rw_enter, void *ssl, const void *buf)
{
	return lf_ssl_enter(ctx, ssl, buf, 0);
}

/* SSL_read_ex / SSL_write_ex (ssl, buf, num, size_t *out). */
SEC("uprobe")
int BPF_KPROBE(lf_ssl_rw_ex_enter, void *ssl, const void *buf, __u64 num, void *out)
{
	return lf_ssl_enter(ctx, ssl, buf, (__u64)out);
}

/* SSL_write_ex2 (ssl, buf, num, flags, size_t *written). */
SEC("uprobe")
int BPF_KPROBE(lf_ssl_write_ex2_enter, void *ssl, const void *buf, __u64 num, __u64 flags, void *out)
{
	return lf_ssl_enter(ctx, ssl, buf, (__u64)out);
}

SEC("uretprobe")
int BPF_KRETPROBE(lf_ssl_rw_exit)
{
	return lf_ssl_exit(ctx);
}

SEC("uprobe")
int BPF_KPROBE(lf_ssl_free, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lf_ssl_conn_key key = { .ssl = (__u64)ssl, .tgid = id >> 32 };
	struct lf_ssl_conn *c = bpf_map_lookup_elem(&lf_ssl_conns, &key);

	if (!c)
		return 0;
	struct lf_ssl_event *e = bpf_ringbuf_reserve(&lf_ssl_events, sizeof(*e), 0);

	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->kind = LF_SSL_EV_CLOSE;
		e->tgid = id >> 32;
		e->ts_ns = bpf_ktime_get_ns();
		e->cookie = c->cookie;
		e->ssl = (__u64)ssl;
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	bpf_map_delete_elem(&lf_ssl_conns, &key);
	return 0;
}

static __always_inline bool lf_is_tcp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	return (family == AF_INET || family == AF_INET6) && sk->sk_protocol == IPPROTO_TCP;
}

/* Socket sends/receives of threads that have made SSL calls (the join). Attached
 * only while some binary has this module's uprobes. */
static __always_inline int lf_ssl_on_sock(struct sock *sk, int ret, bool send)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lf_ssl_thread *t = bpf_map_lookup_elem(&lf_ssl_threads, &id);

	if (!t || ret <= 0 || !lf_is_tcp(sk))
		return 0;
	__u64 cookie = bpf_get_socket_cookie(sk);

	if (send) {
		t->send_cookie = cookie;
		t->sends++;
	} else {
		t->recv_cookie = cookie;
		t->recvs++;
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(lf_ssl_sock_send, struct sock *sk, int ret, int flags)
{
	return lf_ssl_on_sock(sk, ret, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(lf_ssl_sock_recv, struct sock *sk, int ret, int flags)
{
	return lf_ssl_on_sock(sk, ret, false);
}
