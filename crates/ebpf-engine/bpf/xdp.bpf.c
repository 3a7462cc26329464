// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Ironpost's XDP network sensor.
 *
 * Parses Ethernet (with up to MAX_VLAN_TAGS 802.1Q/802.1ad tags), IPv4 (with options; ports only
 * from a first fragment), IPv6 (up to MAX_IPV6_EXT_HEADERS extension headers), TCP, UDP, ICMP and
 * ICMPv6; applies the blocklist (exact addresses in hash maps, prefixes in LPM tries) unless the
 * allowlist covers the source, which is looked up only when a block entry or the SYN detector
 * would act on the packet (most packets never pay for it); keeps per-source SYN and distinct-port state in an LRU hash; and reports to userspace
 * through a ring buffer only when something changes: a threshold crossed in a window, or the
 * first hit of a block entry per cooldown. Malformed packets are counted and passed: the sensor
 * never drops what it cannot parse, but a truncated L4 header does not escape the blocklist.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_abi.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct ipv6_opt_hdr_min {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct ip_rule);
} block_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ip6_key);
	__type(value, struct ip_rule);
} block_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, struct ip_rule);
} block_prefix_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, struct ip_rule);
} block_prefix_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, struct ip_rule);
} allow_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, struct ip_rule);
} allow_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ip6_key);
	__type(value, struct src_state);
} src_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* What the parser learned about one packet. */
struct packet {
	__u8 src[16];
	__u8 dst[16];
	__u16 src_port;
	__u16 dst_port;
	__u8 family;
	__u8 l4_proto;
	__u8 has_ports;
	__u8 tcp_flags;
};

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

static __always_inline void stat_add(__u32 index, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &index);
	if (v)
		*v += n;
}

/*
 * Rare counters (parse errors, a full ring buffer) go through one out-of-line function; its
 * signature also carries enum xdp_stat into the object's BTF, where tests/layout.rs checks it.
 */
static __noinline int stat_rare(enum xdp_stat index)
{
	stat_add(index, 1);
	return 0;
}

/* The coarse clock as last read on this CPU, and the jiffies value it was read at. */
struct clock_cache {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_cache);
} clock SEC(".maps");

/*
 * CLOCK_MONOTONIC at tick resolution: windows, cooldowns and expiries are seconds long. The
 * coarse clock only moves on a tick, so it is read once per tick and CPU and cached beside the
 * jiffies value of that tick: bpf_jiffies64 is inlined by the verifier into a load, where the
 * coarse clock helper measured about 20 ns a call on the drop path.
 */
static __always_inline __u64 clock_now(const struct xdp_config *cfg)
{
	if (cfg && cfg->now_ns)
		return cfg->now_ns;
	__u32 zero = 0;
	struct clock_cache *c = bpf_map_lookup_elem(&clock, &zero);
	if (!c)
		return bpf_ktime_get_coarse_ns();
	__u64 j = bpf_jiffies64();
	if (c->jiffies != j || c->ns == 0) {
		c->jiffies = j;
		c->ns = bpf_ktime_get_coarse_ns();
	}
	return c->ns;
}

static __always_inline void count_l4(__u8 proto, __u64 bytes)
{
	switch (proto) {
	case IPPROTO_TCP:
		stat_add(STAT_TCP_PACKETS, 1);
		stat_add(STAT_TCP_BYTES, bytes);
		break;
	case IPPROTO_UDP:
		stat_add(STAT_UDP_PACKETS, 1);
		stat_add(STAT_UDP_BYTES, bytes);
		break;
	case IPPROTO_ICMP:
		stat_add(STAT_ICMP_PACKETS, 1);
		stat_add(STAT_ICMP_BYTES, bytes);
		break;
	case IPPROTO_ICMPV6:
		stat_add(STAT_ICMPV6_PACKETS, 1);
		stat_add(STAT_ICMPV6_BYTES, bytes);
		break;
	default:
		stat_add(STAT_OTHER_L4_PACKETS, 1);
		stat_add(STAT_OTHER_L4_BYTES, bytes);
		break;
	}
}

/* Out of line: events are rare, and its signature puts struct xdp_event into the BTF. */
static __noinline int fill_event(struct xdp_event *e, const struct packet *pkt)
{
	__builtin_memcpy(e->src, pkt->src, 16);
	__builtin_memcpy(e->dst, pkt->dst, 16);
	e->src_port = pkt->src_port;
	e->dst_port = pkt->dst_port;
	e->family = pkt->family;
	e->l4_proto = pkt->l4_proto;
	return 0;
}

