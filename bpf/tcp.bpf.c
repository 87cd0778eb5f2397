// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The TCP probe: per-connection state of selected processes, from BTF
 * tracepoints only (no kprobes or fentry on the kernels we target).
 *
 * Attribution: softirq hooks (state changes on receive, resets received) run
 * on behalf of whoever is on the CPU, so a connection's owner is taken only in
 * process context: connect() (CLOSE -> SYN_SENT), the first send/recv syscall
 * on the socket, or close() (-> FIN_WAIT1 / LAST_ACK). Accepted connections
 * and ones that predate the daemon are therefore claimed on first use.
 *
 * Cost: nothing per packet. Byte counts are summed per syscall in the socket
 * map; events go out on open, state change, reset, close and a periodic flush,
 * submitted without waking the consumer until a byte threshold is reached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcp.h"
#include "common/map_sizing.h"
#include "lib/selection.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define MSG_PEEK 2

/* include/net/tcp_states.h */
enum {
	LF_TCP_ESTABLISHED = 1, LF_TCP_SYN_SENT = 2, LF_TCP_SYN_RECV = 3,
	LF_TCP_FIN_WAIT1 = 4, LF_TCP_CLOSE = 7, LF_TCP_LAST_ACK = 9, LF_TCP_LISTEN = 10,
};

const volatile __u64 lf_cfg_wakeup_bytes = 256 * 1024;
const volatile __u8 lf_cfg_emit_state_changes = 1;
const volatile __u8 lf_cfg_capture_data = 0; /* payload capture programs are loaded */

/* Emits BTF for the types of tcp.h so the host reader is generated from them. */
const volatile struct {
	enum lf_tcp_event_kind kind;
	enum lf_tcp_role role;
	enum lf_tcp_event_flag flag;
	enum lf_tcp_stat stat;
	enum lf_tcp_direction direction;
	struct lf_tcp_event event;
	struct lf_tcp_data data;
} lf_tcp_btf_anchor;

/* Per-connection state in socket-local storage: found from the socket pointer
 * without hashing (the send/recv hooks run on every syscall of busy sockets)
 * and freed by the kernel with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lf_tcp_sock);
} lf_tcp_socks SEC(".maps");

static __always_inline struct lf_tcp_sock *lf_sock_get(const struct sock *sk)
{
	return bpf_sk_storage_get(&lf_tcp_socks, (void *)sk, 0, 0);
}

/* What happens to an accepted connection before its owner first touches it
 * (softirq: owner unknown). Handed over when the owner claims it. */
struct lf_tcp_pending {
	__u64 accepted_ns;
	__u32 resets_received;
	__u8 state_before_close;
	__u8 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LF_MAX_PASSIVE_PENDING);
	__type(key, __u64);
	__type(value, struct lf_tcp_pending);
} lf_tcp_passive SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LF_DEFAULT_RINGBUF_BYTES);
} lf_tcp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lf_tcp_stats);
} lf_tcp_stats SEC(".maps");

static __always_inline void lf_stat_inc(enum lf_tcp_stat slot)
{
	__u32 zero = 0;
	struct lf_tcp_stats *stats = bpf_map_lookup_elem(&lf_tcp_stats, &zero);

	if (stats && slot < LF_TCP_STAT_MAX)
		stats->counters[slot]++; /* per-CPU: no atomics needed */
}

static __always_inline bool lf_is_tcp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	return (family == AF_INET || family == AF_INET6) && sk->sk_protocol == IPPROTO_TCP;
}

