//! Ethernet frames built byte by byte, for test runs, benchmarks and traffic generators.
//!
//! The sensor is proven on frames whose every header is known: VLAN tags, IPv4 options and
//! fragment offsets, IPv6 extension headers, truncation at any byte.

use std::net::{Ipv4Addr, Ipv6Addr};

/// TCP SYN flag.
pub const TCP_SYN: u8 = 0x02;
/// TCP ACK flag.
pub const TCP_ACK: u8 = 0x10;
/// TCP RST flag.
pub const TCP_RST: u8 = 0x04;

/// 802.1Q tag protocol id.
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad (QinQ service tag) protocol id.
pub const TPID_8021AD: u16 = 0x88a8;

/// The transport part of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// TCP with ports and flags.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Flags byte (`TCP_SYN`, ...).
        flags: u8,
    },
    /// UDP with ports.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP echo request (or ICMPv6 echo request on IPv6).
    Echo,
    /// Raw bytes under an IP protocol number.
    Raw {
        /// IP protocol number.
        protocol: u8,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// An IPv6 extension header to put before the transport header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Ext {
    /// Hop-by-hop options (8 bytes of padding options).
    HopByHop,
    /// Routing header (type 0 style, empty; 8 bytes).
    Routing,
    /// Destination options with `len8` 8-byte units after the first.
    DestOpts {
        /// Extra 8-byte units.
        len8: u8,
    },
    /// Fragment header with offset in 8-byte units and the more-fragments flag.
    Fragment {
        /// Fragment offset in 8-byte units.
        offset: u16,
        /// More fragments follow.
        more: bool,
    },
    /// Authentication header (12 bytes: 4 + 8 of ICV).
    Auth,
}

/// The network part of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Network {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        options: Vec<u8>,
        frag_offset: u16,
        more_fragments: bool,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        ext: Vec<Ipv6Ext>,
    },
    Other {
        ethertype: u16,
    },
}

/// A frame under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    tags: Vec<u16>,
    network: Network,
    transport: Transport,
    payload: usize,
}

