//! The XDP program run in the kernel on crafted frames (`BPF_PROG_TEST_RUN`): every parser path,
//! the allow and block lists, and the detectors, asserting the verdict and the maps.
//!
//! Needs CAP_BPF and CAP_NET_ADMIN (root); without them each test says so and returns.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use ironpost_ebpf_engine::xdp::abi::{
    ALLOW_V4, ALLOW_V6, EVENT_BLOCKED_SOURCE, EVENT_PORT_SCAN, EVENT_SYN_FLOOD, IP_ACTION_DROP,
    IP_ACTION_MONITOR, IpRule, REPORTED_PORT_SCAN, REPORTED_SYN_FLOOD, Stat,
};
use ironpost_ebpf_engine::xdp::frame::{
    Frame, Ipv6Ext, TCP_ACK, TCP_RST, TCP_SYN, TPID_8021AD, TPID_8021Q, Transport,
};
use ironpost_ebpf_engine::xdp::net::from_mapped_bytes;
use ironpost_ebpf_engine::xdp::program::monotonic_ns;
use ironpost_ebpf_engine::xdp::{Verdict, XdpProgram};

fn run(p: &mut XdpProgram, frame: &[u8]) -> Verdict {
    p.test_run(frame).expect("test run")
}

fn udp(port: u16) -> Transport {
    Transport::Udp {
        src_port: 5353,
        dst_port: port,
    }
}

/// Asserts that every statistic not named in `expected` is zero and the named ones match.
fn assert_stats(p: &XdpProgram, expected: &[(Stat, u64)]) {
    let stats = p.stats().unwrap();
    for (stat, value) in stats.iter() {
        let want = expected
            .iter()
            .find(|(s, _)| *s == stat)
            .map(|(_, v)| *v)
            .unwrap_or(0);
        assert_eq!(value, want, "statistic {}", stat.name());
    }
}

#[test]
fn ipv4_tcp_udp_and_icmp_pass_and_are_counted_by_protocol() {
    let Some(mut p) = load() else { return };
    let tcp = Frame::ipv4(v4(1), DST4, syn(22)).payload(10).build();
    let udp_f = Frame::ipv4(v4(1), DST4, udp(53)).payload(30).build();
    let icmp = Frame::ipv4(v4(1), DST4, Transport::Echo).build();
    let gre = Frame::ipv4(
        v4(1),
        DST4,
        Transport::Raw {
            protocol: 47,
            bytes: vec![0; 4],
        },
    )
    .build();
    for f in [&tcp, &udp_f, &icmp, &gre] {
        assert_eq!(run(&mut p, f), Verdict::Pass);
    }
    let total = (tcp.len() + udp_f.len() + icmp.len() + gre.len()) as u64;
    assert_stats(
        &p,
        &[
            (Stat::Packets, 4),
            (Stat::Bytes, total),
            (Stat::Ipv4Packets, 4),
            (Stat::TcpPackets, 1),
            (Stat::TcpBytes, tcp.len() as u64),
            (Stat::UdpPackets, 1),
            (Stat::UdpBytes, udp_f.len() as u64),
            (Stat::IcmpPackets, 1),
            (Stat::IcmpBytes, icmp.len() as u64),
            (Stat::OtherL4Packets, 1),
            (Stat::OtherL4Bytes, gre.len() as u64),
            (Stat::Pass, 4),
        ],
    );
    // One SYN was seen by the detector, to port 22.
    let st = p.source_state(IpAddr::V4(v4(1))).unwrap().expect("state");
    assert_eq!(st.syn_count, 1);
    assert_eq!(st.distinct_ports, 1);
    assert_eq!(st.ports[0], 1 << 22);
    assert_eq!(st.window_start_ns, T0);
}