/* Refreshes the cached 4-tuple from the socket while it is hashed. */
static __always_inline void lf_cache_tuple(struct lf_tcp_sock *s, const struct sock *sk)
{
	__u16 sport = sk->__sk_common.skc_num;

	if (!sport || !sk->__sk_common.skc_dport)
		return;
	s->family = sk->__sk_common.skc_family;
	s->sport = sport;
	s->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (s->family == AF_INET) {
		__builtin_memset(s->saddr, 0, 16);
		__builtin_memset(s->daddr, 0, 16);
		__builtin_memcpy(s->saddr, (void *)&sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(s->daddr, (void *)&sk->__sk_common.skc_daddr, 4);
	} else {
		bpf_probe_read_kernel(s->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(s->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* Fills addresses, counters and owner fields of an event. */
static __always_inline void lf_fill(struct lf_tcp_event *e, const struct sock *sk,
				    struct lf_tcp_sock *s)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	lf_cache_tuple(s, sk);
	e->family = s->family ? s->family : sk->__sk_common.skc_family;
	e->sport = s->sport;
	e->dport = s->dport;
	__builtin_memcpy(e->saddr, s->saddr, 16);
	__builtin_memcpy(e->daddr, s->daddr, 16);
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->ts_ns = bpf_ktime_get_ns();
	e->tgid = s->tgid;
	e->cgroup_id = s->cgroup_id;
	e->role = s->role;
	e->flags = s->flags;
	e->open_ts_ns = s->open_ts_ns;
	__builtin_memcpy(e->comm, s->comm, 16);
	e->bytes_sent = s->bytes_sent;
	e->bytes_received = s->bytes_received;
	e->resets_sent = s->resets_sent;
	e->resets_received = s->resets_received;
	e->_pad0 = 0;
	e->_pad1 = 0;
	if (tp) {
		e->bytes_acked = tp->bytes_acked;
		e->bytes_retrans = bpf_core_field_exists(tp->bytes_retrans) ? tp->bytes_retrans : 0;
		e->total_retrans = tp->total_retrans;
		e->srtt_us = tp->srtt_us >> 3; /* srtt_us is stored <<3 */
		e->snd_cwnd = tp->snd_cwnd;
	} else {
		e->bytes_acked = 0;
		e->bytes_retrans = 0;
		e->total_retrans = 0;
		e->srtt_us = 0;
		e->snd_cwnd = 0;
	}
}

static __always_inline void lf_emit(const struct sock *sk, struct lf_tcp_sock *s,
				    __u8 kind, __u8 old_state, __u8 new_state, __u8 extra_flags)
{
	struct lf_tcp_event *e = bpf_ringbuf_reserve(&lf_tcp_events, sizeof(*e), 0);

	if (!e) {
		lf_stat_inc(LF_TCP_STAT_DROPPED);
		return;
	}
	lf_fill(e, sk, s);
	e->kind = kind;
	e->old_state = old_state;
	e->new_state = new_state;
	e->flags |= extra_flags;
	lf_stat_inc(LF_TCP_STAT_EMITTED);
	/* Waking the consumer per record costs the workload dearly; it polls on
	 * a timer and is woken only when a backlog builds up. */
	__u64 avail = bpf_ringbuf_query(&lf_tcp_events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, avail >= lf_cfg_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* Starts tracking a connection on behalf of the current (selected) process.
 * Returns the map entry, or NULL when the map refused it. */
static __always_inline struct lf_tcp_sock *lf_claim(const struct sock *sk, __u64 cookie, __u32 tgid,
						     __u8 role, __u8 flags)
{
	struct lf_tcp_sock s = {};
	__u64 now = bpf_ktime_get_ns();
	struct lf_tcp_pending *pending = bpf_map_lookup_elem(&lf_tcp_passive, &cookie);

	s.tgid = tgid;
	s.cgroup_id = bpf_get_current_cgroup_id();
	lf_process_comm(s.comm);
	s.open_ts_ns = now;
	s.role = role;
	s.flags = flags;
	if (pending) {
		s.role = LF_TCP_ROLE_SERVER;
		s.open_ts_ns = pending->accepted_ns;
		s.resets_received = pending->resets_received;
		s.state_before_close = pending->state_before_close;
		s.flags &= ~LF_TCP_F_PREEXISTING;
		bpf_map_delete_elem(&lf_tcp_passive, &cookie);
	}
	struct lf_tcp_sock *stored = bpf_sk_storage_get(&lf_tcp_socks, (void *)sk, &s, BPF_SK_STORAGE_GET_F_CREATE);

	if (!stored) {
		lf_stat_inc(LF_TCP_STAT_MAP_FULL);
		return NULL;
	}
	lf_stat_inc(LF_TCP_STAT_TRACKED);
	return stored;
}

#include "tcp_capture.bpf.h"

/* send/recv syscalls: exact payload bytes and the first-use claim. Kept short:
 * it runs on every send and recv of every process. */
static __always_inline int lf_on_io(struct sock *sk, int ret, int flags, bool is_send)
{
	if (ret < 0 || !lf_is_tcp(sk))
		return 0;
	struct lf_tcp_sock *s = lf_sock_get(sk);

	if (!s) {
		__u64 cookie = bpf_get_socket_cookie(sk);
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!lf_current_selected(tgid)) {
			lf_stat_inc(LF_TCP_STAT_FILTERED);
			return 0;
		}
		__u8 state = sk->__sk_common.skc_state;

		s = lf_claim(sk, cookie, tgid, LF_TCP_ROLE_UNKNOWN, LF_TCP_F_PREEXISTING);
		if (!s)
			return 0;
		if (state != LF_TCP_SYN_SENT)
			lf_emit(sk, s, LF_TCP_EV_OPEN, state, state, 0);
		if (s->resets_received) /* the peer reset it before the owner's first read */
			lf_emit(sk, s, LF_TCP_EV_RESET, state, state, LF_TCP_F_RESET_RECEIVED);
	}
	if (lf_cfg_capture_data)
		lf_io_mark(bpf_get_socket_cookie(sk));
	if (is_send)
		__sync_fetch_and_add(&s->bytes_sent, ret);
	else if (!(flags & MSG_PEEK))
		__sync_fetch_and_add(&s->bytes_received, ret);

	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(lf_tcp_send_length, struct sock *sk, int ret, int flags)
{
	return lf_on_io(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(lf_tcp_recv_length, struct sock *sk, int ret, int flags)
{
	return lf_on_io(sk, ret, flags, false);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(lf_tcp_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (!lf_is_tcp(sk))
		return 0;
	__u64 cookie = bpf_get_socket_cookie((void *)sk);

	if (oldstate == LF_TCP_LISTEN && newstate == LF_TCP_SYN_RECV) {
		/* A child of a listener, in softirq: owner unknown until accept()ed. */
		struct lf_tcp_pending pending = { .accepted_ns = bpf_ktime_get_ns() };

		bpf_map_update_elem(&lf_tcp_passive, &cookie, &pending, BPF_ANY);
		return 0;
	}
	struct lf_tcp_sock *s = lf_sock_get(sk);

	if (!s) {
		/* These transitions happen in the owner's connect() or close(). */
		bool process_ctx = newstate == LF_TCP_SYN_SENT || newstate == LF_TCP_FIN_WAIT1 ||
				   newstate == LF_TCP_LAST_ACK;
		if (!process_ctx) {
			struct lf_tcp_pending *pending;

			if (newstate == LF_TCP_CLOSE && (pending = bpf_map_lookup_elem(&lf_tcp_passive, &cookie)))
				pending->state_before_close = oldstate;
			return 0;
		}
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!lf_current_selected(tgid)) {
			lf_stat_inc(LF_TCP_STAT_FILTERED);
			return 0;
		}
		if (newstate == LF_TCP_SYN_SENT)
			return lf_claim(sk, cookie, tgid, LF_TCP_ROLE_CLIENT, 0) ? 0 : 0;
		s = lf_claim(sk, cookie, tgid, LF_TCP_ROLE_UNKNOWN, LF_TCP_F_PREEXISTING);
		if (!s)
			return 0;
		lf_emit(sk, s, LF_TCP_EV_OPEN, oldstate, oldstate, 0);
	}
	if (oldstate == LF_TCP_SYN_SENT && newstate == LF_TCP_ESTABLISHED) {
		s->open_ts_ns = bpf_ktime_get_ns();
		lf_emit(sk, s, LF_TCP_EV_OPEN, oldstate, newstate, 0);
		return 0;
	}
	if (newstate == LF_TCP_CLOSE) {
		/* Not the end yet: the owner may still read what arrived with the
		 * FIN, and an abortive close sends its RST after this. The CLOSE
		 * event goes out when the socket is destroyed. */
		s->state_before_close = oldstate;
		if (oldstate == LF_TCP_SYN_SENT)
			s->flags |= LF_TCP_F_NEVER_ESTABLISHED;
		return 0;
	}
	if (lf_cfg_emit_state_changes)
		lf_emit(sk, s, LF_TCP_EV_STATE, oldstate, newstate, 0);
	return 0;
}

static __always_inline int lf_on_reset(const struct sock *sk, bool sent)
{
	if (!sk || !lf_is_tcp(sk))
		return 0;
	struct lf_tcp_sock *s = lf_sock_get(sk);

	if (!s) {
		struct lf_tcp_pending *pending;
		__u64 cookie = bpf_get_socket_cookie((void *)sk);

		if (!sent && (pending = bpf_map_lookup_elem(&lf_tcp_passive, &cookie)))
			__sync_fetch_and_add(&pending->resets_received, 1);
		return 0;
	}
	if (sent)
		__sync_fetch_and_add(&s->resets_sent, 1);
	else
		__sync_fetch_and_add(&s->resets_received, 1);
	__u8 state = sk->__sk_common.skc_state;

	lf_emit(sk, s, LF_TCP_EV_RESET, state, state,
		sent ? LF_TCP_F_RESET_SENT : LF_TCP_F_RESET_RECEIVED);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(lf_tcp_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	return lf_on_reset(sk, true);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(lf_tcp_receive_reset, struct sock *sk)
{
	return lf_on_reset(sk, false);
}

/* The socket is freed: its owner closed it and the stack is done with it, so
 * every counter is final. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(lf_tcp_destroy_sock, struct sock *sk)
{
	struct lf_tcp_sock *s = lf_sock_get(sk);

	if (!s) {
		__u64 cookie = bpf_get_socket_cookie(sk);

		bpf_map_delete_elem(&lf_tcp_passive, &cookie);
		return 0;
	}
	lf_emit(sk, s, LF_TCP_EV_CLOSE, s->state_before_close, LF_TCP_CLOSE, 0);
	bpf_sk_storage_delete(&lf_tcp_socks, sk);
	return 0;
}

/* A --pid target is gone for good once its group leader is freed (after every
 * thread exited and its sockets closed): forget it at once so a reused pid is
 * never monitored by mistake. The host's rescan reports the exit. */
SEC("tp_btf/sched_process_free")
int BPF_PROG(lf_tcp_process_free, struct task_struct *task)
{
	__u32 tgid = task->tgid;

	if (task->pid == tgid)
		bpf_map_delete_elem(&lf_allow_tgid, &tgid);
	return 0;
}

/* Run by the host every flush interval and at shutdown (never attached): a FLUSH
 * of every tracked connection, with its counters, RTT and window, whatever its
 * network namespace and however idle it is. Writes each flushed connection's
 * cookie to the iterator output so the host can count them. */
SEC("iter/bpf_sk_storage_map")
int lf_tcp_flush_iter(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	struct lf_tcp_sock *s = ctx->value;

	if (!sk || !s)
		return 0;
	__u8 state = sk->__sk_common.skc_state;
	__u64 cookie = bpf_get_socket_cookie(sk);

	lf_emit(sk, s, LF_TCP_EV_FLUSH, state, state, 0);
	bpf_seq_write(ctx->meta->seq, &cookie, sizeof(cookie));
	return 0;
}
