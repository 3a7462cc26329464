//! sshd messages: authentication attempts, invalid users, disconnects.

use ironpost_core::event::{LogRecord, Value};

/// Adds the sshd fields documented in the parent module.
pub(super) fn extract(rec: &mut LogRecord) {
    let msg = std::mem::take(&mut rec.message);
    read(&msg, rec);
    rec.message = msg;
}

fn read(msg: &str, rec: &mut LogRecord) {
    if let Some(rest) = msg.strip_prefix("message repeated ")
        && let Some((n, inner)) = rest.split_once(" times: [ ")
    {
        if let Ok(n) = n.parse::<i64>() {
            rec.fields.insert("repeated", n);
        }
        read(inner.strip_suffix(" ]").unwrap_or(inner), rec);
        return;
    }
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    if let Some(rest) = msg
        .strip_prefix("Failed ")
        .map(|r| (r, "failure"))
        .or_else(|| msg.strip_prefix("Accepted ").map(|r| (r, "success")))
    {
        let (rest, outcome) = rest;
        // "<method> for [invalid user ]<user> from <ip> port <port> ssh2[: key]"
        let Some((method, rest)) = rest.split_once(" for ") else {
            return;
        };
        rec.fields.insert("auth_method", method);
        rec.fields.insert("outcome", outcome);
        let rest = match rest.strip_prefix("invalid user ") {
            Some(r) => {
                rec.fields.insert("invalid_user", Value::Bool(true));
                r
            }
            None => rest,
        };
        // The user name may hold spaces; " from " is searched from the right.
        if let Some(at) = rest.rfind(" from ") {
            rec.fields.insert("user", &rest[..at]);
            address(&rest[at + 6..], rec);
        }
        return;
    }
    if let Some(rest) = msg.strip_prefix("Invalid user ") {
        rec.fields.insert("invalid_user", Value::Bool(true));
        if let Some(at) = rest.rfind(" from ") {
            rec.fields.insert("user", &rest[..at]);
            address(&rest[at + 6..], rec);
        } else {
            rec.fields.insert("user", rest);
        }
        return;
    }
    if let Some(rest) = msg.strip_prefix("input_userauth_request: invalid user ") {
        rec.fields.insert("invalid_user", Value::Bool(true));
        rec.fields
            .insert("user", rest.strip_suffix(" [preauth]").unwrap_or(rest));
        return;
    }
    if let Some(rest) = msg.strip_prefix("PAM ")
        && rest.contains("more authentication failure")
    {
        rec.fields.insert("outcome", "failure");
        super::pam::pairs(rest, rec);
        return;
    }
    if let Some(rest) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
        rec.fields.insert("outcome", "failure");
        let rest = match rest.strip_prefix("invalid user ") {
            Some(r) => {
                rec.fields.insert("invalid_user", Value::Bool(true));
                r
            }
            None => rest,
        };
        if let Some(at) = rest.rfind(" from ") {
            rec.fields.insert("user", &rest[..at]);
            address(&rest[at + 6..], rec);
        }
        return;
    }
    if let Some(rest) = msg.strip_prefix("Disconnecting: Too many authentication failures") {
        rec.fields.insert("outcome", "failure");
        if let Some(u) = rest.strip_prefix(" for ") {
            let u = u.strip_suffix(" [preauth]").unwrap_or(u);
            let u = match u.strip_prefix("invalid user ") {
                Some(r) => {
                    rec.fields.insert("invalid_user", Value::Bool(true));
                    r
                }
                None => u,
            };
            rec.fields.insert("user", u);
        }
        return;
    }
    for prefix in [
        "Received disconnect from ",
        "Disconnected from ",
        "Connection closed by ",
        "Connection reset by ",
        "Did not receive identification string from ",
        "Connection from ",
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let rest = if let Some(r) = rest.strip_prefix("invalid user ") {
                rec.fields.insert("invalid_user", Value::Bool(true));
                user_then_address(r, rec)
            } else if let Some(r) = rest
                .strip_prefix("authenticating user ")
                .or_else(|| rest.strip_prefix("user "))
            {
                user_then_address(r, rec)
            } else {
                rest
            };
            address(rest, rec);
            return;
        }
    }
    if msg.starts_with("reverse mapping checking getaddrinfo for ")
        && let (Some(o), Some(c)) = (msg.find(" ["), msg.find("] "))
        && o < c
    {
        rec.fields.insert("src_ip", &msg[o + 2..c]);
    }
}

/// `user 1.2.3.4 port 22 ...`: takes the user (everything before the last address-looking word).
fn user_then_address<'a>(s: &'a str, rec: &mut LogRecord) -> &'a str {
    let end = s.find(" port ").unwrap_or(s.len());
    match s[..end].rfind(' ') {
        Some(sp) => {
            rec.fields.insert("user", &s[..sp]);
            &s[sp + 1..]
        }
        None => s,
    }
}

/// `1.2.3.4 port 22 ...` or `1.2.3.4: 11: ...` or `1.2.3.4 [preauth]`.
fn address(s: &str, rec: &mut LogRecord) {
    let end = s.find([' ', ':']).unwrap_or(s.len());
    let mut ip = &s[..end];
    // An IPv6 address holds colons: take the longest run of address characters instead.
    if s[end..].starts_with(':') && s[..end].bytes().all(|c| c.is_ascii_hexdigit()) {
        let e6 = s
            .find(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
            .unwrap_or(s.len());
        let cand = s[..e6].trim_end_matches(':');
        if cand.parse::<std::net::Ipv6Addr>().is_ok() {
            ip = cand;
        }
    }
    if ip.parse::<std::net::IpAddr>().is_err() {
        return;
    }
    rec.fields.insert("src_ip", ip);
    if let Some(p) = super::word_after(&s[ip.len()..], " port ")
        && let Ok(port) = p.trim_end_matches(':').parse::<u16>()
    {
        rec.fields.insert("src_port", i64::from(port));
    }
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
}
