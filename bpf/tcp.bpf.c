// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The TCP probe: per-connection state of selected processes, from BTF
 * tracepoints and iterators only (no kprobes or fentry on the kernels we target).
 *
 * Cost: nothing per send, receive or packet. Bytes are the kernel's own
 * per-socket counters (tcp_sock), read when an event goes out (open, state
 * change, reset, close, and the host's periodic walk of the tracked sockets),
 * minus baselines taken when tracking starts. The hooks that stay attached
 * fire per connection (state changes, resets, destruction), never per request.
 *
 * Attribution happens in process context only (softirq hooks run on behalf of
 * whoever is on the CPU):
 * - connect(): CLOSE -> SYN_SENT, the caller is the client;
 * - listen(): CLOSE -> LISTEN, the caller owns the listener; its mark lives in
 *   socket storage the kernel clones into every child, so an accepted
 *   connection (LISTEN -> SYN_RECV, softirq) knows its owner without any
 *   per-recv hook;
 * - connections and listeners that predate the daemon (or a process that
 *   became selected later): the host runs lf_tcp_claim_iter, which walks the
 *   file tables of the selected processes;
 * - otherwise close() (-> FIN_WAIT1 / LAST_ACK), as a last resort.
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
	LF_TCP_FIN_WAIT1 = 4, LF_TCP_FIN_WAIT2 = 5, LF_TCP_TIME_WAIT = 6, LF_TCP_CLOSE = 7,
	LF_TCP_CLOSE_WAIT = 8, LF_TCP_LAST_ACK = 9, LF_TCP_LISTEN = 10, LF_TCP_CLOSING = 11,
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

/* Who a connection belongs to, taken in process context. */
struct lf_tcp_owner {
	__u64 cgroup_id;
	/* The selected cgroup that matched (0 if selected otherwise): a listener's
	 * children are counted only while its owner is still selected. */
	__u64 matched_cgroup;
	char comm[16];
	__u32 tgid;
	__u32 _pad;
};

/* Listeners of selected processes. BPF_F_CLONE: the kernel copies the mark
 * into each child socket it creates from the listener (sk_clone_lock), which
 * is how an accepted connection learns its owner in softirq. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct lf_tcp_owner);
} lf_tcp_listeners SEC(".maps");

static __always_inline void lf_owner_current(struct lf_tcp_owner *o, __u32 tgid)
{
	o->tgid = tgid;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->matched_cgroup = lf_cfg_filter_cgroup ? lf_cgroup_match() : 0;
	lf_process_comm(o->comm);
	o->_pad = 0;
}

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

/* The kernel's running totals for a socket, as u64 (sequence numbers wrap at
 * 4 GiB, these do not):
 * - sent: bytes acked plus those written but not yet acked. bytes_acked counts
 *   the SYN of an active open (taken out by the baseline) and, like write_seq,
 *   our FIN once it is queued (taken out here);
 * - received: in-order bytes, which count the peer's FIN once it arrived
 *   (tcp_fin() sets SOCK_DONE; tcp_done() and resets do not). */
static __always_inline __u64 lf_kernel_sent(const struct tcp_sock *tp, const struct lf_tcp_sock *s)
{
	__u64 total = tp->bytes_acked + (__u32)(tp->write_seq - tp->snd_una);

	return total - ((s->track & LF_TCP_T_FIN_QUEUED) ? 1 : 0);
}

static __always_inline __u64 lf_kernel_received(const struct tcp_sock *tp)
{
	unsigned long flags = tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags;
	bool fin = flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE));

	return tp->bytes_received - (fin ? 1 : 0);
}

/* Starts counting from the kernel's current totals. */
static __always_inline void lf_start_counting(const struct sock *sk, struct lf_tcp_sock *s)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (!tp)
		return;
	s->sent_base = lf_kernel_sent(tp, s);
	s->received_base = lf_kernel_received(tp);
	s->track |= LF_TCP_T_COUNTING;
}

/* Bytes since counting started (zero before: a connect() that never got through). */
static __always_inline void lf_bytes(const struct tcp_sock *tp, const struct lf_tcp_sock *s,
				     __u64 *sent, __u64 *received)
{
	if (s->track & LF_TCP_T_FROZEN) {
		*sent = s->sent_final;
		*received = s->received_final;
	} else if ((s->track & LF_TCP_T_COUNTING) && tp) {
		*sent = lf_kernel_sent(tp, s) - s->sent_base;
		*received = lf_kernel_received(tp) - s->received_base;
	} else {
		*sent = 0;
		*received = 0;
	}
}

/* At CLOSE the counts are final: keep them, because tcp_disconnect() (also
 * what close() with SO_LINGER 0 does) zeroes the kernel's counters next. */
