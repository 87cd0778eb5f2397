// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The host's exec watcher, loaded when some probe module plans per binary:
 * one record per exec of a selected process (lib/selection.bpf.h), submitted
 * with a wake-up so the planning starts within milliseconds of the exec
 * rather than at the next rescan. Nothing else runs per exec.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "exec.h"
#include "common/map_sizing.h"
#include "lib/selection.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct {
	enum lf_exec_event_kind kind;
	struct lf_exec_event event;
} lf_exec_btf_anchor;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} lf_exec_events SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(lf_exec_seen, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!lf_current_selected(tgid))
		return 0;
	struct lf_exec_event *e = bpf_ringbuf_reserve(&lf_exec_events, sizeof(*e), 0);

	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = LF_EXEC_EV_EXEC;
	e->tgid = tgid;
	e->ts_ns = bpf_ktime_get_ns();
	lf_process_comm(e->comm);
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}
