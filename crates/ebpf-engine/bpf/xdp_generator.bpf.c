// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Benchmark programs. The generator, run with BPF_PROG_TEST_RUN in live-frames mode on one end
 * of a veth pair, transmits every frame it is given out of that end, so the program on the
 * other end sees line-rate traffic that no socket could produce. The counting drop is the
 * baseline on the receiving end: the least an XDP program that counts what it sees can do.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("xdp")
int ironpost_xdp_generator(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("xdp")
int ironpost_xdp_count_drop(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&seen, &zero);
	if (n)
		*n += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