static __always_inline void lf_freeze(const struct sock *sk, struct lf_tcp_sock *s)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	__u64 sent, received;

	if (s->track & LF_TCP_T_FROZEN)
		return;
	lf_bytes(tp, s, &sent, &received);
	s->sent_final = sent;
	s->received_final = received;
	s->track |= LF_TCP_T_FROZEN;
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
	lf_bytes(tp, s, &e->bytes_sent, &e->bytes_received);
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

	if (kind == LF_TCP_EV_OPEN)
		s->track |= LF_TCP_T_OPENED;
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

/* Starts tracking a connection on behalf of `owner`. Returns the storage, or
 * NULL when the kernel refused it. */
static __always_inline struct lf_tcp_sock *lf_claim(const struct sock *sk, const struct lf_tcp_owner *owner,
						     __u8 role, __u8 flags)
{
	struct lf_tcp_sock s = {};

	s.tgid = owner->tgid;
	s.cgroup_id = owner->cgroup_id;
	__builtin_memcpy(s.comm, owner->comm, 16);
	s.open_ts_ns = bpf_ktime_get_ns();
	s.role = role;
	s.flags = flags;
	struct lf_tcp_sock *stored = bpf_sk_storage_get(&lf_tcp_socks, (void *)sk, &s, BPF_SK_STORAGE_GET_F_CREATE);

	if (!stored) {
		lf_stat_inc(LF_TCP_STAT_MAP_FULL);
		return NULL;
	}
	lf_stat_inc(LF_TCP_STAT_TRACKED);
	return stored;
}

/* Our FIN is queued right after the transitions to FIN_WAIT1 and LAST_ACK
 * (tcp_close_state(), then tcp_send_fin()); states past them have it. */
static __always_inline bool lf_fin_queued_in(int state)
{
	return state == LF_TCP_FIN_WAIT2 || state == LF_TCP_CLOSING || state == LF_TCP_TIME_WAIT ||
	       state == LF_TCP_LAST_ACK || state == LF_TCP_FIN_WAIT1;
}

/* Tracks a connection found already open (state `state`): counting starts now. */
static __always_inline struct lf_tcp_sock *lf_claim_open(const struct sock *sk, const struct lf_tcp_owner *owner,
							  int state, bool fin_queued)
{
	struct lf_tcp_sock *s = lf_claim(sk, owner, LF_TCP_ROLE_UNKNOWN, LF_TCP_F_PREEXISTING);

	if (!s)
		return NULL;
	if (fin_queued)
		s->track |= LF_TCP_T_FIN_QUEUED;
	lf_start_counting(sk, s);
	lf_emit(sk, s, LF_TCP_EV_OPEN, state, state, 0);
	return s;
}

/* Notes of the host's walk (see lf_tcp_adopt_iter below). */
struct lf_tcp_adoption {
	struct lf_tcp_owner owner;
	__u64 sent_total;
	__u64 received_total;
	__u8 listening;
	__u8 fin_queued;
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LF_MAX_ADOPTIONS);
	__type(key, __u64); /* the socket's address */
	__type(value, struct lf_tcp_adoption);
} lf_tcp_adopt SEC(".maps");

/* Takes over a noted socket; returns whether it did. */
static __always_inline bool lf_adopt(const struct sock *sk, const struct lf_tcp_adoption *a, int state)
{
	if (a->listening) {
		if (bpf_sk_storage_get(&lf_tcp_listeners, (void *)sk, 0, 0))
			return false;
		return !!bpf_sk_storage_get(&lf_tcp_listeners, (void *)sk, (void *)&a->owner, BPF_SK_STORAGE_GET_F_CREATE);
	}
	if (lf_sock_get(sk))
		return false; /* claimed meanwhile, by connect() */
	struct lf_tcp_sock *s = lf_claim(sk, &a->owner, LF_TCP_ROLE_UNKNOWN, LF_TCP_F_PREEXISTING);

	if (!s)
		return false;
	if (a->fin_queued)
		s->track |= LF_TCP_T_FIN_QUEUED;
	s->sent_base = a->sent_total;
	s->received_base = a->received_total;
	s->track |= LF_TCP_T_COUNTING;
	lf_emit(sk, s, LF_TCP_EV_OPEN, state, state, 0);
	return true;
}

#include "tcp_capture.bpf.h"

/* send/recv of payload-capturing runs only (loaded with lf_tcp_capture):
 * tells the syscall exit which tracked connection the bytes belong to. */
