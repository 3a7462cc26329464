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
#include <bpf/bpf_core_read.h>

#include "exec_abi.h"

/*
 * The working directory, taken in the kernel at exec (userspace would race the process's exit).
 * Its components are written deepest first, each NUL-terminated ("b\0a\0" for /a/b), walking
 * d_parent up to the task's root and crossing mounts through mnt_parent/mnt_mountpoint, as
 * d_path does; userspace reverses them. Up to EXEC_CWD_MAX bytes and EXEC_CWD_DEPTH_MAX steps
 * (components plus mount crossings): past either the walk stops and flags the record truncated,
 * keeping the deepest components. cwd has EXEC_CWD_NAME_MAX bytes of slack past EXEC_CWD_MAX so
 * that the verifier sees every component copy in bounds; bytes past cwd_len mean nothing.
 *
 * Defined here rather than in exec_abi.h: struct exec_event there stays as tests/layout.rs checks
 * it, and this record appends the working directory to it. Mirrored in src/exec/abi.rs, the
 * layout pinned by the static assertions below and their twins there.
 */
#define EXEC_CWD_MAX 1024
#define EXEC_CWD_NAME_MAX 256
#define EXEC_CWD_DEPTH_MAX 64

/* How the working directory was read (exec_record.cwd_status). */
enum exec_cwd_status {
	EXEC_CWD_COMPLETE = 0,
	EXEC_CWD_TRUNCATED = 1,
	EXEC_CWD_UNREADABLE = 2,
};

/*
 * One exec: struct exec_event, the start times of the process and of its parent (which, with the
 * pid, name a process unambiguously: userspace keys its cache of parents on them), then the
 * working directory.
 */
struct exec_record {
	struct exec_event ev;
	__u64 start_ns;        /* task_struct.start_time (CLOCK_MONOTONIC) */
	__u64 parent_start_ns; /* the parent process's (its group leader's) */
	__u32 cwd_len;       /* bytes of cwd used */
	__u8 cwd_status;     /* enum exec_cwd_status */
	__u8 cwd_reserved[3];
	char cwd[EXEC_CWD_MAX + EXEC_CWD_NAME_MAX];
};

_Static_assert(sizeof(struct exec_event) == 1320, "exec_event layout (see src/exec/abi.rs)");
_Static_assert(__builtin_offsetof(struct exec_record, start_ns) == 1320, "exec_record.start_ns");
_Static_assert(__builtin_offsetof(struct exec_record, parent_start_ns) == 1328,
	       "exec_record.parent_start_ns");
_Static_assert(__builtin_offsetof(struct exec_record, cwd_len) == 1336, "exec_record.cwd_len");
_Static_assert(__builtin_offsetof(struct exec_record, cwd_status) == 1340, "exec_record.cwd_status");
_Static_assert(__builtin_offsetof(struct exec_record, cwd) == 1344, "exec_record.cwd");
_Static_assert(sizeof(struct exec_record) == 2624, "exec_record size (see src/exec/abi.rs)");
_Static_assert((EXEC_CWD_MAX & (EXEC_CWD_MAX - 1)) == 0, "EXEC_CWD_MAX is a power of two");

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

/* The name's length and hash share an anonymous union in the kernel; only the pointer is read. */
struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
} __attribute__((preserve_access_index));

/* fs/mount.h: the vfsmount a path holds is the `mnt` member of one of these. */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path root;
	struct path pwd;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	__u64 start_time;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	const struct cred *cred;
	struct fs_struct *fs;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *filename;
} __attribute__((preserve_access_index));

/* 8 MiB: about 3 190 records of 2 632 bytes (with the ring's header), 0.3 s at 10 000 execs/s. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} exec_events SEC(".maps");

/*
 * Waking the reader costs far more than the rest of the program: every wake-up queues an
 * irq_work, on x86 a self-IPI, which in a virtual machine is a VM exit (about 9.5 us per exec on
 * the benchmark's VM, against 1.6 us for all the rest). So records are submitted without a
 * wake-up, and one is forced only when EXEC_WAKEUP_NS have passed since the last or
 * EXEC_WAKEUP_RECORDS records are waiting. A sparse exec thus wakes the reader at once; in a
 * dense stream it wakes it at most every EXEC_WAKEUP_NS or EXEC_WAKEUP_RECORDS; and the reader
 * drains on a timer too (DRAIN_INTERVAL in src/exec/mod.rs), for the tail of a burst that came
 * within EXEC_WAKEUP_NS of a wake-up.
 */
#define EXEC_WAKEUP_NS (10ULL * 1000 * 1000)
#define EXEC_WAKEUP_RECORDS 64

/* Slot 0: bpf_ktime_get_ns() of the last forced wake-up (updated racily; it is a hint). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} exec_last_wakeup SEC(".maps");

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

/*
 * Cgroup (v2) ids whose execs are not reported: the cgroups of excluded containers, added by
 * userspace as it attributes execs to containers (src/exec/mod.rs, CgroupFilter). LRU: the ids
 * of cgroups long gone make room.
 */
#define EXEC_EXCLUDE_CGROUPS_MAX 4096
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EXEC_EXCLUDE_CGROUPS_MAX);
	__type(key, __u64);
	__type(value, __u8);
} exec_exclude_cgroups SEC(".maps");

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
		/* Userspace fills the slots from 0 on: the first empty one ends the list. */
		if (!pp || pp->len == 0)
			break;
		if (pp->len > EXEC_PREFIX_LEN_MAX)
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

/*
 * Bytes of the argument vector kept per exec: set by the loader from `exec.max_args_bytes`
 * (read-only once loaded, so the verifier knows it), never above the record's EXEC_ARGS_MAX.
 */
