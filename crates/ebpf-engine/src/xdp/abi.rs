//! The records shared with `bpf/xdp_abi.h`, mirrored field for field.
//!
//! `tests/layout.rs` reads the compiled object's BTF and checks sizes and offsets against these
//! definitions, so a change on one side without the other fails the tests.

/// `IP_ACTION_DROP`: matching traffic is dropped.
pub const IP_ACTION_DROP: u32 = 1;
/// `IP_ACTION_MONITOR`: matching traffic passes and is reported.
pub const IP_ACTION_MONITOR: u32 = 2;

/// `EVENT_PORT_SCAN`.
pub const EVENT_PORT_SCAN: u32 = 1;
/// `EVENT_SYN_FLOOD`.
pub const EVENT_SYN_FLOOD: u32 = 2;
/// `EVENT_BLOCKED_SOURCE`.
pub const EVENT_BLOCKED_SOURCE: u32 = 3;

/// `PORT_BITMAP_WORDS`: the distinct-port bitmap's size in 64-bit words.
pub const PORT_BITMAP_WORDS: usize = 16;
/// `MAX_VLAN_TAGS`: VLAN tags the parser follows.
pub const MAX_VLAN_TAGS: usize = 2;
/// `MAX_IPV6_EXT_HEADERS`: IPv6 extension headers the parser follows.
pub const MAX_IPV6_EXT_HEADERS: usize = 6;

/// `REPORTED_SYN_FLOOD` bit of [`SrcState::reported`].
pub const REPORTED_SYN_FLOOD: u32 = 1;
/// `REPORTED_PORT_SCAN` bit of [`SrcState::reported`].
pub const REPORTED_PORT_SCAN: u32 = 2;

/// `struct ip_rule`: one blocklist or allowlist entry.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpRule {
    /// [`IP_ACTION_DROP`] or [`IP_ACTION_MONITOR`].
    pub action: u32,
    /// Zero.
    pub reserved: u32,
    /// Expiry on CLOCK_MONOTONIC in nanoseconds; 0 = never.
    pub expires_ns: u64,
    /// Written by the kernel: when it last reported a hit.
    pub last_event_ns: u64,
    /// Written by the kernel: packets that matched.
    pub hits: u64,
}

/// `struct ip6_key`: an IPv6 address (IPv4 mapped as `::ffff:a.b.c.d` where both share a map).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Ip6Key {
    /// The address bytes, network order.
    pub addr: [u8; 16],
}

/// `struct xdp_config`: the single entry of the config array.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelConfig {
    /// When nonzero, the program's clock in nanoseconds (tests supply time here).
    pub now_ns: u64,
    /// Detection window in nanoseconds; 0 disables detection.
    pub window_ns: u64,
    /// Least nanoseconds between two reports of the same block entry.
    pub cooldown_ns: u64,
    /// SYNs per source and window that make a SYN flood; 0 = off.
    pub syn_threshold: u32,
    /// Distinct destination ports per source and window that make a port scan; 0 = off.
    pub port_threshold: u32,
    /// [`ALLOW_V4`] and [`ALLOW_V6`] bits: which allowlist has entries. [`XdpProgram`] keeps
    /// these itself whatever a caller of `set_config` passes.
    ///
    /// [`XdpProgram`]: crate::xdp::XdpProgram
    pub allow_families: u32,
    /// Padding.
    pub reserved: u32,
}

/// Bit of [`KernelConfig::allow_families`]: the IPv4 allowlist has entries.
pub const ALLOW_V4: u32 = 1;
/// Bit of [`KernelConfig::allow_families`]: the IPv6 allowlist has entries.
pub const ALLOW_V6: u32 = 2;

/// `struct src_state`: per-source detection state in the LRU hash.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SrcState {
    /// Start of the current window.
    pub window_start_ns: u64,
    /// SYNs (without ACK) seen in the window.
    pub syn_count: u32,
    /// Distinct destination ports (modulo the bitmap size) seen in the window.
    pub distinct_ports: u32,
    /// [`REPORTED_SYN_FLOOD`] and [`REPORTED_PORT_SCAN`] bits for the window.
    pub reported: u32,
    /// Zero.
    pub reserved: u32,
    /// Bitmap of destination ports modulo its size.
    pub ports: [u64; PORT_BITMAP_WORDS],
}