static __always_inline int lf_on_io(struct sock *sk, int ret)
{
	if (!lf_cfg_capture_data || ret <= 0 || !lf_is_tcp(sk) || !lf_sock_get(sk))
		return 0;
	lf_io_mark(bpf_get_socket_cookie(sk));
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(lf_tcp_send_length, struct sock *sk, int ret, int flags)
{
	return lf_on_io(sk, ret);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(lf_tcp_recv_length, struct sock *sk, int ret, int flags)
{
	return lf_on_io(sk, ret);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(lf_tcp_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (!lf_is_tcp(sk))
		return 0;
	if (oldstate == LF_TCP_LISTEN && newstate == LF_TCP_SYN_RECV) {
		/* A child of a listener, in softirq: its owner is the listener's,
		 * whose mark the kernel has just cloned into it. */
		struct lf_tcp_owner *mark = bpf_sk_storage_get(&lf_tcp_listeners, (void *)sk, 0, 0);

		if (!mark)
			return 0;
		struct lf_tcp_owner owner = *mark;

		bpf_sk_storage_delete(&lf_tcp_listeners, (void *)sk);
		/* The selection may have shrunk since listen() (a pod unlabelled, a
		 * --pid dropped): the listener keeps its mark, its children are not
		 * claimed while the owner is out of the selection. */
		if (!lf_recorded_selected(owner.tgid, owner.comm, owner.matched_cgroup)) {
			lf_stat_inc(LF_TCP_STAT_FILTERED);
			return 0;
		}
		lf_claim(sk, &owner, LF_TCP_ROLE_SERVER, 0);
		return 0;
	}
	struct lf_tcp_sock *s = lf_sock_get(sk);

	if (!s) {
		__u64 key = (__u64)sk;
		struct lf_tcp_adoption *a = bpf_map_lookup_elem(&lf_tcp_adopt, &key);

		if (a) {
			/* Noted by the host's walk in another network namespace. */
			bool adopted = lf_adopt(sk, a, oldstate);

			bpf_map_delete_elem(&lf_tcp_adopt, &key);
			s = adopted ? lf_sock_get(sk) : NULL;
			if (!s)
				return 0;
			goto tracked;
		}
		/* These transitions happen in the owner's connect(), listen() or close(). */
		bool process_ctx = newstate == LF_TCP_SYN_SENT || newstate == LF_TCP_LISTEN ||
				   newstate == LF_TCP_FIN_WAIT1 || newstate == LF_TCP_LAST_ACK;
		if (!process_ctx)
			return 0;
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!lf_current_selected(tgid)) {
			lf_stat_inc(LF_TCP_STAT_FILTERED);
			return 0;
		}
		struct lf_tcp_owner owner;

		lf_owner_current(&owner, tgid);
		if (newstate == LF_TCP_LISTEN) {
			bpf_sk_storage_get(&lf_tcp_listeners, (void *)sk, &owner, BPF_SK_STORAGE_GET_F_CREATE);
			return 0;
		}
		if (newstate == LF_TCP_SYN_SENT) {
			lf_claim(sk, &owner, LF_TCP_ROLE_CLIENT, 0);
			return 0;
		}
		/* Last resort: first seen at close (FIN not queued yet). */
		s = lf_claim_open(sk, &owner, oldstate, false);
		if (!s)
			return 0;
	}
tracked:
	if ((oldstate == LF_TCP_SYN_SENT || oldstate == LF_TCP_SYN_RECV) && newstate == LF_TCP_ESTABLISHED) {
		/* The handshake is done (the SYN acked): bytes count from here. */
		if (oldstate == LF_TCP_SYN_SENT)
			s->open_ts_ns = bpf_ktime_get_ns();
		lf_start_counting(sk, s);
		lf_emit(sk, s, LF_TCP_EV_OPEN, oldstate, newstate, 0);
		return 0;
	}
	if (newstate == LF_TCP_CLOSE) {
		/* Not the end yet: an abortive close sends its RST after this. The
		 * CLOSE event goes out when the socket is destroyed. */
		s->state_before_close = oldstate;
		if (oldstate == LF_TCP_SYN_SENT)
			s->flags |= LF_TCP_F_NEVER_ESTABLISHED;
		lf_freeze(sk, s);
		return 0;
	}
	if (lf_cfg_emit_state_changes && (s->track & LF_TCP_T_OPENED))
		lf_emit(sk, s, LF_TCP_EV_STATE, oldstate, newstate, 0);
	if (newstate == LF_TCP_FIN_WAIT1 || newstate == LF_TCP_LAST_ACK)
		s->track |= LF_TCP_T_FIN_QUEUED; /* tcp_send_fin() follows */
	return 0;
}

static __always_inline int lf_on_reset(const struct sock *sk, bool sent)
{
	if (!sk || !lf_is_tcp(sk))
		return 0;
	struct lf_tcp_sock *s = lf_sock_get(sk);

	if (!s)
		return 0;
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
		__u64 key = (__u64)sk;

		bpf_map_delete_elem(&lf_tcp_adopt, &key);
		return 0;
	}
	/* A failed connect() is reported (a connect failure); a child that never
	 * completed its handshake was never a connection. */
	if ((s->track & LF_TCP_T_OPENED) || s->role == LF_TCP_ROLE_CLIENT) {
		lf_freeze(sk, s);
		lf_emit(sk, s, LF_TCP_EV_CLOSE, s->state_before_close, LF_TCP_CLOSE, 0);
	}
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
 * of every tracked connection of the daemon's network namespace, with its
 * counters, RTT and window, however idle it is. Writes each flushed
 * connection's cookie to the iterator output so the host can count them.
 * (A walk of the socket storage itself, which would cover every namespace,
 * is refused by some kernels: map-element iterators fail with EPERM.) */
SEC("iter/tcp")
int lf_tcp_flush_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	if (!skc)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);

	if (!tp)
		return 0; /* request and time-wait sockets */
	struct sock *sk = (struct sock *)tp;
	struct lf_tcp_sock *s = lf_sock_get(sk);

	if (!s || !(s->track & LF_TCP_T_OPENED))
		return 0;
	__u8 state = sk->__sk_common.skc_state;
	__u64 cookie = bpf_get_socket_cookie(sk);

	lf_emit(sk, s, LF_TCP_EV_FLUSH, state, state, 0);
	bpf_seq_write(ctx->meta->seq, &cookie, sizeof(cookie));
	return 0;
}

