// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A traffic generator for the benchmark: run with BPF_PROG_TEST_RUN in live-frames mode on one
 * end of a veth pair, it transmits every frame it is given out of that end, so the sensor on
 * the other end sees line-rate traffic that no socket could produce.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int ironpost_xdp_generator(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