impl SrcState {
    /// True when the bitmap holds destination `port` (ports equal modulo the bitmap size share
    /// a bit).
    pub fn has_port(&self, port: u16) -> bool {
        let bit = usize::from(port) % (PORT_BITMAP_WORDS * 64);
        self.ports[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// `struct xdp_event`: one ring-buffer record.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawEvent {
    /// The program's clock when it happened.
    pub timestamp_ns: u64,
    /// Source address (IPv4 as `::ffff:a.b.c.d`).
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// `EVENT_*`.
    pub kind: u32,
    /// SYNs, distinct ports or entry hits.
    pub count: u32,
    /// Source port (0 when none).
    pub src_port: u16,
    /// Destination port (0 when none).
    pub dst_port: u16,
    /// 4 or 6.
    pub family: u8,
    /// IP protocol number.
    pub l4_proto: u8,
    /// The block entry's action, for blocked-source events.
    pub action: u8,
    /// The matching entry's prefix length (full length for exact entries, 0 when from a trie).
    pub prefix_len: u8,
}

impl RawEvent {
    /// Decodes a ring-buffer record; `None` when it is shorter than the record.
    pub fn from_bytes(bytes: &[u8]) -> Option<RawEvent> {
        if bytes.len() < std::mem::size_of::<RawEvent>() {
            return None;
        }
        // SAFETY: the length is checked above, RawEvent is plain old data valid for any bit
        // pattern, and read_unaligned does not require the ring buffer's alignment.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<RawEvent>()) })
    }
}

// SAFETY: each type is repr(C), made of integers only, with no padding the kernel could leave
// uninitialized that Rust would read as something invalid.
unsafe impl aya::Pod for IpRule {}
// SAFETY: as above.
unsafe impl aya::Pod for Ip6Key {}
// SAFETY: as above.
unsafe impl aya::Pod for KernelConfig {}
// SAFETY: as above.
unsafe impl aya::Pod for SrcState {}

macro_rules! stats {
    ($($variant:ident = $c:literal : $name:literal,)*) => {
        /// `enum xdp_stat`: the indexes of the per-CPU statistics array.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u32)]
        pub enum Stat {
            $(
                #[doc = concat!("`", $c, "`")]
                $variant,
            )*
        }

        impl Stat {
            /// Every statistic, in index order.
            pub const ALL: &'static [Stat] = &[$(Stat::$variant,)*];

            /// The metric-style name (`tcp_packets`, `drop_block_exact`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $(Stat::$variant => $name,)*
                }
            }

            /// The C enumerator's name.
            pub fn c_name(self) -> &'static str {
                match self {
                    $(Stat::$variant => $c,)*
                }
            }
        }
    };
}

stats! {
    Packets = "STAT_PACKETS": "packets",
    Bytes = "STAT_BYTES": "bytes",
    NonIpPackets = "STAT_NON_IP_PACKETS": "non_ip_packets",
    Ipv4Packets = "STAT_IPV4_PACKETS": "ipv4_packets",
    Ipv6Packets = "STAT_IPV6_PACKETS": "ipv6_packets",
    TcpPackets = "STAT_TCP_PACKETS": "tcp_packets",
    TcpBytes = "STAT_TCP_BYTES": "tcp_bytes",
    UdpPackets = "STAT_UDP_PACKETS": "udp_packets",
    UdpBytes = "STAT_UDP_BYTES": "udp_bytes",
    IcmpPackets = "STAT_ICMP_PACKETS": "icmp_packets",
    IcmpBytes = "STAT_ICMP_BYTES": "icmp_bytes",
    Icmpv6Packets = "STAT_ICMPV6_PACKETS": "icmpv6_packets",
    Icmpv6Bytes = "STAT_ICMPV6_BYTES": "icmpv6_bytes",
    OtherL4Packets = "STAT_OTHER_L4_PACKETS": "other_l4_packets",
    OtherL4Bytes = "STAT_OTHER_L4_BYTES": "other_l4_bytes",
    VlanPackets = "STAT_VLAN_PACKETS": "vlan_packets",
    Fragments = "STAT_FRAGMENTS": "fragments",
    Pass = "STAT_PASS": "pass",
    DropBlockExact = "STAT_DROP_BLOCK_EXACT": "drop_block_exact",
    DropBlockPrefix = "STAT_DROP_BLOCK_PREFIX": "drop_block_prefix",
    MonitorHits = "STAT_MONITOR_HITS": "monitor_hits",
    AllowHits = "STAT_ALLOW_HITS": "allow_hits",
    ErrEthernet = "STAT_ERR_ETHERNET": "parse_error_ethernet",
    ErrVlan = "STAT_ERR_VLAN": "parse_error_vlan",
    ErrIpv4 = "STAT_ERR_IPV4": "parse_error_ipv4",
    ErrIpv6 = "STAT_ERR_IPV6": "parse_error_ipv6",
    ErrIpv6Ext = "STAT_ERR_IPV6_EXT": "parse_error_ipv6_ext",
    ErrL4 = "STAT_ERR_L4": "parse_error_l4",
    RingbufFull = "STAT_RINGBUF_FULL": "ringbuf_reserve_failures",
    Events = "STAT_EVENTS": "events",
}

/// `STAT_COUNT`: the size of the statistics array.
pub const STAT_COUNT: u32 = Stat::ALL.len() as u32;