impl Frame {
    /// An IPv4 frame from `src` to `dst` carrying `transport`.
    pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, transport: Transport) -> Frame {
        Frame {
            tags: Vec::new(),
            network: Network::V4 {
                src,
                dst,
                options: Vec::new(),
                frag_offset: 0,
                more_fragments: false,
            },
            transport,
            payload: 0,
        }
    }

    /// An IPv6 frame from `src` to `dst` carrying `transport`.
    pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, transport: Transport) -> Frame {
        Frame {
            tags: Vec::new(),
            network: Network::V6 {
                src,
                dst,
                ext: Vec::new(),
            },
            transport,
            payload: 0,
        }
    }

    /// A frame of another ethertype (ARP, ...) with 28 bytes of zeros.
    pub fn other(ethertype: u16) -> Frame {
        Frame {
            tags: Vec::new(),
            network: Network::Other { ethertype },
            transport: Transport::Raw {
                protocol: 0,
                bytes: vec![0; 28],
            },
            payload: 0,
        }
    }

    /// Adds a VLAN tag with protocol id `tpid` (outermost first).
    pub fn vlan(mut self, tpid: u16) -> Frame {
        self.tags.push(tpid);
        self
    }

    /// Sets IPv4 options (padded to 4 bytes with end-of-list).
    pub fn ipv4_options(mut self, opts: &[u8]) -> Frame {
        if let Network::V4 { options, .. } = &mut self.network {
            *options = opts.to_vec();
            while options.len() % 4 != 0 {
                options.push(0);
            }
        }
        self
    }

    /// Makes the IPv4 packet a fragment at `offset` 8-byte units.
    pub fn ipv4_fragment(mut self, offset: u16, more: bool) -> Frame {
        if let Network::V4 {
            frag_offset,
            more_fragments,
            ..
        } = &mut self.network
        {
            *frag_offset = offset;
            *more_fragments = more;
        }
        self
    }

    /// Adds an IPv6 extension header (in order, before the transport).
    pub fn ipv6_ext(mut self, header: Ipv6Ext) -> Frame {
        if let Network::V6 { ext, .. } = &mut self.network {
            ext.push(header);
        }
        self
    }

    /// Appends `n` payload bytes after the transport header.
    pub fn payload(mut self, n: usize) -> Frame {
        self.payload = n;
        self
    }

    /// The frame's bytes, padded with zeros to `min_len` (60 gives a minimal Ethernet frame).
    pub fn build_padded(&self, min_len: usize) -> Vec<u8> {
        let mut out = self.build();
        if out.len() < min_len {
            out.resize(min_len, 0);
        }
        out
    }

    /// The frame's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // destination MAC
        out.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC
        let ethertype = match &self.network {
            Network::V4 { .. } => 0x0800,
            Network::V6 { .. } => 0x86dd,
            Network::Other { ethertype } => *ethertype,
        };
        for (i, tpid) in self.tags.iter().enumerate() {
            if i == 0 {
                out.extend_from_slice(&tpid.to_be_bytes());
            }
            let inner = self.tags.get(i + 1).copied().unwrap_or(ethertype);
            out.extend_from_slice(&(100 + i as u16).to_be_bytes()); // VLAN id
            out.extend_from_slice(&inner.to_be_bytes());
        }
        if self.tags.is_empty() {
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        let (protocol, mut l4) = self.transport_bytes();
        l4.extend(std::iter::repeat_n(0xab, self.payload));
        match &self.network {
            Network::V4 {
                src,
                dst,
                options,
                frag_offset,
                more_fragments,
            } => {
                let ihl = (20 + options.len()) / 4;
                let total = (ihl * 4 + l4.len()) as u16;
                let mut h = vec![0u8; 20];
                h[0] = 0x40 | ihl as u8;
                h[2..4].copy_from_slice(&total.to_be_bytes());
                h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
                let frag = (*frag_offset & 0x1fff) | if *more_fragments { 0x2000 } else { 0 };
                h[6..8].copy_from_slice(&frag.to_be_bytes());
                h[8] = 64;
                h[9] = protocol;
                h[12..16].copy_from_slice(&src.octets());
                h[16..20].copy_from_slice(&dst.octets());
                h.extend_from_slice(options);
                let sum = checksum(&h);
                h[10..12].copy_from_slice(&sum.to_be_bytes());
                out.extend_from_slice(&h);
            }
            Network::V6 { src, dst, ext } => {
                let mut chain = Vec::new();
                let next_of =
                    |i: usize| -> u8 { ext.get(i + 1).map(ext_number).unwrap_or(protocol) };
                for (i, e) in ext.iter().enumerate() {
                    let next = next_of(i);
                    match e {
                        Ipv6Ext::HopByHop | Ipv6Ext::Routing => {
                            chain.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
                        }
                        Ipv6Ext::DestOpts { len8 } => {
                            chain.extend_from_slice(&[next, *len8, 1, 4, 0, 0, 0, 0]);
                            chain.extend(std::iter::repeat_n(0, usize::from(*len8) * 8));
                        }
                        Ipv6Ext::Fragment { offset, more } => {
                            let fo = (offset << 3) | u16::from(*more);
                            chain.extend_from_slice(&[next, 0]);
                            chain.extend_from_slice(&fo.to_be_bytes());
                            chain.extend_from_slice(&[0, 0, 0x12, 0x34]);
                        }
                        Ipv6Ext::Auth => {
                            // Payload length 1 means (1 + 2) * 4 = 12 bytes.
                            chain.extend_from_slice(&[next, 1, 0, 0]);
                            chain.extend_from_slice(&[0; 8]);
                        }
                    }
                }
                let first = ext.first().map(ext_number).unwrap_or(protocol);
                let mut h = vec![0u8; 40];
                h[0] = 0x60;
                h[4..6].copy_from_slice(&((chain.len() + l4.len()) as u16).to_be_bytes());
                h[6] = first;
                h[7] = 64;
                h[8..24].copy_from_slice(&src.octets());
                h[24..40].copy_from_slice(&dst.octets());
                out.extend_from_slice(&h);
                out.extend_from_slice(&chain);
            }
            Network::Other { .. } => {}
        }
        out.extend_from_slice(&l4);
        out
    }

    fn transport_bytes(&self) -> (u8, Vec<u8>) {
        let v6 = matches!(self.network, Network::V6 { .. });
        match &self.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
            } => {
                let mut t = vec![0u8; 20];
                t[0..2].copy_from_slice(&src_port.to_be_bytes());
                t[2..4].copy_from_slice(&dst_port.to_be_bytes());
                t[4..8].copy_from_slice(&1u32.to_be_bytes());
                t[12] = 5 << 4;
                t[13] = *flags;
                t[14..16].copy_from_slice(&64240u16.to_be_bytes());
                (6, t)
            }
            Transport::Udp { src_port, dst_port } => {
                let mut t = vec![0u8; 8];
                t[0..2].copy_from_slice(&src_port.to_be_bytes());
                t[2..4].copy_from_slice(&dst_port.to_be_bytes());
                t[4..6].copy_from_slice(&(8u16 + self.payload as u16).to_be_bytes());
                (17, t)
            }
            Transport::Echo if v6 => (58, vec![128, 0, 0, 0, 0, 1, 0, 1]),
            Transport::Echo => (1, vec![8, 0, 0, 0, 0, 1, 0, 1]),
            Transport::Raw { protocol, bytes } => (*protocol, bytes.clone()),
        }
    }
}

