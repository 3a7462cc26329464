// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Ironpost's exec tracer: one ring-buffer record per successful exec on the host, from the
 * sched_process_exec BTF tracepoint. Kernel structures are declared here with only the fields
 * read, marked preserve_access_index, so their offsets are relocated (CO-RE) against the running
 * kernel's BTF at load time.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "exec_abi.h"

typedef struct {
	unsigned int val;
} kuid_t;

typedef struct {
	unsigned int val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
	struct mm_struct *mm;
	const struct cred *cred;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *filename;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} exec_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EXEC_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} exec_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} exec_exclude_uids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EXEC_PREFIXES_MAX);
	__type(key, __u32);
	__type(value, struct exec_path_prefix);
} exec_exclude_paths SEC(".maps");

static __always_inline void exec_stat_add(__u32 index)
{
	__u64 *v = bpf_map_lookup_elem(&exec_stats, &index);
	if (v)
		*v += 1;
}

/* Out of line: rare, and its signature puts enum exec_stat into the BTF tests/layout.rs reads. */
static __noinline int exec_stat_rare(enum exec_stat index)
{
	exec_stat_add(index);
	return 0;
}

/* True when `filename` starts with one of the excluded prefixes. */
static __always_inline int path_excluded(const char *filename)
{
	for (__u32 i = 0; i < EXEC_PREFIXES_MAX; i++) {
		__u32 key = i;
		struct exec_path_prefix *pp = bpf_map_lookup_elem(&exec_exclude_paths, &key);
		if (!pp || pp->len == 0 || pp->len > EXEC_PREFIX_LEN_MAX)
			continue;
		int same = 1;
		for (__u32 j = 0; j < EXEC_PREFIX_LEN_MAX; j++) {
			if (j >= pp->len)
				break;
			if (filename[j] != pp->bytes[j]) {
				same = 0;
				break;
			}
		}
		if (same)
			return 1;
	}
	return 0;
}

/* Out of line: its signature puts struct exec_event into the BTF as well. */
static __noinline int fill_args(struct exec_event *e, struct task_struct *task)
{
	struct mm_struct *mm = task->mm;
	unsigned long start = mm->arg_start;
	unsigned long end = mm->arg_end;
	unsigned long len = end > start ? end - start : 0;
	e->args_truncated = 0;
	e->args_len = 0;
	if (len > EXEC_ARGS_MAX) {
		len = EXEC_ARGS_MAX;
		e->args_truncated = 1;
	}
	if (len > 0 && bpf_probe_read_user(e->args, len, (const void *)start) == 0)
		e->args_len = len;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ironpost_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	/* Filters that need nothing but the task run before any work is done. */
	__u32 uid = p->cred->uid.val;
	if (bpf_map_lookup_elem(&exec_exclude_uids, &uid)) {
		exec_stat_rare(EXEC_STAT_FILTERED);
		return 0;
	}
	struct exec_event *e = bpf_ringbuf_reserve(&exec_events, sizeof(*e), 0);
	if (!e) {
		exec_stat_rare(EXEC_STAT_RINGBUF_FULL);
		return 0;
	}
	e->timestamp_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = p->tgid;
	e->ppid = p->real_parent->tgid;
	e->uid = uid;
	e->gid = p->cred->gid.val;
	e->reserved[0] = e->reserved[1] = e->reserved[2] = 0;
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename) < 0)
		e->filename[0] = 0;
	if (path_excluded(e->filename)) {
		bpf_ringbuf_discard(e, 0);
		exec_stat_rare(EXEC_STAT_FILTERED);
		return 0;
	}
	fill_args(e, p);
	bpf_ringbuf_submit(e, 0);
	exec_stat_add(EXEC_STAT_EVENTS);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
