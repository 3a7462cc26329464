/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The records the XDP program shares with userspace. The Rust side mirrors every struct and
 * constant here in src/xdp/abi.rs; tests/layout.rs reads the compiled object's BTF and checks
 * that both sides agree on sizes and offsets, so change the two together.
 */
#ifndef IRONPOST_XDP_ABI_H
#define IRONPOST_XDP_ABI_H

#include <linux/types.h>

/* What a block entry does to matching traffic. */
#define IP_ACTION_DROP 1
#define IP_ACTION_MONITOR 2

/* One blocklist or allowlist entry (value of the hash maps and LPM tries). */
struct ip_rule {
	__u32 action;        /* IP_ACTION_*; ignored in the allowlist */
	__u32 reserved;
	__u64 expires_ns;    /* CLOCK_MONOTONIC; 0 = never. The kernel ignores an expired entry. */
	__u64 last_event_ns; /* written by the kernel: when it last reported a hit (cooldown) */
	__u64 hits;          /* written by the kernel: packets that matched */
};

/* Key of the IPv4 LPM tries: prefix length in bits, then the address in network order. */
struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

/* Key of the IPv6 LPM tries. */
struct lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Key of the IPv6 exact-match hash maps. */
struct ip6_key {
	__u8 addr[16];
};

/* The single entry of the config array: detection thresholds and the clock. */
struct xdp_config {
	__u64 now_ns;         /* when nonzero, the program's clock (tests supply time here) */
	__u64 window_ns;      /* detection window; 0 disables detection */
	__u64 cooldown_ns;    /* least time between two reports of the same block entry */
	__u32 syn_threshold;  /* SYNs per source and window that make a SYN flood; 0 = off */
	__u32 port_threshold; /* distinct destination ports per source and window; 0 = off */
	__u32 allow_families; /* ALLOW_* bits: which allowlist has entries (kept by the loader) */
	__u32 reserved;
};

/* Bits of xdp_config.allow_families: an empty allowlist is not looked up. */
#define ALLOW_V4 1
#define ALLOW_V6 2

/* Distinct destination ports are tracked in a bitmap of this many bits (port modulo size). */
#define PORT_BITMAP_WORDS 16
#define PORT_BITMAP_BITS (PORT_BITMAP_WORDS * 64)

/* State reported for a source: bits of src_state.reported. */
#define REPORTED_SYN_FLOOD 1
#define REPORTED_PORT_SCAN 2

/* Per-source detection state (LRU hash, key struct ip6_key; IPv4 as ::ffff:a.b.c.d). */
struct src_state {
	__u64 window_start_ns;
	__u32 syn_count;
	__u32 distinct_ports;
	__u32 reported;
	__u32 reserved;
	__u64 ports[PORT_BITMAP_WORDS];
};

/* Kinds of ring-buffer events. */
#define EVENT_PORT_SCAN 1
#define EVENT_SYN_FLOOD 2
#define EVENT_BLOCKED_SOURCE 3

/* One ring-buffer record: sent on a state change only, never per packet. */
struct xdp_event {
	__u64 timestamp_ns;
	__u8 src[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u8 dst[16];
	__u32 kind;   /* EVENT_* */
	__u32 count;  /* SYNs, distinct ports or entry hits */
	__u16 src_port;
	__u16 dst_port;
	__u8 family;  /* 4 or 6 */
	__u8 l4_proto;
	__u8 action;  /* IP_ACTION_* for blocked-source events */
	__u8 prefix_len; /* the matching entry's prefix; full length for exact entries */
};

/* Indexes of the per-CPU statistics array. */
enum xdp_stat {
	STAT_PACKETS = 0,
	STAT_BYTES,
	STAT_NON_IP_PACKETS,
	STAT_IPV4_PACKETS,
	STAT_IPV6_PACKETS,
	STAT_TCP_PACKETS,
	STAT_TCP_BYTES,
	STAT_UDP_PACKETS,
	STAT_UDP_BYTES,
	STAT_ICMP_PACKETS,
	STAT_ICMP_BYTES,
	STAT_ICMPV6_PACKETS,
	STAT_ICMPV6_BYTES,
	STAT_OTHER_L4_PACKETS,
	STAT_OTHER_L4_BYTES,
	STAT_VLAN_PACKETS,
	STAT_FRAGMENTS,
	STAT_PASS,
	STAT_DROP_BLOCK_EXACT,
	STAT_DROP_BLOCK_PREFIX,
	STAT_MONITOR_HITS,
	STAT_ALLOW_HITS,
	STAT_ERR_ETHERNET,
	STAT_ERR_VLAN,
	STAT_ERR_IPV4,
	STAT_ERR_IPV6,
	STAT_ERR_IPV6_EXT,
	STAT_ERR_L4,
	STAT_RINGBUF_FULL,
	STAT_EVENTS,
	STAT_COUNT
};

#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXT_HEADERS 6

#endif