#[test]
fn ipv6_tcp_udp_and_icmpv6_pass_and_are_counted_by_protocol() {
    let Some(mut p) = load() else { return };
    let tcp = Frame::ipv6(v6(1), DST6, syn(443)).build();
    let udp_f = Frame::ipv6(v6(1), DST6, udp(53)).build();
    let icmp = Frame::ipv6(v6(1), DST6, Transport::Echo).build();
    for f in [&tcp, &udp_f, &icmp] {
        assert_eq!(run(&mut p, f), Verdict::Pass);
    }
    assert_stats(
        &p,
        &[
            (Stat::Packets, 3),
            (Stat::Bytes, (tcp.len() + udp_f.len() + icmp.len()) as u64),
            (Stat::Ipv6Packets, 3),
            (Stat::TcpPackets, 1),
            (Stat::TcpBytes, tcp.len() as u64),
            (Stat::UdpPackets, 1),
            (Stat::UdpBytes, udp_f.len() as u64),
            (Stat::Icmpv6Packets, 1),
            (Stat::Icmpv6Bytes, icmp.len() as u64),
            (Stat::Pass, 3),
        ],
    );
    let st = p.source_state(IpAddr::V6(v6(1))).unwrap().expect("state");
    assert_eq!(st.syn_count, 1);
    assert!(st.has_port(443));
}

#[test]
fn non_ip_frames_pass_and_are_counted() {
    let Some(mut p) = load() else { return };
    let arp = Frame::other(0x0806).build();
    assert_eq!(run(&mut p, &arp), Verdict::Pass);
    assert_stats(
        &p,
        &[
            (Stat::Packets, 1),
            (Stat::Bytes, arp.len() as u64),
            (Stat::NonIpPackets, 1),
            (Stat::Pass, 1),
        ],
    );
}

#[test]
fn vlan_tags_are_followed_up_to_two() {
    let Some(mut p) = load() else { return };
    p.insert_block(host(v4(66)), drop_rule()).unwrap();
    let single = Frame::ipv4(v4(66), DST4, syn(80)).vlan(TPID_8021Q).build();
    let double = Frame::ipv4(v4(66), DST4, syn(80))
        .vlan(TPID_8021AD)
        .vlan(TPID_8021Q)
        .build();
    let v6_tagged = Frame::ipv6(v6(7), DST6, syn(80)).vlan(TPID_8021Q).build();
    // Dropped only if the parser reached the IPv4 source address under the tags.
    assert_eq!(run(&mut p, &single), Verdict::Drop);
    assert_eq!(run(&mut p, &double), Verdict::Drop);
    assert_eq!(run(&mut p, &v6_tagged), Verdict::Pass);
    assert!(p.source_state(IpAddr::V6(v6(7))).unwrap().is_some());
    // A third tag is beyond the bound: counted as a VLAN parse error and passed.
    let triple = Frame::ipv4(v4(66), DST4, syn(80))
        .vlan(TPID_8021AD)
        .vlan(TPID_8021Q)
        .vlan(TPID_8021Q)
        .build();
    assert_eq!(run(&mut p, &triple), Verdict::Pass);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::VlanPackets), 4);
    assert_eq!(s.get(Stat::ErrVlan), 1);
    assert_eq!(s.get(Stat::DropBlockExact), 2);
    assert_eq!(s.get(Stat::Ipv4Packets), 2);
    assert_eq!(s.get(Stat::Ipv6Packets), 1);
    assert_eq!(s.get(Stat::Pass), 2);
}