/* Taking over what selected processes already had open (the daemon started,
 * or a rescan found a new target), in two walks the host runs back to back:
 * 1. lf_tcp_adopt_iter goes through every process's open files and notes, for
 *    each TCP socket of a selected process, its owner and the kernel's byte
 *    totals now (a socket reached from a file is a pointer the verifier does
 *    not trust, so it cannot get socket storage here);
 * 2. lf_tcp_claim_iter goes through the TCP sockets of the daemon's network
 *    namespace (trusted pointers) and takes over the noted ones: listeners get
 *    their mark, open connections are tracked as preexisting from the totals
 *    of step 1.
 * Notes for sockets of other network namespaces wait for the socket's next
 * state change (lf_tcp_set_state) or its destruction, which drops them. */
SEC("iter/task_file")
int lf_tcp_adopt_iter(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!task || !file)
		return 0;
	struct socket *sock = bpf_sock_from_file(file);

	if (!sock)
		return 0;
	struct sock *sk = BPF_CORE_READ(sock, sk);

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);

	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (state != LF_TCP_LISTEN && state != LF_TCP_ESTABLISHED && state != LF_TCP_CLOSE_WAIT && !lf_fin_queued_in(state))
		return 0; /* not connected (yet or any more) */
	if (!lf_task_selected(task))
		return 0;
	struct lf_tcp_adoption a = {};
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	a.owner.tgid = BPF_CORE_READ(task, tgid);
	a.owner.cgroup_id = lf_task_cgroup_id(task);
	a.owner.matched_cgroup = lf_cfg_filter_cgroup ? lf_task_cgroup_match(task) : 0;
	bpf_probe_read_kernel(a.owner.comm, 16, &leader->comm);
	a.listening = state == LF_TCP_LISTEN;
	a.fin_queued = lf_fin_queued_in(state);
	/* The same totals as lf_kernel_sent()/lf_kernel_received(), read by probe. */
	a.sent_total = BPF_CORE_READ(tp, bytes_acked) +
		       (__u32)(BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_una)) - a.fin_queued;
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);

	a.received_total = BPF_CORE_READ(tp, bytes_received) -
			   ((flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) ? 1 : 0);
	__u64 key = (__u64)sk;

	bpf_map_update_elem(&lf_tcp_adopt, &key, &a, BPF_NOEXIST);
	return 0;
}

/* Step 2; writes the cookie of each socket it took over. */
SEC("iter/tcp")
int lf_tcp_claim_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	if (!skc)
		return 0;
	__u64 key = (__u64)skc;
	struct lf_tcp_adoption *a = bpf_map_lookup_elem(&lf_tcp_adopt, &key);

	if (!a)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);

	if (tp) {
		struct sock *sk = (struct sock *)tp;

		if (lf_adopt(sk, a, sk->__sk_common.skc_state)) {
			__u64 cookie = bpf_get_socket_cookie(sk);

			bpf_seq_write(ctx->meta->seq, &cookie, sizeof(cookie));
		}
	}
	bpf_map_delete_elem(&lf_tcp_adopt, &key);
	return 0;
}
