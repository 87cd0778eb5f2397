/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Record layout of the host's exec watcher (exec.bpf.c): a selected process
 * replaced its image, so probe modules that plan per binary plan it now
 * instead of at the next rescan. probes/exec/generated/events.ts is generated
 * from it.
 */
#ifndef LIGHTFOOT_EXEC_H
#define LIGHTFOOT_EXEC_H

enum lf_exec_event_kind {
	LF_EXEC_EV_EXEC = 1,
};

struct lf_exec_event {
	__u8 kind;     /* LF_EXEC_EV_EXEC */
	__u8 _pad0[3];
	__u32 tgid;
	__u64 ts_ns;   /* bpf_ktime_get_ns() at the exec */
	char comm[16]; /* the new image's name */
};

/* Key of the comm allow-list of lib/selection.bpf.h (as in tcp.h). */
struct lf_comm_key {
	char comm[16];
};

#endif /* LIGHTFOOT_EXEC_H */
