//! Normalization: the fields detection needs, extracted from the messages of common services.
//!
//! [`normalize`] runs after every parser. It looks at `service` (and at the message for PAM
//! lines, which any service may write) and adds fields to `LogRecord.fields`. These names are
//! the contract with Sigma rules and `docs/`; change them only together.
//!
//! # Record header (every format)
//!
//! | name | meaning |
//! |---|---|
//! | `service` | program or app name; lowercased for programs conventionally lowercase (`sshd`, `sudo`, `su`, `cron` for `CRON`, `useradd`, ...); `sshd-session` is `sshd`; `webserver` for access logs; `auditd`; `asa`/`ios`; FortiGate's log `type` |
//! | `hostname`, `pid`, `facility`, `severity` | from the header |
//! | `message` | the free text after the header |
//! | `program` | the original tag when `service` differs from it (`CRON`, `sshd-session`, `/usr/sbin/cron`) |
//! | `procid` | a non-numeric PID/PROCID |
//! | `msgid`, `sd.<id>.<param>`, `sd.<id>` | RFC 5424 MSGID and structured data |
//! | `peer` | the sending address, on records from syslog UDP and TCP sources |
//! | `truncated` | `true` when the line was cut at the source's maximum line or frame size |
//! | `parse_error` | on records of format `raw` (no parser accepted the line): why |
//! | `a.b.c`, `a.0` | JSON keys, nested objects and arrays flattened |
//! | `type`, `serial`, `types`, `<type>.<key>`, audit keys | auditd ([`crate::parsers::auditd`]) |
//! | `product`, `cisco.facility`, `cisco.severity`, `cisco.mnemonic`, `cisco.seq` | Cisco |
//! | `product`, FortiGate keys (`srcip`, `action`, `cfgpath`, ...) | FortiGate |
//!
//! # sshd (`service` = `sshd`)
//!
//! | name | value |
//! |---|---|
//! | `user` | the account named (also for invalid users) |
//! | `src_ip`, `src_port` | the client's address (text) and port (integer) |
//! | `auth_method` | `password`, `publickey`, `keyboard-interactive/pam`, `none`, ... |
//! | `outcome` | `failure` (Failed ..., PAM N more authentication failures, maximum authentication attempts, Too many authentication failures) or `success` (Accepted ...) |
//! | `invalid_user` | `true` when sshd says the user does not exist |
//! | `repeated` | N of `message repeated N times: [ ... ]` (the inner message is what is read) |
//!
//! # PAM (any service, message `pam_unix(svc:type): ...`)
//!
//! | name | value |
//! |---|---|
//! | `pam_module`, `pam_service`, `pam_type` | `pam_unix`, `sshd`, `auth` |
//! | `rhost`, `user`, `ruser`, `tty`, `logname`, `uid`, `euid` | the `key=value` pairs (empty values omitted) |
//! | `user`, `by_user` | `session opened for user X by Y(uid=N)` |
//! | `session` | `opened` / `closed` |
//! | `outcome` | `failure` (authentication failure, check pass; user unknown) or `success` (password changed) |
//!
//! # sudo
//!
//! `user` (who ran sudo), `target_user` (`USER=`), `command`, `tty`, `pwd`, `outcome`
//! (`success`, or `failure` for incorrect password attempts / not in sudoers / not allowed),
//! `reason` (the failure text).
//!
//! # su
//!
//! `user` (who ran su), `target_user`, `tty`, `outcome` (`(to root) alice on pts/0`,
//! `Successful su for root by alice`, `FAILED SU (to root) ...`, `FAILED su for root by alice`).
//!
//! # useradd, usermod, userdel, groupadd, groupmod, groupdel, passwd, chpasswd, chage, gpasswd
//!
//! `action` (`user_added`, `group_added`, `user_deleted`, `group_deleted`, `user_modified`,
//! `group_member_added`, `password_changed`, ...), `user`, `group`, `uid`, `gid`, `home`,
//! `shell`.
//!
//! # cron
//!
//! `user` and `command` from `(root) CMD (command)`.
//!
//! # Web servers (access logs; JSON lines with access-log keys; nginx/httpd/apache syslog)
//!
//! Sigma webserver names: `c-ip`, `cs-username`, `cs-method`, `c-uri` (path and query),
//! `cs-uri-stem`, `cs-uri-query`, `c-uri-extension`, `cs-version`, `sc-status` (integer),
//! `sc-bytes`, `cs-referer`, `cs-user-agent` and `c-useragent` (same value), `cs-host`.

mod accounts;
mod pam;
mod sshd;
mod sudo;
mod web;

use ironpost_core::event::LogRecord;

use crate::fields::{FieldSink, Name, RecordSink};

/// Adds the documented fields of the record's service to `rec.fields`.
pub fn normalize(rec: &mut LogRecord) {
    if rec.format == "json" {
        web::from_json(rec);
    }
    let Some(service) = rec.service.as_deref() else {
        return;
    };
    let mut out = RecordSink {
        fields: &mut rec.fields,
        timestamp: &mut rec.timestamp,
    };
    extract(service, &rec.message, &mut out);
}