fn ext_number(e: &Ipv6Ext) -> u8 {
    match e {
        Ipv6Ext::HopByHop => 0,
        Ipv6Ext::Routing => 43,
        Ipv6Ext::DestOpts { .. } => 60,
        Ipv6Ext::Fragment { .. } => 44,
        Ipv6Ext::Auth => 51,
    }
}

/// The Internet checksum of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in bytes.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_tcp_frame_has_the_expected_layout() {
        let f = Frame::ipv4(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
            Transport::Tcp {
                src_port: 40000,
                dst_port: 22,
                flags: TCP_SYN,
            },
        )
        .build();
        assert_eq!(f.len(), 14 + 20 + 20);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(f[14], 0x45);
        assert_eq!(&f[26..30], &[192, 0, 2, 1]);
        assert_eq!(&f[36..38], &22u16.to_be_bytes());
        assert_eq!(f[47], TCP_SYN);
        // A correct header checksum sums to zero.
        assert_eq!(checksum(&f[14..34]), 0);
    }

    #[test]
    fn vlan_tags_nest_outermost_first() {
        let f = Frame::ipv4(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, Transport::Echo)
            .vlan(TPID_8021AD)
            .vlan(TPID_8021Q)
            .build();
        assert_eq!(&f[12..14], &TPID_8021AD.to_be_bytes());
        assert_eq!(&f[16..18], &TPID_8021Q.to_be_bytes());
        assert_eq!(&f[20..22], &[0x08, 0x00]);
        assert_eq!(f[22], 0x45);
    }

    #[test]
    fn ipv6_extension_headers_chain() {
        let f = Frame::ipv6(
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
            Transport::Udp {
                src_port: 1,
                dst_port: 53,
            },
        )
        .ipv6_ext(Ipv6Ext::HopByHop)
        .ipv6_ext(Ipv6Ext::Fragment {
            offset: 0,
            more: true,
        })
        .build();
        assert_eq!(f[14 + 6], 0); // hop-by-hop first
        assert_eq!(f[54], 44); // then fragment
        assert_eq!(f[62], 17); // then UDP
        assert_eq!(&f[70 + 2..70 + 4], &53u16.to_be_bytes());
    }
}
