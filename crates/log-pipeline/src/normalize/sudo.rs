//! sudo and su messages.

use crate::fields::{FieldSink, Name};

use super::{split, split_once};

/// `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la`, and the failure
/// forms with a reason before `TTY=`.
pub(super) fn sudo<'a>(msg: &'a str, out: &mut impl FieldSink<'a>) {
    let m = msg.trim_start();
    if let Some((user, rest)) = split_once(m, " : ") {
        let user = user.trim();
        if !user.is_empty() && memchr::memchr(b' ', user.as_bytes()).is_none() {
            out.put(Name::User, user);
            let mut outcome = "success";
            for (n, part) in split(rest, " ; ").enumerate() {
                if let Some((k, v)) = part
                    .split_once('=')
                    .filter(|(k, _)| k.bytes().all(|c| c.is_ascii_uppercase()))
                {
                    match k {
                        "TTY" => out.put(Name::Tty, v),
                        "PWD" => out.put(Name::Pwd, v),
                        "USER" => out.put(Name::TargetUser, v),
                        "COMMAND" => out.put(Name::Command, v),
                        _ => {}
                    }
                } else if n == 0 {
                    outcome = "failure";
                    out.put(Name::Reason, part.trim());
                }
            }
            if rest.starts_with("TTY=") || rest.starts_with("PWD=") || rest.starts_with("HOST=") {
                outcome = "success";
            }
            out.put(Name::Outcome, outcome);
        }
    }
}

/// `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`,
/// `Successful su for root by alice`, `FAILED su for root by alice`.
pub(super) fn su<'a>(msg: &'a str, out: &mut impl FieldSink<'a>) {
    let (failed, m) = match msg
        .strip_prefix("FAILED SU ")
        .or_else(|| msg.strip_prefix("FAILED su "))
    {
        Some(r) => (true, r),
        None => (false, msg),
    };
    if let Some(rest) = m.strip_prefix("(to ")
        && let Some((target, rest)) = split_once(rest, ") ")
    {
        let (user, tty) = split_once(rest, " on ").unwrap_or((rest, ""));
        out.put(Name::User, user);
        out.put(Name::TargetUser, target);
        if !tty.is_empty() {
            out.put(Name::Tty, tty);
        }
        out.put(Name::Outcome, if failed { "failure" } else { "success" });
    } else if let Some(rest) = m
        .strip_prefix("Successful su for ")
        .or_else(|| m.strip_prefix("for "))
        && let Some((target, user)) = split_once(rest, " by ")
    {
        out.put(Name::User, user.trim());
        out.put(Name::TargetUser, target);
        out.put(Name::Outcome, if failed { "failure" } else { "success" });
    }
}

#[cfg(test)]
mod tests {
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    fn s(v: &str) -> Option<Value> {
        Some(Value::Str(v.into()))
    }

    #[test]
    fn sudo_success_and_failure() {
        let r = parse_line("Mar  3 10:00:00 h sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow", Format::Rfc3164, "a").unwrap();
        let g = |k: &str| r.fields.get(k).cloned();
        assert_eq!(
            (g("user"), g("target_user"), g("tty"), g("pwd")),
            (s("alice"), s("root"), s("pts/0"), s("/home/alice"))
        );
        assert_eq!(
            (g("command"), g("outcome")),
            (s("/bin/cat /etc/shadow"), s("success"))
        );
        let r = parse_line("Mar  3 10:00:00 h sudo: mallory : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh", Format::Rfc3164, "a").unwrap();
        assert_eq!(r.fields.get("outcome").cloned(), s("failure"));
        assert_eq!(
            r.fields.get("reason").cloned(),
            s("3 incorrect password attempts")
        );
    }

    #[test]
    fn su_forms() {
        let r = parse_line(
            "Mar  3 10:00:00 h su[9]: FAILED SU (to root) bob on pts/2",
            Format::Rfc3164,
            "a",
        )
        .unwrap();
        assert_eq!(
            (
                r.fields.get("user").cloned(),
                r.fields.get("target_user").cloned(),
                r.fields.get("outcome").cloned()
            ),
            (s("bob"), s("root"), s("failure"))
        );
        let r = parse_line(
            "Mar  3 10:00:00 h su[9]: Successful su for root by alice",
            Format::Rfc3164,
            "a",
        )
        .unwrap();
        assert_eq!(
            (
                r.fields.get("user").cloned(),
                r.fields.get("outcome").cloned()
            ),
            (s("alice"), s("success"))
        );
    }
}
