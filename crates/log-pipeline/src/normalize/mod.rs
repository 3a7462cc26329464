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

/// Adds the documented fields of the record's service to `rec.fields`.
pub fn normalize(rec: &mut LogRecord) {
    if rec.format == "json" {
        web::from_json(rec);
    }
    let Some(service) = rec.service.as_deref() else {
        return;
    };
    if rec.message.starts_with("pam_") {
        pam::extract(rec);
        return;
    }
    match service {
        "sshd" => sshd::extract(rec),
        "sudo" => sudo::sudo(rec),
        "su" => sudo::su(rec),
        "useradd" | "usermod" | "userdel" | "groupadd" | "groupmod" | "groupdel" | "passwd"
        | "chpasswd" | "chage" | "gpasswd" => accounts::extract(rec),
        "cron" | "crond" => cron(rec),
        "nginx" | "httpd" | "apache2" | "apache" => {
            // An access line sent through syslog: its own timestamp (the request's) replaces the
            // header's (the moment it was written).
            let msg = std::mem::take(&mut rec.message);
            crate::parsers::access_log::fill(&msg, rec);
            rec.message = msg;
        }
        _ => {}
    }
}

/// `(root) CMD (command)`.
fn cron(rec: &mut LogRecord) {
    let m = rec.message.as_str();
    let Some(rest) = m.strip_prefix('(') else {
        return;
    };
    let Some((user, rest)) = rest.split_once(") ") else {
        return;
    };
    let user = user.to_owned();
    let command = rest
        .strip_prefix("CMD (")
        .map(|c| c.strip_suffix(')').unwrap_or(c).trim().to_owned());
    rec.fields.insert("user", user);
    if let Some(c) = command {
        rec.fields.insert("command", c);
    }
}

/// The word after `prefix` in `s`, up to a space (or the end).
pub(crate) fn word_after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let at = s.find(prefix)? + prefix.len();
    let rest = &s[at..];
    Some(&rest[..rest.find(' ').unwrap_or(rest.len())])
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
}
