//! Account management tools: useradd, usermod, userdel, groupadd, groupmod, groupdel, passwd.

use ironpost_core::event::LogRecord;

/// Adds `action`, `user`, `group`, `uid`, `gid`, `home`, `shell`.
pub(super) fn extract(rec: &mut LogRecord) {
    let msg = std::mem::take(&mut rec.message);
    read(&msg, rec);
    rec.message = msg;
}

fn read(m: &str, rec: &mut LogRecord) {
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
        || m.starts_with("user ") && m.contains(" added by ")
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
        rec.fields.insert("action", action);
    }
    // `name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash`
    if let Some((_, pairs)) = m.split_once(": ") {
        for part in pairs.split(", ") {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            match k {
                "name" if action.starts_with("group") => rec.fields.insert("group", v),
                "name" => rec.fields.insert("user", v),
                "UID" => rec.fields.insert("uid", v),
                "GID" => rec.fields.insert("gid", v),
                "home" => rec.fields.insert("home", v),
                "shell" => rec.fields.insert("shell", v),
                _ => {}
            }
        }
    }
    // `add 'bob' to group 'sudo'`, `delete user 'bob'`, `removed group 'bob' owned by 'bob'`.
    let quoted: Vec<&str> = m.split('\'').skip(1).step_by(2).collect();
    match (action, quoted.as_slice()) {
        ("group_member_added" | "group_member_removed", [user, group, ..]) => {
            rec.fields.insert("user", *user);
            rec.fields.insert("group", *group);
        }
        ("group_deleted", [group, ..]) => rec.fields.insert("group", *group),
        ("user_deleted" | "user_modified" | "password_changed", [user, ..]) => {
            rec.fields.insert("user", *user)
        }
        _ => {}
    }
    if action == "password_changed"
        && let Some(u) = m.strip_prefix("password changed for ")
    {
        rec.fields.insert("user", u.trim());
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
