//! PAM module messages: `pam_unix(sshd:auth): authentication failure; logname= uid=0 ... rhost=1.2.3.4  user=root`.

use ironpost_core::event::LogRecord;

/// Adds the PAM fields documented in the parent module.
pub(super) fn extract(rec: &mut LogRecord) {
    let msg = std::mem::take(&mut rec.message);
    read(&msg, rec);
    rec.message = msg;
}

fn read(msg: &str, rec: &mut LogRecord) {
    let Some(open) = msg.find('(') else { return };
    let Some(close) = msg[open..].find("): ").map(|c| open + c) else {
        return;
    };
    rec.fields.insert("pam_module", &msg[..open]);
    let inner = &msg[open + 1..close];
    let (svc, typ) = inner.split_once(':').unwrap_or((inner, ""));
    rec.fields.insert("pam_service", svc);
    if !typ.is_empty() {
        rec.fields.insert("pam_type", typ);
    }
    let text = &msg[close + 3..];
    if text.starts_with("authentication failure")
        || text.starts_with("check pass; user unknown")
        || text.starts_with("auth could not identify password")
    {
        rec.fields.insert("outcome", "failure");
    } else if let Some(rest) = text.strip_prefix("password changed for ") {
        rec.fields.insert("outcome", "success");
        rec.fields.insert("user", rest.trim());
    } else if let Some(rest) = text.strip_prefix("session opened for user ") {
        rec.fields.insert("session", "opened");
        session_user(rest, rec);
    } else if let Some(rest) = text.strip_prefix("session closed for user ") {
        rec.fields.insert("session", "closed");
        session_user(rest, rec);
    }
    if let Some((_, pairs_text)) = text.split_once("; ") {
        pairs(pairs_text, rec);
    }
}

/// `root(uid=0) by alice(uid=1000)` or `root by (uid=0)`.
fn session_user(s: &str, rec: &mut LogRecord) {
    let (user, by) = s.split_once(" by ").unwrap_or((s, ""));
    let user = user.split('(').next().unwrap_or(user).trim();
    rec.fields.insert("user", user);
    let by = by.split('(').next().unwrap_or("").trim();
    if !by.is_empty() {
        rec.fields.insert("by_user", by);
    }
}

/// The `key=value` pairs PAM appends (`logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root`).
pub(super) fn pairs(s: &str, rec: &mut LogRecord) {
    for part in s.split(' ') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        if matches!(
            k,
            "logname" | "uid" | "euid" | "tty" | "ruser" | "rhost" | "user"
        ) {
            rec.fields.insert(k, v);
        }
    }
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
