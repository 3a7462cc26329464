//! PAM module messages: `pam_unix(sshd:auth): authentication failure; logname= uid=0 ... rhost=1.2.3.4  user=root`.

use crate::fields::{FieldSink, Name};

use super::{before_byte, find, split_byte, split_once};

/// Adds the PAM fields documented in the parent module.
pub(super) fn read<'a>(msg: &'a str, out: &mut impl FieldSink<'a>) {
    let Some(open) = memchr::memchr(b'(', msg.as_bytes()) else {
        return;
    };
    let Some(close) = find(&msg[open..], "): ").map(|c| open + c) else {
        return;
    };
    out.put(Name::PamModule, &msg[..open]);
    let inner = &msg[open + 1..close];
    let (svc, typ) = split_byte(inner, b':').unwrap_or((inner, ""));
    out.put(Name::PamService, svc);
    if !typ.is_empty() {
        out.put(Name::PamType, typ);
    }
    let text = &msg[close + 3..];
    if text.starts_with("authentication failure")
        || text.starts_with("check pass; user unknown")
        || text.starts_with("auth could not identify password")
    {
        out.put(Name::Outcome, "failure");
    } else if let Some(rest) = text.strip_prefix("password changed for ") {
        out.put(Name::Outcome, "success");
        out.put(Name::User, rest.trim());
    } else if let Some(rest) = text.strip_prefix("session opened for user ") {
        out.put(Name::Session, "opened");
        session_user(rest, out);
    } else if let Some(rest) = text.strip_prefix("session closed for user ") {
        out.put(Name::Session, "closed");
        session_user(rest, out);
    }
    if let Some((_, pairs_text)) = split_once(text, "; ") {
        pairs(pairs_text, out);
    }
}

/// `root(uid=0) by alice(uid=1000)` or `root by (uid=0)`.
fn session_user<'a>(s: &'a str, out: &mut impl FieldSink<'a>) {
    let (user, by) = split_once(s, " by ").unwrap_or((s, ""));
    let user = before_byte(user, b'(').trim();
    out.put(Name::User, user);
    let by = before_byte(by, b'(').trim();
    if !by.is_empty() {
        out.put(Name::ByUser, by);
    }
}

/// The `key=value` pairs PAM appends (`logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root`).
pub(super) fn pairs<'a>(s: &'a str, out: &mut impl FieldSink<'a>) {
    let mut rest = Some(s);
    while let Some(r) = rest {
        let part = match split_byte(r, b' ') {
            Some((part, next)) => {
                rest = Some(next);
                part
            }
            None => {
                rest = None;
                r
            }
        };
        if let Some((k, v)) = split_byte(part, b'=')
            && !v.is_empty()
            && let Some(name) = pair_name(k)
        {
            out.put(name, v);
        }
    }
}

/// The field name of a PAM pair's key, for the keys kept.
fn pair_name(k: &str) -> Option<Name> {
    Some(match k {
        "logname" => Name::Logname,
        "uid" => Name::Uid,
        "euid" => Name::Euid,
        "tty" => Name::Tty,
        "ruser" => Name::Ruser,
        "rhost" => Name::Rhost,
        "user" => Name::User,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn auth_failure_pairs() {
        let r = parse_line("Dec 10 06:55:48 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root", Format::Rfc3164, "a").unwrap();
        let s = |k: &str| r.fields.get(k).cloned();
        assert_eq!(s("rhost"), Some(Value::Str("173.234.31.186".into())));
        assert_eq!(s("user"), Some(Value::Str("root".into())));
        assert_eq!(s("tty"), Some(Value::Str("ssh".into())));
        assert_eq!(s("ruser"), None);
        assert_eq!(s("outcome"), Some(Value::Str("failure".into())));
        assert_eq!(s("pam_service"), Some(Value::Str("sshd".into())));
        let r = parse_line("Jan 1 00:00:00 h sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", Format::Rfc3164, "a").unwrap();
        assert_eq!(r.fields.get("user"), Some(&Value::Str("root".into())));
        assert_eq!(r.fields.get("by_user"), Some(&Value::Str("alice".into())));
    }
}
