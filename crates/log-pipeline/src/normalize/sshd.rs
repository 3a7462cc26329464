//! sshd messages: authentication attempts, invalid users, disconnects.

use crate::fields::{FieldSink, Name};

use super::{find, rfind, split_once};

/// Adds the sshd fields documented in the parent module.
pub(super) fn read<'a>(msg: &'a str, out: &mut impl FieldSink<'a>) {
    if let Some(rest) = msg.strip_prefix("message repeated ")
        && let Some((n, inner)) = split_once(rest, " times: [ ")
    {
        if let Ok(n) = n.parse::<i64>() {
            out.put(Name::Repeated, n);
        }
        read(inner.strip_suffix(" ]").unwrap_or(inner), out);
        return;
    }
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    // One branch per first byte: the prefixes below differ in it, so at most one group of
    // comparisons runs per line.
    match msg.as_bytes().first() {
        Some(b'F' | b'A') => {
            if let Some(rest) = msg
                .strip_prefix("Failed ")
                .map(|r| (r, "failure"))
                .or_else(|| msg.strip_prefix("Accepted ").map(|r| (r, "success")))
            {
                authentication(rest, out);
            }
        }
        Some(b'I') => {
            if let Some(rest) = msg.strip_prefix("Invalid user ") {
                out.put(Name::InvalidUser, true);
                if let Some(at) = rfind(rest, " from ") {
                    out.put(Name::User, &rest[..at]);
                    address(&rest[at + 6..], out);
                } else {
                    out.put(Name::User, rest);
                }
            }
        }
        Some(b'i') => {
            if let Some(rest) = msg.strip_prefix("input_userauth_request: invalid user ") {
                out.put(Name::InvalidUser, true);
                out.put(Name::User, rest.strip_suffix(" [preauth]").unwrap_or(rest));
            }
        }
        Some(b'P') => {
            if let Some(rest) = msg.strip_prefix("PAM ")
                && find(rest, "more authentication failure").is_some()
            {
                out.put(Name::Outcome, "failure");
                super::pam::pairs(rest, out);
            }
        }
        Some(b'm') => {
            if let Some(rest) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
                out.put(Name::Outcome, "failure");
                let rest = invalid_user_prefix(rest, out);
                if let Some(at) = rfind(rest, " from ") {
                    out.put(Name::User, &rest[..at]);
                    address(&rest[at + 6..], out);
                }
            }
        }
        Some(b'D') => {
            if let Some(rest) = msg.strip_prefix("Disconnecting: Too many authentication failures")
            {
                out.put(Name::Outcome, "failure");
                if let Some(u) = rest.strip_prefix(" for ") {
                    let u = u.strip_suffix(" [preauth]").unwrap_or(u);
                    let u = invalid_user_prefix(u, out);
                    out.put(Name::User, u);
                }
            } else {
                peer(
                    msg,
                    &[
                        "Disconnected from ",
                        "Did not receive identification string from ",
                    ],
                    out,
                );
            }
        }
        Some(b'R') => peer(msg, &["Received disconnect from "], out),
        Some(b'C') => peer(
            msg,
            &[
                "Connection closed by ",
                "Connection reset by ",
                "Connection from ",
            ],
            out,
        ),
        Some(b'r') => {
            if msg.starts_with("reverse mapping checking getaddrinfo for ")
                && let (Some(o), Some(c)) = (find(msg, " ["), find(msg, "] "))
                && o < c
            {
                out.put(Name::SrcIp, &msg[o + 2..c]);
            }
        }
        _ => {}
    }
}

/// `<method> for [invalid user ]<user> from <ip> port <port> ssh2[: key]` after `Failed ` or
/// `Accepted `.
fn authentication<'a>((rest, outcome): (&'a str, &'static str), out: &mut impl FieldSink<'a>) {
    let Some((method, rest)) = split_once(rest, " for ") else {
        return;
    };
    out.put(Name::AuthMethod, method);
    out.put(Name::Outcome, outcome);
    let rest = invalid_user_prefix(rest, out);
    // The user name may hold spaces; " from " is searched from the right.
    if let Some(at) = rfind(rest, " from ") {
        out.put(Name::User, &rest[..at]);
        address(&rest[at + 6..], out);
    }
}

/// Strips `invalid user ` and records `invalid_user`.
fn invalid_user_prefix<'a>(s: &'a str, out: &mut impl FieldSink<'a>) -> &'a str {
    match s.strip_prefix("invalid user ") {
        Some(r) => {
            out.put(Name::InvalidUser, true);
            r
        }
        None => s,
    }
}

/// Connection and disconnection messages: `<prefix>[invalid user |authenticating user |user ]
/// [<user> ]<address> ...`.
fn peer<'a>(msg: &'a str, prefixes: &[&str], out: &mut impl FieldSink<'a>) {
    for prefix in prefixes {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let rest = if let Some(r) = rest.strip_prefix("invalid user ") {
                out.put(Name::InvalidUser, true);
                user_then_address(r, out)
            } else if let Some(r) = rest
                .strip_prefix("authenticating user ")
                .or_else(|| rest.strip_prefix("user "))
            {
                user_then_address(r, out)
            } else {
                rest
            };
            address(rest, out);
            return;
        }
    }
}

