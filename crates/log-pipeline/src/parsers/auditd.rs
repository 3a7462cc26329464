//! Linux audit records: `[node=N ]type=T msg=audit(SECS.MS:SERIAL): key=value ...`.
//!
//! A line becomes a record with `service` `auditd` and the fields `type`, `serial` and every
//! `key=value` (the inner `msg='...'` of user-space records is read as key=value pairs too).
//! Values auditd hex-encodes because they hold spaces or control bytes (`proctitle`, `comm`,
//! `exe`, `cwd`, `name`, `data`, `key`, the `aN` of EXECVE, ...) are decoded, NULs read as
//! spaces. [`AuditAssembler`] groups the records of one serial into one event.

use chrono::{TimeZone, Utc};
use ironpost_core::event::{LogRecord, Value};

use super::Ctx;
use crate::{Format, ParseError};

const F: Format = Format::Auditd;

/// True when the line looks like an audit record.
pub fn looks_like(line: &str) -> bool {
    let l = line
        .strip_prefix("node=")
        .map_or(line, |r| r.split_once(' ').map_or("", |x| x.1));
    l.starts_with("type=") && l.contains(" msg=audit(")
}

/// Parses one audit record line.
pub fn parse(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    let mut rest = line;
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, r) = r
            .split_once(' ')
            .ok_or(ParseError::invalid(F, 5, "line ends after node="))?;
        node = Some(n);
        rest = r;
    }
    let at = line.len() - rest.len();
    let r = rest
        .strip_prefix("type=")
        .ok_or(ParseError::invalid(F, at, "no `type=`"))?;
    let (typ, r) = r
        .split_once(' ')
        .ok_or(ParseError::invalid(F, at, "line ends after type"))?;
    let at = line.len() - r.len();
    let r = r
        .strip_prefix("msg=audit(")
        .ok_or(ParseError::invalid(F, at, "no `msg=audit(`"))?;
    let close = r.find("):").ok_or(ParseError::invalid(
        F,
        at,
        "`msg=audit(` is not closed by `):`",
    ))?;
    let stamp = &r[..close];
    let (time, serial) = stamp.split_once(':').ok_or(ParseError::invalid(
        F,
        at + 10,
        "audit stamp is not `secs.ms:serial`",
    ))?;
    let (secs, millis) = time.split_once('.').unwrap_or((time, "0"));
    let secs: i64 = secs
        .parse()
        .map_err(|_| ParseError::invalid(F, at + 10, "audit time is not a number"))?;
    let millis: i64 = millis
        .parse()
        .map_err(|_| ParseError::invalid(F, at + 10, "audit time is not a number"))?;
    let serial: i64 = serial
        .parse()
        .map_err(|_| ParseError::invalid(F, at + 10, "audit serial is not a number"))?;
    let body = r[close + 2..].trim_start();
    let mut rec = ctx.record(F, body);
    rec.timestamp = Utc
        .timestamp_millis_opt(secs.saturating_mul(1000).saturating_add(millis))
        .single()
        .ok_or(ParseError::invalid(
            F,
            at + 10,
            "audit time is out of range",
        ))?;
    rec.service = Some("auditd".into());
    rec.hostname = node.map(Into::into);
    rec.fields.insert("type", typ);
    rec.fields.insert("serial", serial);
    let execve = typ == "EXECVE";
    key_values(body, execve, &mut |k, v| rec.fields.insert(k, v));
    if let Some(Value::Str(pid)) = rec.fields.get("pid")
        && let Ok(p) = pid.parse()
    {
        rec.pid = Some(p);
    }
    Ok(rec)
}

