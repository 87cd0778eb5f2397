/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Process selection shared by every probe: is the current task one the user
 * asked to monitor? Decided from process context only (softirq hooks run on
 * behalf of whoever happened to be on the CPU, so they must not call this).
 *
 * The allow-lists are maps the host updates at run time (--pid, --comm,
 * --cgroup); which lists exist at all is fixed at load through rodata, so the
 * verifier prunes the checks a run does not use.
 */
#ifndef LIGHTFOOT_SELECTION_BPF_H
#define LIGHTFOOT_SELECTION_BPF_H

#include "../common/map_sizing.h"
#include <bpf/bpf_core_read.h>

const volatile __u8 lf_cfg_select_all = 0;
const volatile __u8 lf_cfg_filter_comm = 0;
const volatile __u8 lf_cfg_filter_cgroup = 0;
const volatile __u32 lf_cfg_self_tgid = 0; /* the daemon never monitors itself */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LF_MAX_ALLOWED_TGIDS);
	__type(key, __u32);
	__type(value, __u8);
} lf_allow_tgid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LF_MAX_ALLOWED_CGROUPS);
	__type(key, __u64);
	__type(value, __u8);
} lf_allow_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LF_MAX_ALLOWED_COMMS);
	__type(key, struct lf_comm_key);
	__type(value, __u8);
} lf_allow_comm SEC(".maps");

/* The process name: the group leader's comm, so a renamed worker thread still
 * counts as its process. */
static __always_inline void lf_process_comm(char comm[16])
{
	struct task_struct *task = bpf_get_current_task_btf();

	bpf_probe_read_kernel(comm, 16, task->group_leader->comm);
}

/* The selected cgroup that covers the current task (its own or an ancestor:
 * a selected cgroup covers its descendants, a pod's containers), or 0. */
static __always_inline __u64 lf_cgroup_match(void)
{
	__u64 id = bpf_get_current_cgroup_id();

	if (bpf_map_lookup_elem(&lf_allow_cgroup, &id))
		return id;
	for (int level = 1; level < LF_MAX_CGROUP_DEPTH; level++) {
		id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			break;
		if (bpf_map_lookup_elem(&lf_allow_cgroup, &id))
			return id;
	}
	return 0;
}

static __always_inline bool lf_cgroup_selected(void)
{
	return lf_cgroup_match() != 0;
}

/* The part of the decision every variant below shares, from the tgid alone:
 * 1 selected, 0 not, -1 undecided (the comm and cgroup lists decide). */
static __always_inline int lf_tgid_decision(__u32 tgid)
{
	if (tgid == lf_cfg_self_tgid)
		return 0;
	if (lf_cfg_select_all)
		return 1;
	if (bpf_map_lookup_elem(&lf_allow_tgid, &tgid))
		return 1;
	return -1;
}

/* Whether --comm lists this process name (key: zero-padded to 16 bytes). */
static __always_inline bool lf_comm_allowed(const struct lf_comm_key *key)
{
	return lf_cfg_filter_comm && bpf_map_lookup_elem(&lf_allow_comm, key);
}

static __always_inline bool lf_current_selected(__u32 tgid)
{
	int d = lf_tgid_decision(tgid);

	if (d >= 0)
		return d;
	if (lf_cfg_filter_comm) {
		struct lf_comm_key key = {};

		lf_process_comm(key.comm);
		if (lf_comm_allowed(&key))
			return true;
	}
	if (lf_cfg_filter_cgroup && lf_cgroup_selected())
		return true;
	return false;
}

/* The same decision for a task other than the current one (the host's walk of
 * open files runs in the daemon's context, on behalf of every process). */
static __always_inline __u64 lf_task_cgroup_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

static __always_inline __u64 lf_task_cgroup_match(struct task_struct *task)
{
	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);

	for (int level = 0; level < LF_MAX_CGROUP_DEPTH && cg; level++) {
		__u64 id = BPF_CORE_READ(cg, kn, id);

		if (bpf_map_lookup_elem(&lf_allow_cgroup, &id))
			return id;
		/* struct cgroup starts with its own css: the parent css is the parent cgroup. */
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return 0;
}

static __always_inline bool lf_task_cgroup_selected(struct task_struct *task)
{
	return lf_task_cgroup_match(task) != 0;
}

static __always_inline bool lf_task_selected(struct task_struct *task)
{
	int d = lf_tgid_decision(BPF_CORE_READ(task, tgid));

	if (d >= 0)
		return d;
	if (lf_cfg_filter_comm) {
		struct lf_comm_key key = {};
		struct task_struct *leader = BPF_CORE_READ(task, group_leader);

		bpf_probe_read_kernel(key.comm, 16, &leader->comm);
		if (lf_comm_allowed(&key))
			return true;
	}
	if (lf_cfg_filter_cgroup && lf_task_cgroup_selected(task))
		return true;
	return false;
}

/* Whether a process selected earlier is still selected, decided from what was
 * recorded when it was (tgid, process comm, the matched cgroup of
 * lf_cgroup_match): reads only the allow-lists, so it is safe in softirq, where
 * an accepted connection is born long after its listener's owner was chosen. */
static __always_inline bool lf_recorded_selected(__u32 tgid, const char comm[16], __u64 matched_cgroup)
{
	int d = lf_tgid_decision(tgid);

	if (d >= 0)
		return d;
	if (lf_cfg_filter_comm) {
		struct lf_comm_key key = {};

		__builtin_memcpy(key.comm, comm, 16);
		if (lf_comm_allowed(&key))
			return true;
	}
	if (lf_cfg_filter_cgroup && matched_cgroup && bpf_map_lookup_elem(&lf_allow_cgroup, &matched_cgroup))
		return true;
	return false;
}

#endif
