//! Addresses and prefixes as block and allow entries name them: `ADDR` or `ADDR/LEN`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 prefix; a full-length prefix is an exact address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix_len: u8,
}

/// Why a text is not an address or prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpNetError {
    /// Not an IPv4 or IPv6 address.
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    Address(String),
    /// The prefix length is not a number within the family's bits.
    #[error("`{text}`: the prefix length must be 0..={max}")]
    PrefixLen {
        /// The text.
        text: String,
        /// 32 or 128.
        max: u8,
    },
    /// Bits beyond the prefix are set.
    #[error("`{text}` has bits set beyond the prefix; did you mean {suggestion}?")]
    HostBits {
        /// The text.
        text: String,
        /// The prefix with those bits cleared.
        suggestion: String,
    },
}

impl IpNet {
    /// The prefix `addr/prefix_len`; `None` when the length exceeds the family's bits or bits
    /// beyond the prefix are set.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Option<IpNet> {
        let net = IpNet { addr, prefix_len };
        (prefix_len <= max_len(addr) && net.masked() == addr).then_some(net)
    }

    /// The exact address `addr` (a /32 or /128).
    pub fn host(addr: IpAddr) -> IpNet {
        IpNet {
            addr,
            prefix_len: max_len(addr),
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// True for a full-length prefix: one exact address.
    pub fn is_host(&self) -> bool {
        self.prefix_len == max_len(self.addr)
    }

    /// True when `ip` lies inside this prefix (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix_len) == net,
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix_len) == net,
            _ => false,
        }
    }

    fn masked(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4(mask_v4(a, self.prefix_len)),
            IpAddr::V6(a) => IpAddr::V6(mask_v6(a, self.prefix_len)),
        }
    }
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn mask_v4(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    let bits = u32::from(a);
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    };
    Ipv4Addr::from(bits & mask)
}

fn mask_v6(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(a);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    };
    Ipv6Addr::from(bits & mask)
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| IpNetError::Address(text.to_owned()))?;
        let max = max_len(addr);
        let prefix_len =
            match len_text {
                None => max,
                Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(|| {
                    IpNetError::PrefixLen {
                        text: text.to_owned(),
                        max,
                    }
                })?,
            };
        let net = IpNet { addr, prefix_len };
        if net.masked() != addr {
            return Err(IpNetError::HostBits {
                text: text.to_owned(),
                suggestion: IpNet {
                    addr: net.masked(),
                    prefix_len,
                }
                .to_string(),
            });
        }
        Ok(net)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix_len)
        }
    }
}

impl serde::Serialize for IpNet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IpNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An address as the kernel's 16-byte keys hold it: IPv4 as `::ffff:a.b.c.d`.
pub fn to_mapped_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address of a kernel 16-byte key, IPv4-mapped addresses given back as IPv4.
pub fn from_mapped_bytes(bytes: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_prefixes() {
        let n: IpNet = "10.1.2.3".parse().unwrap();
        assert!(n.is_host());
        assert_eq!(n.prefix_len(), 32);
        assert_eq!(n.to_string(), "10.1.2.3");
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(!n.is_host());
        assert_eq!(n.to_string(), "10.0.0.0/8");
        assert!(n.contains("10.200.1.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.9.9.9".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        let n: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(n.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!n.contains("2001:db9::5".parse().unwrap()));
        assert_eq!("::1".parse::<IpNet>().unwrap().prefix_len(), 128);
        assert_eq!("0.0.0.0/0".parse::<IpNet>().unwrap().prefix_len(), 0);
    }

    #[test]
    fn refuses_bad_text_with_a_reason() {
        assert!(matches!(
            "nope".parse::<IpNet>(),
            Err(IpNetError::Address(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<IpNet>(),
            Err(IpNetError::PrefixLen { max: 32, .. })
        ));
        assert!(matches!(
            "::/129".parse::<IpNet>(),
            Err(IpNetError::PrefixLen { max: 128, .. })
        ));
        let e = "10.1.2.3/8".parse::<IpNet>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "`10.1.2.3/8` has bits set beyond the prefix; did you mean 10.0.0.0/8?"
        );
    }

    #[test]
    fn mapped_bytes_round_trip() {
        for text in ["192.0.2.1", "2001:db8::1"] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(from_mapped_bytes(to_mapped_bytes(ip)), ip);
        }
    }
}