#[test]
fn ipv4_options_are_skipped_to_reach_the_ports() {
    let Some(mut p) = load() else { return };
    // Record route (7) with room for two addresses, then NOPs: 12 bytes, IHL 8.
    let f = Frame::ipv4(v4(2), DST4, syn(1000))
        .ipv4_options(&[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        .build();
    assert_eq!(f[14] & 0x0f, 8);
    assert_eq!(run(&mut p, &f), Verdict::Pass);
    let st = p.source_state(IpAddr::V4(v4(2))).unwrap().expect("state");
    assert!(st.has_port(1000));
    assert_eq!(st.ports.iter().map(|w| w.count_ones()).sum::<u32>(), 1);
    // Maximal options (IHL 15).
    let f = Frame::ipv4(v4(3), DST4, syn(7))
        .ipv4_options(&[1; 40])
        .build();
    assert_eq!(f[14] & 0x0f, 15);
    assert_eq!(run(&mut p, &f), Verdict::Pass);
    let st = p.source_state(IpAddr::V4(v4(3))).unwrap().expect("state");
    assert_eq!(st.ports[0], 1 << 7);
    assert_eq!(p.stats().unwrap().get(Stat::ErrIpv4), 0);
}

#[test]
fn ipv4_only_a_first_fragment_has_ports() {
    let Some(mut p) = load() else { return };
    let first = Frame::ipv4(v4(4), DST4, syn(25))
        .ipv4_fragment(0, true)
        .build();
    assert_eq!(run(&mut p, &first), Verdict::Pass);
    assert_eq!(
        p.source_state(IpAddr::V4(v4(4)))
            .unwrap()
            .expect("state")
            .syn_count,
        1
    );
    // A later fragment carries payload where a TCP header would be: no ports, no detection.
    let later = Frame::ipv4(v4(5), DST4, syn(25))
        .ipv4_fragment(185, false)
        .build();
    assert_eq!(run(&mut p, &later), Verdict::Pass);
    assert!(p.source_state(IpAddr::V4(v4(5))).unwrap().is_none());
    // But the blocklist still applies to it.
    p.insert_block(host(v4(5)), drop_rule()).unwrap();
    assert_eq!(run(&mut p, &later), Verdict::Drop);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::Fragments), 3);
    assert_eq!(s.get(Stat::TcpPackets), 3);
    assert_eq!(s.get(Stat::ErrL4), 0);
}

#[test]
fn ipv6_extension_headers_are_walked_to_the_transport() {
    let Some(mut p) = load() else { return };
    let f = Frame::ipv6(v6(10), DST6, syn(8080))
        .ipv6_ext(Ipv6Ext::HopByHop)
        .ipv6_ext(Ipv6Ext::DestOpts { len8: 2 })
        .ipv6_ext(Ipv6Ext::Routing)
        .ipv6_ext(Ipv6Ext::Auth)
        .ipv6_ext(Ipv6Ext::Fragment {
            offset: 0,
            more: true,
        })
        .build();
    assert_eq!(run(&mut p, &f), Verdict::Pass);
    let st = p.source_state(IpAddr::V6(v6(10))).unwrap().expect("state");
    assert!(st.has_port(8080));
    // A UDP datagram under a hop-by-hop header is counted as UDP.
    let f = Frame::ipv6(v6(11), DST6, udp(53))
        .ipv6_ext(Ipv6Ext::HopByHop)
        .build();
    assert_eq!(run(&mut p, &f), Verdict::Pass);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::TcpPackets), 1);
    assert_eq!(s.get(Stat::UdpPackets), 1);
    assert_eq!(s.get(Stat::Fragments), 1);
    assert_eq!(s.get(Stat::ErrIpv6Ext), 0);
    assert_eq!(s.get(Stat::ErrL4), 0);
}

#[test]
fn ipv6_later_fragments_and_too_many_extension_headers_have_no_ports() {
    let Some(mut p) = load() else { return };
    let later = Frame::ipv6(v6(20), DST6, syn(22))
        .ipv6_ext(Ipv6Ext::Fragment {
            offset: 100,
            more: false,
        })
        .build();
    assert_eq!(run(&mut p, &later), Verdict::Pass);
    assert!(p.source_state(IpAddr::V6(v6(20))).unwrap().is_none());

    // Six extension headers is the bound the parser walks ...
    let mut six = Frame::ipv6(v6(21), DST6, syn(22));
    for _ in 0..6 {
        six = six.ipv6_ext(Ipv6Ext::DestOpts { len8: 0 });
    }
    assert_eq!(run(&mut p, &six.build()), Verdict::Pass);
    assert!(p.source_state(IpAddr::V6(v6(21))).unwrap().is_some());
    // ... a seventh is a parse error, and the packet is still judged by its source.
    let mut seven = Frame::ipv6(v6(22), DST6, syn(22));
    for _ in 0..7 {
        seven = seven.ipv6_ext(Ipv6Ext::DestOpts { len8: 0 });
    }
    let seven = seven.build();
    assert_eq!(run(&mut p, &seven), Verdict::Pass);
    assert!(p.source_state(IpAddr::V6(v6(22))).unwrap().is_none());
    p.insert_block(host(v6(22)), drop_rule()).unwrap();
    assert_eq!(run(&mut p, &seven), Verdict::Drop);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::ErrIpv6Ext), 2);
    assert_eq!(s.get(Stat::ErrL4), 0);
    assert_eq!(s.get(Stat::OtherL4Packets), 2);
    assert_eq!(s.get(Stat::Fragments), 1);
}

