//! Shared fixtures of the kernel tests: a freshly loaded program, frames, clocks.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ironpost_ebpf_engine::xdp::abi::{
    IP_ACTION_DROP, IP_ACTION_MONITOR, IpRule, KernelConfig, RawEvent,
};
use ironpost_ebpf_engine::xdp::frame::{Frame, TCP_SYN, Transport};
use ironpost_ebpf_engine::xdp::{IpNet, XdpProgram};

/// The program's clock in the tests: a fixed, nonzero time.
pub const T0: u64 = 1_000_000_000_000;
/// One second in nanoseconds.
pub const SEC: u64 = 1_000_000_000;

/// A freshly loaded program with the clock at `T0`, a 10 s window, a 60 s cooldown and
/// detection thresholds of 10 SYNs and 20 ports; `None` (with the reason printed) when this
/// process may not load BPF programs.
pub fn load() -> Option<XdpProgram> {
    match XdpProgram::load() {
        Ok(mut p) => {
            p.set_config(&config(T0)).expect("writing the config map");
            Some(p)
        }
        Err(e) if e.is_permission() => {
            eprintln!("skipped: loading BPF programs needs CAP_BPF and CAP_NET_ADMIN: {e}");
            None
        }
        Err(e) => panic!("loading the XDP program: {e:?}"),
    }
}

/// The test configuration at time `now`.
pub fn config(now: u64) -> KernelConfig {
    KernelConfig {
        now_ns: now,
        window_ns: 10 * SEC,
        cooldown_ns: 60 * SEC,
        syn_threshold: 10,
        port_threshold: 20,
        ..KernelConfig::default()
    }
}

/// Sets the program's clock to `now`, keeping the rest of the config.
pub fn set_now(p: &mut XdpProgram, now: u64) {
    let mut c = p.config().unwrap();
    c.now_ns = now;
    p.set_config(&c).unwrap();
}

/// An IPv4 address of the documentation range 198.51.100.0/24.
pub fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, last)
}

/// An IPv6 address of the documentation range 2001:db8::/32.
pub fn v6(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
}

/// The host's address in the tests.
pub const DST4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The host's IPv6 address in the tests.
pub const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 10);

/// A TCP SYN to `port`.
pub fn syn(port: u16) -> Transport {
    Transport::Tcp {
        src_port: 40000,
        dst_port: port,
        flags: TCP_SYN,
    }
}

/// An IPv4 TCP SYN frame from `src` to `port`.
pub fn syn4(src: Ipv4Addr, port: u16) -> Vec<u8> {
    Frame::ipv4(src, DST4, syn(port)).build()
}

/// An IPv6 TCP SYN frame from `src` to `port`.
pub fn syn6(src: Ipv6Addr, port: u16) -> Vec<u8> {
    Frame::ipv6(src, DST6, syn(port)).build()
}

/// A drop rule.
pub fn drop_rule() -> IpRule {
    IpRule {
        action: IP_ACTION_DROP,
        ..IpRule::default()
    }
}

/// A monitor rule.
pub fn monitor_rule() -> IpRule {
    IpRule {
        action: IP_ACTION_MONITOR,
        ..IpRule::default()
    }
}

/// Parses an address or prefix.
pub fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// The host prefix of `ip`.
pub fn host(ip: impl Into<IpAddr>) -> IpNet {
    IpNet::host(ip.into())
}

/// Every event waiting in the program's ring buffer.
pub fn drain_events(ring: &mut aya::maps::RingBuf<aya::maps::MapData>) -> Vec<RawEvent> {
    let mut out = Vec::new();
    while let Some(item) = ring.next() {
        out.push(RawEvent::from_bytes(&item).expect("a whole event record"));
    }
    out
}