/// `user 1.2.3.4 port 22 ...`: takes the user (everything before the last address-looking word).
fn user_then_address<'a>(s: &'a str, out: &mut impl FieldSink<'a>) -> &'a str {
    let end = find(s, " port ").unwrap_or(s.len());
    match memchr::memrchr(b' ', &s.as_bytes()[..end]) {
        Some(sp) => {
            out.put(Name::User, &s[..sp]);
            &s[sp + 1..]
        }
        None => s,
    }
}

/// `1.2.3.4 port 22 ...` or `1.2.3.4: 11: ...` or `1.2.3.4 [preauth]`.
fn address<'a>(s: &'a str, out: &mut impl FieldSink<'a>) {
    let b = s.as_bytes();
    let end = b
        .iter()
        .position(|&c| c == b' ' || c == b':')
        .unwrap_or(b.len());
    let mut ip = &s[..end];
    // An IPv6 address holds colons: take the longest run of address characters instead.
    if b.get(end) == Some(&b':') && b[..end].iter().all(u8::is_ascii_hexdigit) {
        let e6 = b
            .iter()
            .position(|&c| !(c.is_ascii_hexdigit() || c == b':' || c == b'.'))
            .unwrap_or(b.len());
        let cand = s[..e6].trim_end_matches(':');
        if cand.parse::<std::net::Ipv6Addr>().is_ok() {
            ip = cand;
        }
    }
    if !is_ip(ip) {
        return;
    }
    out.put(Name::SrcIp, ip);
    if let Some(p) = super::word_after(&s[ip.len()..], " port ")
        && let Ok(port) = p.trim_end_matches(':').parse::<u16>()
    {
        out.put(Name::SrcPort, i64::from(port));
    }
}

/// True when `s` is an IPv4 or IPv6 address as `std::net::IpAddr` parses it; dotted quads are
/// checked by hand first.
fn is_ip(s: &str) -> bool {
    is_dotted_quad(s.as_bytes()) || s.parse::<std::net::IpAddr>().is_ok()
}

/// Four decimal octets of 1 to 3 digits, at most 255, no leading zero: a subset of what
/// `Ipv4Addr::from_str` accepts (anything else goes to it).
fn is_dotted_quad(s: &[u8]) -> bool {
    let mut i = 0;
    for octet in 0..4 {
        let start = i;
        let mut v: u32 = 0;
        while i < s.len() && i - start < 3 && s[i].is_ascii_digit() {
            v = v * 10 + u32::from(s[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && s[start] == b'0') {
            return false;
        }
        if octet < 3 {
            if s.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
    }
    i == s.len()
}

#[cfg(test)]
mod tests {
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    fn f(line: &str, k: &str) -> Option<Value> {
        parse_line(line, Format::Rfc3164, "s")
            .unwrap()
            .fields
            .get(k)
            .cloned()
    }

    #[test]
    fn failed_and_accepted() {
        let l = "Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2";
        assert_eq!(f(l, "user"), Some(Value::Str("test9".into())));
        assert_eq!(f(l, "src_ip"), Some(Value::Str("52.80.34.196".into())));
        assert_eq!(f(l, "src_port"), Some(Value::Int(36060)));
        assert_eq!(f(l, "auth_method"), Some(Value::Str("password".into())));
        assert_eq!(f(l, "outcome"), Some(Value::Str("failure".into())));
        assert_eq!(f(l, "invalid_user"), Some(Value::Bool(true)));
        let l = "Dec 10 07:07:38 h sshd-session[1]: Accepted publickey for bob from 2001:db8::1 port 5000 ssh2: ED25519 SHA256:x";
        assert_eq!(f(l, "outcome"), Some(Value::Str("success".into())));
        assert_eq!(f(l, "src_ip"), Some(Value::Str("2001:db8::1".into())));
        assert_eq!(f(l, "invalid_user"), None);
        let l = "Dec 10 07:07:38 h sshd[1]: message repeated 2 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]";
        assert_eq!(f(l, "repeated"), Some(Value::Int(2)));
        assert_eq!(f(l, "user"), Some(Value::Str("root".into())));
        let l = "Dec 10 07:07:38 h sshd[1]: Received disconnect from 139.59.209.18: 11: Bye Bye [preauth]";
        assert_eq!(f(l, "src_ip"), Some(Value::Str("139.59.209.18".into())));
        let l = "Dec 10 07:07:38 h sshd[1]: Connection closed by authenticating user root 10.0.0.9 port 4242 [preauth]";
        assert_eq!(
            (f(l, "user"), f(l, "src_port")),
            (Some(Value::Str("root".into())), Some(Value::Int(4242)))
        );
    }

    #[test]
    fn dotted_quads_checked_by_hand_are_what_std_accepts() {
        for s in [
            "0.0.0.0",
            "1.2.3.4",
            "255.255.255.255",
            "10.0.0.9",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4 ",
            "1..3.4",
            "1.2.3.",
            ".1.2.3",
            "1234.1.1.1",
            "1.2.3.a",
            "",
            "::1",
        ] {
            let by_hand = super::is_dotted_quad(s.as_bytes());
            assert!(!by_hand || s.parse::<std::net::Ipv4Addr>().is_ok(), "{s}");
            assert_eq!(
                super::is_ip(s),
                s.parse::<std::net::IpAddr>().is_ok(),
                "{s}"
            );
        }
    }
}