#[test]
fn truncated_headers_are_parse_errors_and_pass() {
    let Some(mut p) = load() else { return };
    let full4 = Frame::ipv4(v4(30), DST4, syn(22)).build();
    let full6 = Frame::ipv6(v6(30), DST6, syn(22)).build();
    // The kernel refuses test runs of less than an Ethernet header, so the shortest frame
    // here is 14 bytes.
    let mut vlan = Frame::ipv4(v4(30), DST4, syn(22)).vlan(TPID_8021Q).build();
    vlan.truncate(16);
    assert_eq!(run(&mut p, &vlan), Verdict::Pass);
    assert_eq!(run(&mut p, &full4[..14 + 19]), Verdict::Pass); // IPv4 header cut
    assert_eq!(run(&mut p, &full6[..14 + 39]), Verdict::Pass); // IPv6 header cut
    // IHL claims options beyond the end of the frame.
    let mut long_ihl = full4[..14 + 20].to_vec();
    long_ihl[14] = 0x4f;
    assert_eq!(run(&mut p, &long_ihl), Verdict::Pass);
    // IHL below 5 and a wrong version.
    let mut short_ihl = full4.clone();
    short_ihl[14] = 0x44;
    assert_eq!(run(&mut p, &short_ihl), Verdict::Pass);
    let mut bad_version = full6.clone();
    bad_version[14] = 0x40;
    assert_eq!(run(&mut p, &bad_version), Verdict::Pass);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::ErrVlan), 1);
    assert_eq!(s.get(Stat::ErrIpv4), 3);
    assert_eq!(s.get(Stat::ErrIpv6), 2);
    assert_eq!(s.get(Stat::Pass), 6);
    assert_eq!(s.get(Stat::Packets), 6);
    assert_eq!(s.get(Stat::TcpPackets), 0);

    // Transport headers cut short: counted under their protocol and as an L4 error.
    let udp4 = Frame::ipv4(v4(31), DST4, udp(53)).build();
    let icmp6 = Frame::ipv6(v6(31), DST6, Transport::Echo).build();
    let ext6 = Frame::ipv6(v6(32), DST6, syn(22))
        .ipv6_ext(Ipv6Ext::HopByHop)
        .build();
    assert_eq!(run(&mut p, &full4[..14 + 20 + 12]), Verdict::Pass);
    assert_eq!(run(&mut p, &udp4[..14 + 20 + 7]), Verdict::Pass);
    assert_eq!(run(&mut p, &icmp6[..14 + 40 + 3]), Verdict::Pass);
    assert_eq!(run(&mut p, &ext6[..14 + 40 + 1]), Verdict::Pass);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::ErrL4), 3);
    assert_eq!(s.get(Stat::ErrIpv6Ext), 1);
    // Where the extension headers are cut, the transport is unknown.
    assert_eq!(s.get(Stat::OtherL4Packets), 1);
    assert_eq!(s.get(Stat::TcpPackets), 1);
    assert_eq!(s.get(Stat::UdpPackets), 1);
    assert_eq!(s.get(Stat::Icmpv6Packets), 1);
    // A truncated SYN is not counted by the detector ...
    assert!(p.source_state(IpAddr::V4(v4(30))).unwrap().is_none());
    // ... and does not escape the blocklist.
    p.insert_block(host(v4(30)), drop_rule()).unwrap();
    assert_eq!(run(&mut p, &full4[..14 + 20 + 12]), Verdict::Drop);
}

#[test]
fn frames_shorter_than_ethernet_are_refused_by_the_test_runner() {
    let Some(mut p) = load() else { return };
    assert!(p.test_run(&[0u8; 13]).is_err());
}