static __always_inline void emit(const struct packet *pkt, __u32 kind, __u32 count, __u8 action,
				 __u8 prefix_len, __u64 now)
{
	struct xdp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_rare(STAT_RINGBUF_FULL);
		return;
	}
	e->timestamp_ns = now;
	e->kind = kind;
	e->count = count;
	e->action = action;
	e->prefix_len = prefix_len;
	fill_event(e, pkt);
	bpf_ringbuf_submit(e, 0);
	stat_add(STAT_EVENTS, 1);
}

/* The clock is read only for entries that expire: most never do, and reading it costs. */
static __always_inline int rule_live(const struct ip_rule *r, const struct xdp_config *cfg)
{
	return r->expires_ns == 0 || r->expires_ns > clock_now(cfg);
}

/* Parses L4 ports and flags at `l4`; a truncated header is a parse error. */
static __always_inline int parse_l4(struct packet *pkt, void *l4, void *data_end)
{
	switch (pkt->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > data_end)
			return -1;
		pkt->src_port = bpf_ntohs(th->source);
		pkt->dst_port = bpf_ntohs(th->dest);
		pkt->tcp_flags = ((__u8 *)th)[13];
		pkt->has_ports = 1;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > data_end)
			return -1;
		pkt->src_port = bpf_ntohs(uh->source);
		pkt->dst_port = bpf_ntohs(uh->dest);
		pkt->has_ports = 1;
		return 0;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		/* type, code, checksum */
		if (l4 + 4 > data_end)
			return -1;
		return 0;
	default:
		return 0;
	}
}

static __always_inline int ipv6_ext_header(__u8 next)
{
	return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS ||
	       next == IPPROTO_AH || next == IPPROTO_FRAGMENT;
}

/* Looks `pkt` up in the allowlist (unless that family's is empty); 1 when present and live. */
static __always_inline int allowed(const struct packet *pkt, const struct xdp_config *cfg)
{
	struct ip_rule *r;
	if (cfg && !(cfg->allow_families & (pkt->family == 4 ? ALLOW_V4 : ALLOW_V6)))
		return 0;
	if (pkt->family == 4) {
		struct lpm_v4_key k = { .prefixlen = 32 };
		__builtin_memcpy(k.addr, &pkt->src[12], 4);
		r = bpf_map_lookup_elem(&allow_v4, &k);
	} else {
		struct lpm_v6_key k = { .prefixlen = 128 };
		__builtin_memcpy(k.addr, pkt->src, 16);
		r = bpf_map_lookup_elem(&allow_v6, &k);
	}
	return r && rule_live(r, cfg);
}

/* Finds the live block entry for `pkt`: exact first, then the longest prefix. */
static __always_inline struct ip_rule *blocked(const struct packet *pkt, const struct xdp_config *cfg,
					       __u8 *prefix_len, int *exact)
{
	struct ip_rule *r;
	if (pkt->family == 4) {
		__u32 a;
		__builtin_memcpy(&a, &pkt->src[12], 4);
		r = bpf_map_lookup_elem(&block_v4, &a);
		if (r && rule_live(r, cfg)) {
			*exact = 1;
			*prefix_len = 32;
			return r;
		}
		struct lpm_v4_key k = { .prefixlen = 32 };
		__builtin_memcpy(k.addr, &pkt->src[12], 4);
		r = bpf_map_lookup_elem(&block_prefix_v4, &k);
	} else {
		struct ip6_key a;
		__builtin_memcpy(a.addr, pkt->src, 16);
		r = bpf_map_lookup_elem(&block_v6, &a);
		if (r && rule_live(r, cfg)) {
			*exact = 1;
			*prefix_len = 128;
			return r;
		}
		struct lpm_v6_key k = { .prefixlen = 128 };
		__builtin_memcpy(k.addr, pkt->src, 16);
		r = bpf_map_lookup_elem(&block_prefix_v6, &k);
	}
	if (r && rule_live(r, cfg)) {
		*exact = 0;
		/* The trie does not say which prefix matched; userspace finds it from the address. */
		*prefix_len = 0;
		return r;
	}
	return 0;
}