/// Calls `put` for every `key=value` of `body`, decoding quotes and hex.
fn key_values(body: &str, execve: bool, put: &mut dyn FnMut(&str, Value)) {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Enriched logs separate the translated fields with 0x1D (group separator).
        while i < b.len() && (b[i] == b' ' || b[i] == 0x1d) {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let key = &body[ks..i];
        i += 1;
        let (raw, quoted) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = body[i + 1..].find(q as char).map_or(b.len(), |e| i + 1 + e);
                let v = &body[i + 1..end];
                i = (end + 1).min(b.len());
                (v, Some(q))
            }
            _ => {
                let vs = i;
                while i < b.len() && b[i] != b' ' && b[i] != 0x1d {
                    i += 1;
                }
                (&body[vs..i], None)
            }
        };
        if key.is_empty() {
            continue;
        }
        if quoted == Some(b'\'') && key == "msg" {
            // User-space records nest their own key=value list in msg='...'.
            key_values(raw, false, put);
            continue;
        }
        if quoted.is_none()
            && is_hex_encoded(key, raw, execve)
            && let Some(text) = decode_hex(raw)
        {
            put(key, Value::from(text));
            continue;
        }
        put(key, Value::from(raw));
    }
}

/// Whether auditd would have hex-encoded this unquoted value.
fn is_hex_encoded(key: &str, v: &str, execve: bool) -> bool {
    let string_key = matches!(
        key,
        "proctitle"
            | "comm"
            | "exe"
            | "cwd"
            | "name"
            | "data"
            | "key"
            | "acct"
            | "cmd"
            | "path"
            | "old-chardev"
            | "new-chardev"
            | "ocomm"
            | "vm"
            | "watch"
    ) || (execve
        && key.starts_with('a')
        && key[1..]
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b'[' || c == b']')
        && key.len() > 1);
    string_key
        && v.len() >= 2
        && v.len().is_multiple_of(2)
        && v.bytes()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
}