#[test]
fn exact_blocks_drop_or_monitor_and_count_hits() {
    let Some(mut p) = load() else { return };
    p.insert_block(host(v4(40)), drop_rule()).unwrap();
    p.insert_block(host(v4(41)), monitor_rule()).unwrap();
    p.insert_block(host(v6(40)), drop_rule()).unwrap();
    p.insert_block(host(v6(41)), monitor_rule()).unwrap();
    for _ in 0..3 {
        assert_eq!(run(&mut p, &syn4(v4(40), 80)), Verdict::Drop);
        assert_eq!(run(&mut p, &syn4(v4(41), 80)), Verdict::Pass);
        assert_eq!(run(&mut p, &syn6(v6(40), 80)), Verdict::Drop);
        assert_eq!(run(&mut p, &syn6(v6(41), 80)), Verdict::Pass);
        assert_eq!(run(&mut p, &syn4(v4(42), 80)), Verdict::Pass);
    }
    for ip in [
        IpAddr::V4(v4(40)),
        IpAddr::V4(v4(41)),
        IpAddr::V6(v6(40)),
        IpAddr::V6(v6(41)),
    ] {
        let rule = p.block_rule(host(ip)).unwrap().expect("entry");
        assert_eq!(rule.hits, 3, "{ip}");
        assert_eq!(rule.last_event_ns, T0, "{ip}");
    }
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::DropBlockExact), 6);
    assert_eq!(s.get(Stat::MonitorHits), 6);
    assert_eq!(s.get(Stat::Pass), 9);
    // Dropped sources are not fed to the detector; monitored ones are.
    assert!(p.source_state(IpAddr::V4(v4(40))).unwrap().is_none());
    assert_eq!(
        p.source_state(IpAddr::V4(v4(41)))
            .unwrap()
            .unwrap()
            .syn_count,
        3
    );
    // Removing an entry takes effect on the next packet.
    assert!(p.remove_block(host(v4(40))).unwrap());
    assert!(!p.remove_block(host(v4(40))).unwrap());
    assert_eq!(run(&mut p, &syn4(v4(40), 80)), Verdict::Pass);
}

#[test]
fn prefix_blocks_match_the_longest_prefix() {
    let Some(mut p) = load() else { return };
    p.insert_block(net("198.51.0.0/16"), drop_rule()).unwrap();
    p.insert_block(net("198.51.100.0/24"), monitor_rule())
        .unwrap();
    p.insert_block(net("2001:db8::/32"), drop_rule()).unwrap();
    p.insert_block(net("2001:db8::/64"), monitor_rule())
        .unwrap();
    assert_eq!(
        run(&mut p, &syn4(Ipv4Addr::new(198, 51, 7, 1), 1)),
        Verdict::Drop
    );
    assert_eq!(run(&mut p, &syn4(v4(9), 1)), Verdict::Pass);
    assert_eq!(
        run(&mut p, &syn4(Ipv4Addr::new(198, 52, 0, 1), 1)),
        Verdict::Pass
    );
    let other6 = "2001:db8:5::1".parse().unwrap();
    assert_eq!(run(&mut p, &syn6(other6, 1)), Verdict::Drop);
    assert_eq!(run(&mut p, &syn6(v6(9), 1)), Verdict::Pass);
    assert_eq!(
        run(&mut p, &syn6("2001:db9::1".parse().unwrap(), 1)),
        Verdict::Pass
    );
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::DropBlockPrefix), 2);
    assert_eq!(s.get(Stat::DropBlockExact), 0);
    assert_eq!(s.get(Stat::MonitorHits), 2);
    assert_eq!(p.block_rule(net("198.51.0.0/16")).unwrap().unwrap().hits, 1);
    assert_eq!(
        p.block_rule(net("198.51.100.0/24")).unwrap().unwrap().hits,
        1
    );
    assert_eq!(p.block_rule(net("2001:db8::/32")).unwrap().unwrap().hits, 1);
    // An exact entry wins over a covering prefix.
    p.insert_block(host(v4(9)), drop_rule()).unwrap();
    assert_eq!(run(&mut p, &syn4(v4(9), 1)), Verdict::Drop);
    assert_eq!(p.stats().unwrap().get(Stat::DropBlockExact), 1);
}

