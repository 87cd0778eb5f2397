/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Payload capture of the TCP probe, loaded only when a decoder subscribes to
 * streams. A syscall's buffer is remembered at entry; the socket hook inside
 * the syscall says which tracked connection it is; at exit the bytes actually
 * moved are copied (up to lf_cfg_capture_bytes) into the data ring buffer.
 * Included by tcp.bpf.c: it shares the socket map and the stats.
 */
#ifndef LIGHTFOOT_TCP_CAPTURE_BPF_H
#define LIGHTFOOT_TCP_CAPTURE_BPF_H

#define LF_CAPTURE_IOVS 4

/* At most LF_TCP_DATA_MAX - 1 bytes of each syscall. */
const volatile __u32 lf_cfg_capture_bytes = 4096;

struct lf_tcp_io {
	__u64 buf;     /* user buffer, or iovec array when iovcnt > 0 */
	__u64 cookie;  /* set by the socket hook when the fd is a tracked TCP socket */
	__u32 iovcnt;
	__u8 direction;
	__u8 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LF_MAX_IO_IN_FLIGHT);
	__type(key, __u64); /* pid_tgid: one syscall in flight per thread */
	__type(value, struct lf_tcp_io);
} lf_tcp_io SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LF_DEFAULT_RINGBUF_BYTES);
} lf_tcp_data_events SEC(".maps");

/* Room past data[] lets the verifier accept copies at a masked offset of a
 * masked length without proving their sum stays below LF_TCP_DATA_MAX. */
struct lf_tcp_data_scratch {
	struct lf_tcp_data d;
	__u8 slack[LF_TCP_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lf_tcp_data_scratch);
} lf_tcp_data_scratch SEC(".maps");

static __always_inline int lf_io_enter(__u64 buf, __u32 iovcnt, __u8 direction)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!lf_current_selected(id >> 32))
		return 0;
	struct lf_tcp_io io = { .buf = buf, .iovcnt = iovcnt, .direction = direction };

	bpf_map_update_elem(&lf_tcp_io, &id, &io, BPF_ANY);
	return 0;
}

/* Called from the socket hooks (process context, inside the syscall). */
static __always_inline void lf_io_mark(__u64 cookie)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lf_tcp_io *io = bpf_map_lookup_elem(&lf_tcp_io, &id);

	if (io)
		io->cookie = cookie;
}

static __always_inline int lf_io_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lf_tcp_io *io = bpf_map_lookup_elem(&lf_tcp_io, &id);
	__u32 zero = 0;

	if (!io)
		return 0;
	if (!io->cookie || ret <= 0)
		goto out;
	struct lf_tcp_data_scratch *scratch = bpf_map_lookup_elem(&lf_tcp_data_scratch, &zero);

	if (!scratch)
		goto out;
	struct lf_tcp_data *d = &scratch->d;
	__u32 want = ret < lf_cfg_capture_bytes ? ret : lf_cfg_capture_bytes;
	__u32 got = 0;

	if (want > LF_TCP_DATA_MAX - 1)
		want = LF_TCP_DATA_MAX - 1;
	if (!io->iovcnt) {
		if (bpf_probe_read_user(d->data, want & (LF_TCP_DATA_MAX - 1), (void *)io->buf) == 0)
			got = want;
	} else {
		for (int i = 0; i < LF_CAPTURE_IOVS; i++) {
			struct iovec iov;

			if (i >= io->iovcnt || got >= want)
				break;
			if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(io->buf + i * sizeof(iov))))
				break;
			__u32 n = iov.iov_len < want - got ? iov.iov_len : want - got;

			if (bpf_probe_read_user(d->data + (got & (LF_TCP_DATA_MAX - 1)), n & (LF_TCP_DATA_MAX - 1),
						iov.iov_base))
				break;
			got += n;
		}
	}
	d->kind = LF_TCP_EV_DATA;
	d->direction = io->direction;
	d->_pad0 = 0;
	d->tgid = id >> 32;
	d->ts_ns = bpf_ktime_get_ns();
	d->cookie = io->cookie;
	d->len = ret;
	d->captured = got;
	__u64 size = __builtin_offsetof(struct lf_tcp_data, data) + (got & (LF_TCP_DATA_MAX - 1));
	__u64 avail = bpf_ringbuf_query(&lf_tcp_data_events, BPF_RB_AVAIL_DATA);

	if (bpf_ringbuf_output(&lf_tcp_data_events, d, size,
			       avail >= lf_cfg_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP))
		lf_stat_inc(LF_TCP_STAT_DATA_DROPPED);
	else
		lf_stat_inc(LF_TCP_STAT_DATA_EMITTED);
out:
	bpf_map_delete_elem(&lf_tcp_io, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int lf_tcp_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return lf_io_enter(ctx->args[1], 0, LF_TCP_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int lf_tcp_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return lf_io_enter(ctx->args[1], 0, LF_TCP_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int lf_tcp_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return lf_io_enter(ctx->args[1], ctx->args[2], LF_TCP_DIR_EGRESS);
}

SEC("tracepoint/syscalls/sys_enter_read")
int lf_tcp_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return lf_io_enter(ctx->args[1], 0, LF_TCP_DIR_INGRESS);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int lf_tcp_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return lf_io_enter(ctx->args[1], 0, LF_TCP_DIR_INGRESS);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int lf_tcp_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return lf_io_enter(ctx->args[1], ctx->args[2], LF_TCP_DIR_INGRESS);
}

SEC("tracepoint/syscalls/sys_exit_write")
int lf_tcp_exit_write(struct trace_event_raw_sys_exit *ctx) { return lf_io_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int lf_tcp_exit_sendto(struct trace_event_raw_sys_exit *ctx) { return lf_io_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_writev")
int lf_tcp_exit_writev(struct trace_event_raw_sys_exit *ctx) { return lf_io_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_read")
int lf_tcp_exit_read(struct trace_event_raw_sys_exit *ctx) { return lf_io_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int lf_tcp_exit_recvfrom(struct trace_event_raw_sys_exit *ctx) { return lf_io_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_readv")
int lf_tcp_exit_readv(struct trace_event_raw_sys_exit *ctx) { return lf_io_exit(ctx->ret); }

#endif