/// The service dispatch: one match on the service name picks the one extractor that reads
/// the message (PAM messages, which any service writes, are told by their `pam_` prefix).
/// Lines of other services are not scanned at all.
pub(crate) fn extract<'a>(service: &str, message: &'a str, out: &mut impl FieldSink<'a>) {
    if message.starts_with("pam_") {
        pam::read(message, out);
        return;
    }
    match service {
        "sshd" => sshd::read(message, out),
        "sudo" => sudo::sudo(message, out),
        "su" => sudo::su(message, out),
        "useradd" | "usermod" | "userdel" | "groupadd" | "groupmod" | "groupdel" | "passwd"
        | "chpasswd" | "chage" | "gpasswd" => accounts::read(message, out),
        "cron" | "crond" => cron(message, out),
        "nginx" | "httpd" | "apache2" | "apache" => {
            // An access line sent through syslog: its own timestamp (the request's) replaces the
            // header's (the moment it was written).
            crate::parsers::access_log::fill(message, out);
        }
        _ => {}
    }
}

/// `(root) CMD (command)`.
fn cron<'a>(m: &'a str, out: &mut impl FieldSink<'a>) {
    let Some(rest) = m.strip_prefix('(') else {
        return;
    };
    let Some((user, rest)) = split_once(rest, ") ") else {
        return;
    };
    let command = rest
        .strip_prefix("CMD (")
        .map(|c| c.strip_suffix(')').unwrap_or(c).trim());
    out.put(Name::User, user);
    if let Some(c) = command {
        out.put(Name::Command, c);
    }
}

/// The byte offset of the first `needle` in `hay` (memchr on the needle's first byte that is
/// not a space, then one comparison per candidate: no searcher set up per call).
pub(crate) fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    if n.len() > h.len() {
        return None;
    }
    let k = n.iter().position(|&c| c != b' ').unwrap_or(0);
    let last = h.len() - n.len();
    let mut from = k;
    while from <= last + k {
        let p = from + memchr::memchr(n[k], &h[from..=last + k])?;
        let start = p - k;
        if &h[start..start + n.len()] == n {
            return Some(start);
        }
        from = p + 1;
    }
    None
}

/// The byte offset of the last `needle` in `hay`.
pub(crate) fn rfind(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(h.len());
    }
    if n.len() > h.len() {
        return None;
    }
    let k = n.iter().position(|&c| c != b' ').unwrap_or(0);
    let last = h.len() - n.len();
    let mut to = last + k + 1;
    while to > k {
        let p = k + memchr::memrchr(n[k], &h[k..to])?;
        let start = p - k;
        if &h[start..start + n.len()] == n {
            return Some(start);
        }
        to = p;
    }
    None
}

/// `str::split_once` with a string separator, through [`find`].
pub(crate) fn split_once<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let at = find(s, sep)?;
    Some((&s[..at], &s[at + sep.len()..]))
}

/// `str::split` with a non-empty string separator, through [`find`].
pub(crate) fn split<'a>(s: &'a str, sep: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, sep) {
            Some(at) => {
                rest = Some(&r[at + sep.len()..]);
                Some(&r[..at])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `str::split_once` with a one-byte ASCII separator, through memchr.
pub(crate) fn split_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let at = memchr::memchr(sep, s.as_bytes())?;
    Some((&s[..at], &s[at + 1..]))
}

/// The text of `s` before the first `sep` (all of it when there is none).
pub(crate) fn before_byte(s: &str, sep: u8) -> &str {
    memchr::memchr(sep, s.as_bytes()).map_or(s, |at| &s[..at])
}

/// The word after `prefix` in `s`, up to a space (or the end).
pub(crate) fn word_after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let at = find(s, prefix)? + prefix.len();
    let rest = &s[at..];
    Some(&rest[..memchr::memchr(b' ', rest.as_bytes()).unwrap_or(rest.len())])
}

#[cfg(test)]
mod tests {
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn cron_command() {
        let r = parse_line("Jan  1 00:00:01 h CRON[5]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)", Format::Rfc3164, "s").unwrap();
        assert_eq!(r.fields.get("user"), Some(&Value::Str("root".into())));
        assert_eq!(
            r.fields.get("command"),
            Some(&Value::Str(
                "cd / && run-parts --report /etc/cron.hourly".into()
            ))
        );
    }

    #[test]
    fn string_search_helpers_agree_with_std() {
        let hays = [
            "",
            " ",
            "Failed password for root from 1.2.3.4 port 22 ssh2",
            "user from from x from ",
            "  for  for",
            "a : b ; c ; d",
            "éé from é",
            "aaaa",
        ];
        let needles = [
            " from ", " for ", " ; ", " : ", "aa", "a", " ", "é", "x", "zzz",
        ];
        for h in hays {
            for n in needles {
                assert_eq!(super::find(h, n), h.find(n), "{h:?} {n:?}");
                assert_eq!(super::rfind(h, n), h.rfind(n), "{h:?} {n:?}");
                assert_eq!(super::split_once(h, n), h.split_once(n), "{h:?} {n:?}");
                assert_eq!(
                    super::split(h, n).collect::<Vec<_>>(),
                    h.split(n).collect::<Vec<_>>(),
                    "{h:?} {n:?}"
                );
            }
            for c in [b' ', b'=', b'('] {
                let ch = char::from(c);
                assert_eq!(super::split_byte(h, c), h.split_once(ch));
                assert_eq!(super::before_byte(h, c), h.split(ch).next().unwrap());
            }
        }
    }
}