#[test]
fn the_allowlist_is_checked_before_the_blocklist() {
    let Some(mut p) = load() else { return };
    p.insert_block(net("198.51.100.0/24"), drop_rule()).unwrap();
    p.insert_block(host(v4(50)), drop_rule()).unwrap();
    p.insert_block(host(v6(50)), drop_rule()).unwrap();
    p.insert_allow(host(v4(50)), 0).unwrap();
    p.insert_allow(net("198.51.100.128/25"), 0).unwrap();
    p.insert_allow(net("2001:db8::/48"), 0).unwrap();
    assert_eq!(run(&mut p, &syn4(v4(50), 1)), Verdict::Pass);
    assert_eq!(run(&mut p, &syn4(v4(200), 1)), Verdict::Pass);
    assert_eq!(run(&mut p, &syn4(v4(51), 1)), Verdict::Drop);
    assert_eq!(run(&mut p, &syn6(v6(50), 1)), Verdict::Pass);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::AllowHits), 3);
    assert_eq!(s.get(Stat::DropBlockPrefix), 1);
    // Allowed traffic neither hits block entries nor feeds the detector.
    assert_eq!(p.block_rule(host(v4(50))).unwrap().unwrap().hits, 0);
    assert!(p.source_state(IpAddr::V4(v4(50))).unwrap().is_none());
    assert!(p.remove_allow(host(v4(50))).unwrap());
    assert_eq!(run(&mut p, &syn4(v4(50), 1)), Verdict::Drop);
}

#[test]
fn the_kernel_skips_an_empty_allowlist_and_set_config_keeps_that_flag() {
    let Some(mut p) = load() else { return };
    p.insert_block(host(v4(70)), drop_rule()).unwrap();
    assert_eq!(p.config().unwrap().allow_families, 0);
    p.insert_allow(host(v4(70)), 0).unwrap();
    assert_eq!(p.config().unwrap().allow_families, ALLOW_V4);
    // A caller's config (thresholds, clock) never clears what the allowlists hold.
    p.set_config(&config(T0 + SEC)).unwrap();
    assert_eq!(p.config().unwrap().allow_families, ALLOW_V4);
    assert_eq!(run(&mut p, &syn4(v4(70), 1)), Verdict::Pass);
    p.insert_allow(net("2001:db8::/48"), 0).unwrap();
    assert_eq!(p.config().unwrap().allow_families, ALLOW_V4 | ALLOW_V6);
    assert!(p.remove_allow(host(v4(70))).unwrap());
    assert_eq!(p.config().unwrap().allow_families, ALLOW_V6);
    assert_eq!(run(&mut p, &syn4(v4(70), 1)), Verdict::Drop);
    // Removing what is not there changes nothing.
    assert!(!p.remove_allow(host(v4(70))).unwrap());
    assert_eq!(p.config().unwrap().allow_families, ALLOW_V6);
    assert!(p.remove_allow(net("2001:db8::/48")).unwrap());
    assert_eq!(p.config().unwrap().allow_families, 0);
    assert_eq!(p.stats().unwrap().get(Stat::AllowHits), 1);
}

#[test]
fn on_its_own_clock_the_kernel_lets_an_entry_expire() {
    // now_ns 0: the program reads the coarse monotonic clock (cached per tick and CPU).
    let Some(mut p) = load() else { return };
    p.set_config(&config(0)).unwrap();
    let expires_ns = monotonic_ns() + 300_000_000;
    p.insert_block(
        host(v4(80)),
        IpRule {
            action: IP_ACTION_DROP,
            expires_ns,
            ..IpRule::default()
        },
    )
    .unwrap();
    assert_eq!(run(&mut p, &syn4(v4(80), 1)), Verdict::Drop);
    while monotonic_ns() < expires_ns + 100_000_000 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(run(&mut p, &syn4(v4(80), 1)), Verdict::Pass);
    assert_eq!(p.stats().unwrap().get(Stat::DropBlockExact), 1);
}