const volatile __u32 exec_args_max = EXEC_ARGS_MAX;

/* Out of line: its signature puts struct exec_event into the BTF (tests/layout.rs reads it). */
static __noinline int fill_args(struct exec_event *e, struct task_struct *task)
{
	struct mm_struct *mm = task->mm;
	unsigned long start = mm->arg_start;
	unsigned long end = mm->arg_end;
	unsigned long len = end > start ? end - start : 0;
	unsigned long max = exec_args_max;
	if (max == 0 || max > EXEC_ARGS_MAX)
		max = EXEC_ARGS_MAX;
	e->args_truncated = 0;
	e->args_len = 0;
	if (len > max) {
		len = max;
		e->args_truncated = 1;
	}
	if (len > EXEC_ARGS_MAX)
		len = EXEC_ARGS_MAX;
	if (len > 0 && bpf_probe_read_user(e->args, len, (const void *)start) == 0)
		e->args_len = len;
	return 0;
}

/* The ring buffer flags of a record committed at `now` (see EXEC_WAKEUP_NS). */
static __always_inline __u64 wakeup_flags(__u64 now)
{
	__u32 key = 0;
	__u64 *last = bpf_map_lookup_elem(&exec_last_wakeup, &key);
	if (!last)
		return 0;
	if (now - *last >= EXEC_WAKEUP_NS ||
	    bpf_ringbuf_query(&exec_events, BPF_RB_AVAIL_DATA) >=
		    EXEC_WAKEUP_RECORDS * sizeof(struct exec_record)) {
		*last = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

/* The struct mount around a vfsmount (container_of), its offset relocated against the kernel. */
static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

/* Out of line: verified once, not once per inlined copy. See EXEC_CWD_MAX for the format. */
static __noinline int fill_cwd(struct exec_record *r, struct task_struct *task)
{
	struct fs_struct *fs = task->fs;
	struct path root, pwd;
	__u32 off = 0;
	__u8 status = EXEC_CWD_TRUNCATED;

	r->cwd_len = 0;
	r->cwd_reserved[0] = r->cwd_reserved[1] = r->cwd_reserved[2] = 0;
	if (!fs || bpf_core_read(&root, sizeof(root), &fs->root) ||
	    bpf_core_read(&pwd, sizeof(pwd), &fs->pwd) || !pwd.dentry || !pwd.mnt) {
		r->cwd_status = EXEC_CWD_UNREADABLE;
		return 0;
	}
	struct dentry *dentry = pwd.dentry;
	struct vfsmount *vfsmnt = pwd.mnt;
	struct mount *mnt = real_mount(vfsmnt);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < EXEC_CWD_DEPTH_MAX; i++) {
		if (dentry == root.dentry && vfsmnt == root.mnt) {
			status = EXEC_CWD_COMPLETE;
			break;
		}
		if (dentry == mnt_root) {
			/* The top of a mount: continue from where it is mounted, in its parent. */
			struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
			if (!parent || parent == mnt) {
				/* The root of the mount tree, above the task's root (as d_path). */
				status = EXEC_CWD_COMPLETE;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = parent;
			vfsmnt = (struct vfsmount *)((char *)parent +
						     bpf_core_field_offset(struct mount, mnt));
			mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
			continue;
		}
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		if (!parent || parent == dentry) {
			/* A root that is no mount's root: a detached tree, no path from the root. */
			status = EXEC_CWD_UNREADABLE;
			break;
		}
		if (off >= EXEC_CWD_MAX)
			break;
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
		long n = bpf_probe_read_kernel_str(r->cwd + (off & (EXEC_CWD_MAX - 1)),
						   EXEC_CWD_NAME_MAX, name);
		if (n <= 0) {
			status = EXEC_CWD_UNREADABLE;
			break;
		}
		if (off + n > EXEC_CWD_MAX)
			break;
		off += n;
		dentry = parent;
	}
	r->cwd_len = off;
	r->cwd_status = status;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ironpost_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	/* Filters that need nothing but the task run before any work is done. */
	__u32 uid = p->cred->uid.val;
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_map_lookup_elem(&exec_exclude_uids, &uid) ||
	    bpf_map_lookup_elem(&exec_exclude_cgroups, &cgroup_id)) {
		exec_stat_rare(EXEC_STAT_FILTERED);
		return 0;
	}
	struct exec_record *r = bpf_ringbuf_reserve(&exec_events, sizeof(*r), 0);
	if (!r) {
		exec_stat_rare(EXEC_STAT_RINGBUF_FULL);
		return 0;
	}
	struct exec_event *e = &r->ev;
	e->timestamp_ns = bpf_ktime_get_ns();
	e->cgroup_id = cgroup_id;
	struct task_struct *parent = p->real_parent;
	e->pid = p->tgid;
	e->ppid = parent->tgid;
	/* The process's start time (exec made this task its leader, with the leader's start time);
	 * the parent's is its leader's, the thread that forked being any of its threads. */
	r->start_ns = p->start_time;
	r->parent_start_ns = parent->group_leader->start_time;
	e->uid = uid;
	e->gid = p->cred->gid.val;
	e->reserved[0] = e->reserved[1] = e->reserved[2] = 0;
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename) < 0)
		e->filename[0] = 0;
	if (path_excluded(e->filename)) {
		bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
		exec_stat_rare(EXEC_STAT_FILTERED);
		return 0;
	}
	fill_args(e, p);
	fill_cwd(r, p);
	bpf_ringbuf_submit(r, wakeup_flags(e->timestamp_ns));
	exec_stat_add(EXEC_STAT_EVENTS);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