fn decode_hex(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        let byte = (hi * 16 + lo) as u8;
        // NUL separates argv in proctitle and 0x01 separates several audit keys.
        out.push(if byte == 0 || byte == 1 { b' ' } else { byte });
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Groups the records of one audit event (same serial) into one record.
///
/// Records of an event arrive together and end with an `EOE` record (or with the next
/// serial). The grouped record keeps the first record's header. Every record's fields are kept
/// under `<type>.<key>` (lowercase type: `syscall.exe`, `execve.a0`, `path.name`; the first
/// record of a type wins), and under their plain name when no earlier record used it, except
/// that an `EXECVE` record's fields take the plain names and make `type` `EXECVE`: Sigma's
/// auditd rules mostly read `type: EXECVE` with `a0`, `a1`, ..., the argument vector, not the
/// raw syscall arguments of the `SYSCALL` record. `types` lists every record type in order.
#[derive(Debug, Default)]
pub struct AuditAssembler {
    pending: Option<LogRecord>,
    serial: i64,
    types: String,
}

impl AuditAssembler {
    /// A new, empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parsed audit record; returns the previous event when this record starts a new one,
    /// or the current event when this record is its `EOE`.
    pub fn push(&mut self, rec: LogRecord) -> Option<LogRecord> {
        let serial = rec
            .fields
            .get("serial")
            .and_then(|v| v.view().as_i64())
            .unwrap_or(-1);
        let typ = match rec.fields.get("type") {
            Some(Value::Str(t)) => t.clone(),
            _ => Default::default(),
        };
        let mut done = None;
        if self.pending.is_some() && serial != self.serial {
            done = self.flush();
        }
        if typ == "EOE" {
            return done.or_else(|| self.flush());
        }
        match &mut self.pending {
            None => {
                self.serial = serial;
                let mut rec = rec;
                let scoped: Vec<(String, Value)> = rec
                    .fields
                    .iter()
                    .filter(|(k, _)| *k != "type" && *k != "serial")
                    .map(|(k, v)| (format!("{}.{k}", typ.to_ascii_lowercase()), v.clone()))
                    .collect();
                for (k, v) in scoped {
                    rec.fields.insert(k, v);
                }
                self.types = typ.into_string();
                self.pending = Some(rec);
            }
            Some(group) => {
                self.types.push(' ');
                self.types.push_str(&typ);
                let prefix = typ.to_ascii_lowercase();
                let execve = typ == "EXECVE";
                if execve {
                    group.fields.insert("type", "EXECVE");
                }
                for (k, v) in rec.fields.iter() {
                    if k == "type" || k == "serial" {
                        continue;
                    }
                    let scoped = format!("{prefix}.{k}");
                    if group.fields.get(&scoped).is_none() {
                        group.fields.insert(scoped, v.clone());
                    }
                    if execve || group.fields.get(k).is_none() {
                        group.fields.insert(k, v.clone());
                    }
                }
                group.message.push('\n');
                group.message.push_str(&rec.message);
                if group.pid.is_none() {
                    group.pid = rec.pid;
                }
            }
        }
        done
    }

    /// True while an event is being assembled.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Hands out the event being assembled, if any (at end of input or after a quiet period).
    pub fn flush(&mut self) -> Option<LogRecord> {
        let mut rec = self.pending.take()?;
        rec.fields.insert("types", std::mem::take(&mut self.types));
        Some(rec)
    }
}

#[cfg(test)]
mod tests {
    use ironpost_core::event::Value;

    use super::AuditAssembler;
    use crate::{Format, parse_line};

    fn s(v: &str) -> Option<Value> {
        Some(Value::Str(v.into()))
    }

    #[test]
    fn parses_and_decodes_hex() {
        let r = parse_line(r#"type=PROCTITLE msg=audit(1364481363.243:24287): proctitle=636174002F6574632F736861646F77"#, Format::Auditd, "a").unwrap();
        assert_eq!(r.fields.get("proctitle").cloned(), s("cat /etc/shadow"));
        assert_eq!(r.fields.get("serial"), Some(&Value::Int(24287)));
        assert_eq!(r.timestamp.timestamp_millis(), 1_364_481_363_243);
        let r = parse_line(r#"type=USER_AUTH msg=audit(1.5:9): pid=7 uid=0 msg='op=PAM:authentication acct="root" exe="/usr/sbin/sshd" addr=1.2.3.4 res=failed'"#, Format::Auto, "a").unwrap();
        assert_eq!(r.fields.get("acct").cloned(), s("root"));
        assert_eq!(r.fields.get("res").cloned(), s("failed"));
        assert_eq!(r.pid, Some(7));
    }

    #[test]
    fn groups_records_of_one_serial() {
        let lines = [
            r#"type=SYSCALL msg=audit(1700000000.100:42): arch=c000003e syscall=59 success=yes exit=0 a0=55d a1=55e pid=100 comm="wget" exe="/usr/bin/wget" key="dl""#,
            r#"type=EXECVE msg=audit(1700000000.100:42): argc=2 a0="wget" a1=687474703A2F2F6576696C2F78"#,
            r#"type=PATH msg=audit(1700000000.100:42): item=0 name="/usr/bin/wget" inode=5"#,
            r#"type=EOE msg=audit(1700000000.100:42): "#,
            r#"type=SYSCALL msg=audit(1700000000.200:43): syscall=2 comm="cat""#,
        ];
        let mut a = AuditAssembler::new();
        let mut out = Vec::new();
        for l in lines {
            if let Some(ev) = a.push(parse_line(l, Format::Auditd, "a").unwrap()) {
                out.push(ev);
            }
        }
        out.extend(a.flush());
        assert_eq!(out.len(), 2);
        let ev = &out[0];
        assert_eq!(ev.fields.get("type").cloned(), s("EXECVE"));
        assert_eq!(ev.fields.get("types").cloned(), s("SYSCALL EXECVE PATH"));
        assert_eq!(
            ev.fields.get("a0").cloned(),
            s("wget"),
            "EXECVE's argv wins over raw syscall args"
        );
        assert_eq!(ev.fields.get("syscall.a0").cloned(), s("55d"));
        assert_eq!(ev.fields.get("exe").cloned(), s("/usr/bin/wget"));
        assert_eq!(ev.fields.get("name").cloned(), s("/usr/bin/wget"));
        assert_eq!(out[1].fields.get("type").cloned(), s("SYSCALL"));
        assert_eq!(ev.fields.get("execve.a0").cloned(), s("wget"));
        assert_eq!(ev.fields.get("execve.a1").cloned(), s("http://evil/x"));
        assert_eq!(ev.fields.get("path.name").cloned(), s("/usr/bin/wget"));
        assert_eq!(out[1].fields.get("serial"), Some(&Value::Int(43)));
    }
}