#[test]
fn expired_entries_are_ignored_by_the_kernel() {
    let Some(mut p) = load() else { return };
    let until = |expires_ns| IpRule {
        action: IP_ACTION_DROP,
        expires_ns,
        ..IpRule::default()
    };
    p.insert_block(host(v4(60)), until(T0 + SEC)).unwrap();
    p.insert_block(net("198.51.100.0/24"), until(T0 + 2 * SEC))
        .unwrap();
    p.insert_allow(host(v4(61)), T0 + SEC).unwrap();
    assert_eq!(run(&mut p, &syn4(v4(60), 1)), Verdict::Drop);
    assert_eq!(run(&mut p, &syn4(v4(61), 1)), Verdict::Pass);
    set_now(&mut p, T0 + SEC);
    // The exact entry has expired; the prefix still covers the address.
    assert_eq!(run(&mut p, &syn4(v4(60), 1)), Verdict::Drop);
    // The allow entry has expired too, so the prefix drops its address.
    assert_eq!(run(&mut p, &syn4(v4(61), 1)), Verdict::Drop);
    set_now(&mut p, T0 + 2 * SEC);
    assert_eq!(run(&mut p, &syn4(v4(60), 1)), Verdict::Pass);
    let s = p.stats().unwrap();
    assert_eq!(s.get(Stat::DropBlockExact), 1);
    assert_eq!(s.get(Stat::DropBlockPrefix), 2);
    assert_eq!(s.get(Stat::AllowHits), 1);
}

#[test]
fn a_block_entry_is_reported_once_per_cooldown() {
    let Some(mut p) = load() else { return };
    let mut ring = p.take_events().expect("ring buffer");
    p.insert_block(host(v4(70)), drop_rule()).unwrap();
    p.insert_block(net("2001:db8::/32"), monitor_rule())
        .unwrap();
    for _ in 0..5 {
        run(&mut p, &syn4(v4(70), 443));
        run(&mut p, &syn6(v6(70), 443));
    }
    let events = drain_events(&mut ring);
    assert_eq!(events.len(), 2, "{events:?}");
    let e4 = events.iter().find(|e| e.family == 4).expect("IPv4 event");
    assert_eq!(e4.kind, EVENT_BLOCKED_SOURCE);
    assert_eq!(from_mapped_bytes(e4.src), IpAddr::V4(v4(70)));
    assert_eq!(from_mapped_bytes(e4.dst), IpAddr::V4(DST4));
    assert_eq!(u32::from(e4.action), IP_ACTION_DROP);
    assert_eq!(e4.count, 1);
    assert_eq!(e4.dst_port, 443);
    assert_eq!(e4.src_port, 40000);
    assert_eq!(e4.l4_proto, 6);
    assert_eq!(e4.prefix_len, 32);
    assert_eq!(e4.timestamp_ns, T0);
    let e6 = events.iter().find(|e| e.family == 6).expect("IPv6 event");
    assert_eq!(u32::from(e6.action), IP_ACTION_MONITOR);
    assert_eq!(from_mapped_bytes(e6.src), IpAddr::V6(v6(70)));
    // Within the cooldown: nothing more; after it: one more each.
    set_now(&mut p, T0 + 59 * SEC);
    run(&mut p, &syn4(v4(70), 443));
    assert!(drain_events(&mut ring).is_empty());
    set_now(&mut p, T0 + 61 * SEC);
    for _ in 0..3 {
        run(&mut p, &syn4(v4(70), 443));
        run(&mut p, &syn6(v6(70), 443));
    }
    let events = drain_events(&mut ring);
    assert_eq!(events.len(), 2);
    let e4 = events.iter().find(|e| e.family == 4).unwrap();
    assert_eq!(e4.count, 7);
    assert_eq!(p.stats().unwrap().get(Stat::Events), 4);
}