/* True when the detector counts this packet: a TCP SYN (without ACK) while detection is on. */
static __always_inline int detector_wants(const struct packet *pkt, const struct xdp_config *cfg)
{
	return cfg && cfg->window_ns != 0 && pkt->l4_proto == IPPROTO_TCP && pkt->has_ports &&
	       (pkt->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

/* Updates the SYN and distinct-port state of the packet's source (see detector_wants). */
static __always_inline void detect(const struct packet *pkt, const struct xdp_config *cfg)
{
	if (!cfg)
		return;

	__u64 now = clock_now(cfg);
	struct ip6_key key;
	__builtin_memcpy(key.addr, pkt->src, 16);
	struct src_state *st = bpf_map_lookup_elem(&src_states, &key);
	if (!st) {
		struct src_state fresh = { .window_start_ns = now };
		bpf_map_update_elem(&src_states, &key, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&src_states, &key);
		if (!st)
			return;
	}
	if (now - st->window_start_ns >= cfg->window_ns) {
		/* A new window: forget the old one (and what was reported in it). */
		st->window_start_ns = now;
		st->syn_count = 0;
		st->distinct_ports = 0;
		st->reported = 0;
		for (int i = 0; i < PORT_BITMAP_WORDS; i++)
			st->ports[i] = 0;
	}

	__u32 syns = __sync_fetch_and_add(&st->syn_count, 1) + 1;
	if (cfg->syn_threshold && syns == cfg->syn_threshold &&
	    !(st->reported & REPORTED_SYN_FLOOD)) {
		st->reported |= REPORTED_SYN_FLOOD;
		emit(pkt, EVENT_SYN_FLOOD, syns, 0, 0, now);
	}

	__u32 bit = pkt->dst_port % PORT_BITMAP_BITS;
	__u32 word = bit / 64;
	__u64 mask = 1ULL << (bit % 64);
	if (word >= PORT_BITMAP_WORDS)
		return;
	if (!(st->ports[word] & mask)) {
		st->ports[word] |= mask;
		__u32 ports = __sync_fetch_and_add(&st->distinct_ports, 1) + 1;
		if (cfg->port_threshold && ports == cfg->port_threshold &&
		    !(st->reported & REPORTED_PORT_SCAN)) {
			st->reported |= REPORTED_PORT_SCAN;
			emit(pkt, EVENT_PORT_SCAN, ports, 0, 0, now);
		}
	}
}

SEC("xdp")
int ironpost_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct packet pkt = {};

	stat_add(STAT_PACKETS, 1);
	stat_add(STAT_BYTES, bytes);

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end) {
		stat_rare(STAT_ERR_ETHERNET);
		goto pass;
	}
	void *cursor = eth + 1;
	__u16 proto = bpf_ntohs(eth->h_proto);

	int tagged = 0;
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		struct vlan_hdr *vh = cursor;
		if ((void *)(vh + 1) > data_end) {
			stat_rare(STAT_ERR_VLAN);
			goto pass;
		}
		proto = bpf_ntohs(vh->encapsulated_proto);
		cursor = vh + 1;
		tagged = 1;
	}
	if (tagged)
		stat_add(STAT_VLAN_PACKETS, 1);
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
		/* More tags than we follow. */
		stat_rare(STAT_ERR_VLAN);
		goto pass;
	}

	int l4_ok = 1;
	if (proto == ETH_P_IP) {
		struct iphdr *iph = cursor;
		if ((void *)(iph + 1) > data_end) {
			stat_rare(STAT_ERR_IPV4);
			goto pass;
		}
		__u32 ihl = iph->ihl;
		if (iph->version != 4 || ihl < 5) {
			stat_rare(STAT_ERR_IPV4);
			goto pass;
		}
		void *l4 = cursor + ihl * 4;
		if (l4 > data_end) {
			stat_rare(STAT_ERR_IPV4);
			goto pass;
		}
		stat_add(STAT_IPV4_PACKETS, 1);
		pkt.family = 4;
		pkt.src[10] = 0xff;
		pkt.src[11] = 0xff;
		pkt.dst[10] = 0xff;
		pkt.dst[11] = 0xff;
		__builtin_memcpy(&pkt.src[12], &iph->saddr, 4);
		__builtin_memcpy(&pkt.dst[12], &iph->daddr, 4);
		pkt.l4_proto = iph->protocol;
		__u16 frag = bpf_ntohs(iph->frag_off);
		if (frag & 0x3fff)
			stat_add(STAT_FRAGMENTS, 1);
		if ((frag & 0x1fff) == 0) {
			if (parse_l4(&pkt, l4, data_end) < 0)
				l4_ok = 0;
		}
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = cursor;
		if ((void *)(ip6 + 1) > data_end) {
			stat_rare(STAT_ERR_IPV6);
			goto pass;
		}
		if (ip6->version != 6) {
			stat_rare(STAT_ERR_IPV6);
			goto pass;
		}
		stat_add(STAT_IPV6_PACKETS, 1);
		pkt.family = 6;
		__builtin_memcpy(pkt.src, &ip6->saddr, 16);
		__builtin_memcpy(pkt.dst, &ip6->daddr, 16);
		__u8 next = ip6->nexthdr;
		void *l4 = ip6 + 1;
		int first_fragment = 1;
		int walk_ok = 1;
		int done = 0;
		for (int i = 0; i < MAX_IPV6_EXT_HEADERS; i++) {
			if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
			    next == IPPROTO_DSTOPTS) {
				struct ipv6_opt_hdr_min *oh = l4;
				if ((void *)(oh + 1) > data_end) {
					stat_rare(STAT_ERR_IPV6_EXT);
					walk_ok = 0;
					done = 1;
					break;
				}
				next = oh->nexthdr;
				l4 += ((__u32)oh->hdrlen + 1) * 8;
			} else if (next == IPPROTO_AH) {
				struct ipv6_opt_hdr_min *oh = l4;
				if ((void *)(oh + 1) > data_end) {
					stat_rare(STAT_ERR_IPV6_EXT);
					walk_ok = 0;
					done = 1;
					break;
				}
				next = oh->nexthdr;
				l4 += ((__u32)oh->hdrlen + 2) * 4;
			} else if (next == IPPROTO_FRAGMENT) {
				struct ipv6_frag_hdr *fh = l4;
				if ((void *)(fh + 1) > data_end) {
					stat_rare(STAT_ERR_IPV6_EXT);
					walk_ok = 0;
					done = 1;
					break;
				}
				stat_add(STAT_FRAGMENTS, 1);
				next = fh->nexthdr;
				if (bpf_ntohs(fh->frag_off) & 0xfff8)
					first_fragment = 0;
				l4 = fh + 1;
			} else {
				done = 1;
				break;
			}
		}
		if (!done && ipv6_ext_header(next)) {
			/* Still inside extension headers after the bound: no transport header known. */
			stat_rare(STAT_ERR_IPV6_EXT);
			walk_ok = 0;
		}
		pkt.l4_proto = walk_ok ? next : IPPROTO_NONE;
		if (walk_ok && first_fragment && parse_l4(&pkt, l4, data_end) < 0)
			l4_ok = 0;
	} else {
		stat_add(STAT_NON_IP_PACKETS, 1);
		goto pass;
	}

	count_l4(pkt.l4_proto, bytes);
	if (!l4_ok)
		stat_rare(STAT_ERR_L4);

	__u32 zero = 0;
	struct xdp_config *cfg = bpf_map_lookup_elem(&config, &zero);

	__u8 prefix_len = 0;
	int exact = 0;
	struct ip_rule *rule = blocked(&pkt, cfg, &prefix_len, &exact);
	if (rule) {
		/* The allowlist wins over any block entry. */
		if (allowed(&pkt, cfg)) {
			stat_add(STAT_ALLOW_HITS, 1);
			goto pass;
		}
		/*
		 * A plain add: a locked one costs tens of nanoseconds a packet on this path, and
		 * in an LPM trie the u64 may straddle a cache line (a split lock, ~1 us). CPUs
		 * racing on one entry can lose a count, which a hit counter tolerates.
		 */
		__u64 hits = rule->hits + 1;
		rule->hits = hits;
		__u64 now = clock_now(cfg);
		__u64 cooldown = cfg ? cfg->cooldown_ns : 0;
		__u64 last = rule->last_event_ns;
		if (last == 0 || now - last >= cooldown) {
			rule->last_event_ns = now;
			emit(&pkt, EVENT_BLOCKED_SOURCE, (__u32)hits, (__u8)rule->action, prefix_len, now);
		}
		if (rule->action == IP_ACTION_DROP) {
			stat_add(exact ? STAT_DROP_BLOCK_EXACT : STAT_DROP_BLOCK_PREFIX, 1);
			return XDP_DROP;
		}
		stat_add(STAT_MONITOR_HITS, 1);
	}

	if (detector_wants(&pkt, cfg)) {
		/* Allowed sources never feed the detector. */
		if (allowed(&pkt, cfg)) {
			stat_add(STAT_ALLOW_HITS, 1);
			goto pass;
		}
		detect(&pkt, cfg);
	}

pass:
	stat_add(STAT_PASS, 1);
	return XDP_PASS;
}

/* A program that drops everything: the baseline the benchmark measures paths against. */
SEC("xdp")
int ironpost_xdp_baseline_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
