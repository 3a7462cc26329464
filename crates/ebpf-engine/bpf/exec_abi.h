/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The record the exec tracer shares with userspace; mirrored in src/exec/abi.rs and checked
 * against the object's BTF by tests/layout.rs.
 */
#ifndef IRONPOST_EXEC_ABI_H
#define IRONPOST_EXEC_ABI_H

#include <linux/types.h>

#define EXEC_FILENAME_MAX 256
/* The argument vector kept per exec, NUL-separated; longer ones are cut and flagged. */
#define EXEC_ARGS_MAX 1024

/* One exec, as the kernel saw it. */
struct exec_event {
	__u64 timestamp_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 args_len;       /* bytes of args used */
	__u8 args_truncated;  /* 1 when the argument vector was longer than EXEC_ARGS_MAX */
	__u8 reserved[3];
	char filename[EXEC_FILENAME_MAX];
	char args[EXEC_ARGS_MAX];
};

/* Executable path prefixes filtered in the kernel: how many, and how long each may be. */
#define EXEC_PREFIXES_MAX 8
#define EXEC_PREFIX_LEN_MAX 64

/* One excluded path prefix (value of the exec_exclude_paths array); len 0 = unused slot. */
struct exec_path_prefix {
	__u32 len;
	char bytes[EXEC_PREFIX_LEN_MAX];
};

/* Indexes of the per-CPU statistics array. */
enum exec_stat {
	EXEC_STAT_EVENTS = 0,
	EXEC_STAT_RINGBUF_FULL,
	EXEC_STAT_FILTERED,
	EXEC_STAT_COUNT
};

#endif