#[test]
fn a_syn_flood_is_reported_once_when_the_threshold_is_crossed() {
    let Some(mut p) = load() else { return };
    let mut ring = p.take_events().unwrap();
    let src = v4(80);
    // SYN-ACKs, RSTs and plain ACKs are not SYNs.
    for flags in [TCP_SYN | TCP_ACK, TCP_RST, TCP_ACK] {
        let f = Frame::ipv4(
            src,
            DST4,
            Transport::Tcp {
                src_port: 1,
                dst_port: 80,
                flags,
            },
        )
        .build();
        run(&mut p, &f);
    }
    assert!(p.source_state(IpAddr::V4(src)).unwrap().is_none());
    for _ in 0..9 {
        run(&mut p, &syn4(src, 80));
    }
    assert!(drain_events(&mut ring).is_empty());
    let st = p.source_state(IpAddr::V4(src)).unwrap().unwrap();
    assert_eq!((st.syn_count, st.distinct_ports, st.reported), (9, 1, 0));
    run(&mut p, &syn4(src, 80));
    let events = drain_events(&mut ring);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EVENT_SYN_FLOOD);
    assert_eq!(events[0].count, 10);
    assert_eq!(from_mapped_bytes(events[0].src), IpAddr::V4(src));
    for _ in 0..50 {
        run(&mut p, &syn4(src, 80));
    }
    assert!(drain_events(&mut ring).is_empty(), "never per packet");
    let st = p.source_state(IpAddr::V4(src)).unwrap().unwrap();
    assert_eq!(st.syn_count, 60);
    assert_eq!(st.reported, REPORTED_SYN_FLOOD);
    // A new window starts from zero and may report again.
    set_now(&mut p, T0 + 10 * SEC);
    run(&mut p, &syn4(src, 80));
    let st = p.source_state(IpAddr::V4(src)).unwrap().unwrap();
    assert_eq!((st.syn_count, st.reported), (1, 0));
    assert_eq!(st.window_start_ns, T0 + 10 * SEC);
    for _ in 0..9 {
        run(&mut p, &syn4(src, 80));
    }
    assert_eq!(drain_events(&mut ring).len(), 1);
}

#[test]
fn a_port_scan_is_reported_once_when_distinct_ports_cross_the_threshold() {
    let Some(mut p) = load() else { return };
    let mut c = p.config().unwrap();
    c.syn_threshold = 0; // only the scan detector
    p.set_config(&c).unwrap();
    let mut ring = p.take_events().unwrap();
    let src = v6(90);
    for port in 1..=19u16 {
        // Repeats of a port add nothing.
        run(&mut p, &syn6(src, port));
        run(&mut p, &syn6(src, port));
    }
    let st = p.source_state(IpAddr::V6(src)).unwrap().unwrap();
    assert_eq!((st.distinct_ports, st.syn_count), (19, 38));
    assert!(drain_events(&mut ring).is_empty());
    run(&mut p, &syn6(src, 20));
    let events = drain_events(&mut ring);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EVENT_PORT_SCAN);
    assert_eq!(events[0].count, 20);
    assert_eq!(events[0].dst_port, 20);
    assert_eq!(events[0].family, 6);
    for port in 21..=200u16 {
        run(&mut p, &syn6(src, port));
    }
    assert!(drain_events(&mut ring).is_empty());
    let st = p.source_state(IpAddr::V6(src)).unwrap().unwrap();
    assert_eq!(st.distinct_ports, 200);
    assert_eq!(st.reported, REPORTED_PORT_SCAN);
    // Another source has its own state.
    run(&mut p, &syn6(v6(91), 1));
    assert_eq!(
        p.source_state(IpAddr::V6(v6(91)))
            .unwrap()
            .unwrap()
            .distinct_ports,
        1
    );
}

#[test]
fn detection_is_off_when_the_window_is_zero() {
    let Some(mut p) = load() else { return };
    let mut c = p.config().unwrap();
    c.window_ns = 0;
    p.set_config(&c).unwrap();
    for port in 0..100 {
        run(&mut p, &syn4(v4(95), port));
    }
    assert!(p.source_state(IpAddr::V4(v4(95))).unwrap().is_none());
    assert_eq!(p.stats().unwrap().get(Stat::Events), 0);
}

#[test]
fn a_full_ring_buffer_is_counted_not_fatal() {
    let Some(mut p) = load() else { return };
    let _ring = p.take_events().unwrap();
    // Each new block entry reports its first hit; nobody reads the ring, so it fills.
    let n = 6000u32;
    for i in 0..n {
        let ip = Ipv4Addr::from(0x0a00_0000 + i);
        p.insert_block(host(ip), drop_rule()).unwrap();
        let f = Frame::ipv4(ip, DST4, syn(1)).build();
        assert_eq!(run(&mut p, &f), Verdict::Drop);
    }
    let s = p.stats().unwrap();
    assert!(s.get(Stat::RingbufFull) > 0, "{s:?}");
    assert_eq!(s.get(Stat::RingbufFull) + s.get(Stat::Events), u64::from(n));
    assert_eq!(s.get(Stat::DropBlockExact), u64::from(n));
}
