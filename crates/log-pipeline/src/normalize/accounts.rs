//! Account management tools: useradd, usermod, userdel, groupadd, groupmod, groupdel, passwd.

use crate::fields::{FieldSink, Name};

use super::{find, split, split_once};

/// Adds `action`, `user`, `group`, `uid`, `gid`, `home`, `shell`.
pub(super) fn read<'a>(m: &'a str, out: &mut impl FieldSink<'a>) {
    let action = if m.starts_with("new user:") {
        "user_added"
    } else if m.starts_with("new group:") || m.starts_with("group added to") {
        "group_added"
    } else if m.starts_with("delete user") {
        "user_deleted"
    } else if m.starts_with("removed group")
        || m.starts_with("group deleted")
        || m.starts_with("delete group")
    {
        "group_deleted"
    } else if m.starts_with("add '")
        || m.starts_with("add member")
        || m.starts_with("user ") && find(m, " added by ").is_some()
    {
        "group_member_added"
    } else if m.starts_with("delete '") || m.starts_with("removed '") {
        "group_member_removed"
    } else if m.starts_with("password changed for")
        || m.starts_with("change user '") && m.ends_with("password")
    {
        "password_changed"
    } else if m.starts_with("change user")
        || m.starts_with("lock user")
        || m.starts_with("unlock user")
    {
        "user_modified"
    } else if m.starts_with("group changed") || m.starts_with("change group") {
        "group_modified"
    } else {
        ""
    };
    if !action.is_empty() {
        out.put(Name::Action, action);
    }
    // `name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash`
    if let Some((_, pairs)) = split_once(m, ": ") {
        for part in split(pairs, ", ") {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            match k {
                "name" if action.starts_with("group") => out.put(Name::Group, v),
                "name" => out.put(Name::User, v),
                "UID" => out.put(Name::Uid, v),
                "GID" => out.put(Name::Gid, v),
                "home" => out.put(Name::Home, v),
                "shell" => out.put(Name::Shell, v),
                _ => {}
            }
        }
    }
    // `add 'bob' to group 'sudo'`, `delete user 'bob'`, `removed group 'bob' owned by 'bob'`.
    let mut quoted = m.split('\'').skip(1).step_by(2);
    let (first, second) = (quoted.next(), quoted.next());
    match (action, first, second) {
        ("group_member_added" | "group_member_removed", Some(user), Some(group)) => {
            out.put(Name::User, user);
            out.put(Name::Group, group);
        }
        ("group_deleted", Some(group), _) => out.put(Name::Group, group),
        ("user_deleted" | "user_modified" | "password_changed", Some(user), _) => {
            out.put(Name::User, user)
        }
        _ => {}
    }
    if action == "password_changed"
        && let Some(u) = m.strip_prefix("password changed for ")
    {
        out.put(Name::User, u.trim());
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
    fn useradd_and_usermod() {
        let r = parse_line("Mar  3 10:00:00 h useradd[9]: new user: name=eve, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/0", Format::Rfc3164, "a").unwrap();
        let g = |k: &str| r.fields.get(k).cloned();
        assert_eq!(
            (g("action"), g("user"), g("uid"), g("shell")),
            (s("user_added"), s("eve"), s("0"), s("/bin/bash"))
        );
        let r = parse_line(
            "Mar  3 10:00:00 h usermod[9]: add 'eve' to group 'sudo'",
            Format::Rfc3164,
            "a",
        )
        .unwrap();
        assert_eq!(
            (
                r.fields.get("user").cloned(),
                r.fields.get("group").cloned()
            ),
            (s("eve"), s("sudo"))
        );
        let r = parse_line(
            "Mar  3 10:00:00 h groupadd[9]: new group: name=ops, GID=1005",
            Format::Rfc3164,
            "a",
        )
        .unwrap();
        assert_eq!(
            (r.fields.get("group").cloned(), r.fields.get("gid").cloned()),
            (s("ops"), s("1005"))
        );
    }
}
