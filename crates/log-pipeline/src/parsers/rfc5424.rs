//! Syslog per RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD...] MSG`.
//!
//! Every structured-data element becomes fields named `sd.<id>.<param>` (escapes `\"`, `\\`
//! and `\]` decoded); `MSGID` becomes the field `msgid`; a non-numeric `PROCID` the field
//! `procid`. A UTF-8 byte order mark at the start of MSG is dropped.

use ironpost_core::event::LogRecord;

use super::{Ctx, apply_pri, rfc3339_prefix, service_name, split_pri};
use crate::{Format, ParseError};

const F: Format = Format::Rfc5424;

/// Parses one RFC 5424 line.
pub fn parse(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    let (pri, rest) = split_pri(line, F)?;
    if pri.is_none() {
        return Err(ParseError::invalid(F, 0, "no `<PRI>`"));
    }
    let mut p = Cursor {
        s: line,
        i: line.len() - rest.len(),
    };
    let version = p
        .token()
        .ok_or(ParseError::invalid(F, p.i, "line ends before VERSION"))?;
    if version.is_empty()
        || version.len() > 3
        || !version.bytes().all(|c| c.is_ascii_digit())
        || version.starts_with('0')
    {
        return Err(ParseError::invalid(
            F,
            p.i,
            "VERSION is not a number from 1 to 999",
        ));
    }
    let mut rec = ctx.record(F, "");
    apply_pri(&mut rec, pri);
    let ts_at = p.i;
    let ts = p
        .token()
        .ok_or(ParseError::invalid(F, p.i, "line ends before TIMESTAMP"))?;
    if ts != "-" {
        match rfc3339_prefix(ts, ctx.tz) {
            Some((t, used)) if used == ts.len() => rec.timestamp = t,
            _ => return Err(ParseError::invalid(F, ts_at, "TIMESTAMP is not RFC 3339")),
        }
    }
    let host = p
        .token()
        .ok_or(ParseError::invalid(F, p.i, "line ends before HOSTNAME"))?;
    let app = p
        .token()
        .ok_or(ParseError::invalid(F, p.i, "line ends before APP-NAME"))?;
    let procid = p
        .token()
        .ok_or(ParseError::invalid(F, p.i, "line ends before PROCID"))?;
    let msgid = p
        .token()
        .ok_or(ParseError::invalid(F, p.i, "line ends before MSGID"))?;
    if host != "-" {
        rec.hostname = Some(host.into());
    }
    if app != "-" {
        rec.service = Some(service_name(app).into());
        if rec.service.as_deref() != Some(app) {
            rec.fields.insert("program", app);
        }
    }
    if procid != "-" {
        match procid.parse::<u32>() {
            Ok(n) => rec.pid = Some(n),
            Err(_) => rec.fields.insert("procid", procid),
        }
    }
    if msgid != "-" {
        rec.fields.insert("msgid", msgid);
    }
    let b = line.as_bytes();
    match b.get(p.i) {
        None => {
            return Err(ParseError::invalid(
                F,
                p.i,
                "line ends before STRUCTURED-DATA",
            ));
        }
        Some(b'-') => p.i += 1,
        Some(b'[') => structured_data(line, &mut p.i, &mut rec)?,
        Some(_) => {
            return Err(ParseError::invalid(
                F,
                p.i,
                "STRUCTURED-DATA is neither `-` nor `[`",
            ));
        }
    }
    let msg = match b.get(p.i) {
        None => "",
        Some(b' ') => &line[p.i + 1..],
        Some(_) => {
            return Err(ParseError::invalid(
                F,
                p.i,
                "no space after STRUCTURED-DATA",
            ));
        }
    };
    rec.message = msg.strip_prefix('\u{feff}').unwrap_or(msg).to_owned();
    Ok(rec)
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    /// The next space-terminated token; the space is consumed. `None` at end of line.
    fn token(&mut self) -> Option<&'a str> {
        let rest = &self.s[self.i..];
        let end = rest.find(' ')?;
        self.i += end + 1;
        Some(&rest[..end])
    }
}

/// Reads `[id k="v" ...]...` starting at `*i`, leaving `*i` after the last `]`.
fn structured_data(line: &str, i: &mut usize, rec: &mut LogRecord) -> Result<(), ParseError> {
    let b = line.as_bytes();
    while b.get(*i) == Some(&b'[') {
        *i += 1;
        let id_start = *i;
        while *i < b.len() && !matches!(b[*i], b' ' | b']' | b'=' | b'"') {
            *i += 1;
        }
        let id = &line[id_start..*i];
        if id.is_empty() {
            return Err(ParseError::invalid(F, *i, "SD-ID is empty"));
        }
        if id.len() > 32 {
            return Err(ParseError::invalid(
                F,
                id_start,
                "SD-ID is longer than 32 characters",
            ));
        }
        let mut had_param = false;
        loop {
            match b.get(*i) {
                None => {
                    return Err(ParseError::invalid(
                        F,
                        *i,
                        "SD-ELEMENT is not closed by `]`",
                    ));
                }
                Some(b']') => {
                    *i += 1;
                    break;
                }
                Some(b' ') => *i += 1,
                Some(_) => {
                    return Err(ParseError::invalid(
                        F,
                        *i,
                        "expected a space or `]` in SD-ELEMENT",
                    ));
                }
            }
            let name_start = *i;
            while *i < b.len() && !matches!(b[*i], b' ' | b']' | b'=' | b'"') {
                *i += 1;
            }
            let name = &line[name_start..*i];
            if name.is_empty() {
                return Err(ParseError::invalid(F, *i, "SD-PARAM name is empty"));
            }
            if b.get(*i) != Some(&b'=') || b.get(*i + 1) != Some(&b'"') {
                return Err(ParseError::invalid(
                    F,
                    *i,
                    "SD-PARAM is not `name=\"value\"`",
                ));
            }
            *i += 2;
            let value = sd_value(line, i)?;
            rec.fields.insert(format!("sd.{id}.{name}"), value);
            had_param = true;
        }
        if !had_param {
            // An element without parameters still says something (`[exampleSDID@32473]`).
            rec.fields.insert(format!("sd.{id}"), true_value());
        }
    }
    Ok(())
}

fn true_value() -> ironpost_core::event::Value {
    ironpost_core::event::Value::Bool(true)
}

/// Reads a PARAM-VALUE up to its closing quote, decoding `\"`, `\\` and `\]`.
fn sd_value(line: &str, i: &mut usize) -> Result<String, ParseError> {
    let b = line.as_bytes();
    let start = *i;
    let mut out: Option<String> = None;
    let mut seg = start;
    while *i < b.len() {
        match b[*i] {
            b'"' => {
                let v = match out {
                    Some(mut o) => {
                        o.push_str(&line[seg..*i]);
                        o
                    }
                    None => line[start..*i].to_owned(),
                };
                *i += 1;
                return Ok(v);
            }
            b'\\' if matches!(b.get(*i + 1), Some(b'"' | b'\\' | b']')) => {
                let o = out.get_or_insert_with(String::new);
                o.push_str(&line[seg..*i]);
                o.push(b[*i + 1] as char);
                *i += 2;
                seg = *i;
            }
            _ => *i += 1,
        }
    }
    Err(ParseError::invalid(
        F,
        start,
        "PARAM-VALUE is not closed by `\"`",
    ))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn parses_header_every_sd_element_and_escapes() {
        let line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\\"ic\\]a\\\\tion\"][examplePriority@32473 class=\"high\"] \u{feff}An application event";
        let r = parse_line(line, Format::Rfc5424, "s").unwrap();
        assert_eq!((r.facility, r.severity), (Some(20), Some(5)));
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2003, 10, 11, 22, 14, 15).unwrap()
                + chrono::Duration::milliseconds(3)
        );
        assert_eq!(r.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(r.service.as_deref(), Some("evntslog"));
        assert_eq!(r.pid, None);
        assert_eq!(r.fields.get("msgid"), Some(&Value::Str("ID47".into())));
        assert_eq!(
            r.fields.get("sd.exampleSDID@32473.iut"),
            Some(&Value::Str("3".into()))
        );
        assert_eq!(
            r.fields.get("sd.exampleSDID@32473.eventSource"),
            Some(&Value::Str("Appl\"ic]a\\tion".into()))
        );
        assert_eq!(
            r.fields.get("sd.examplePriority@32473.class"),
            Some(&Value::Str("high".into()))
        );
        assert_eq!(r.message, "An application event");
    }

    #[test]
    fn nil_values_and_no_message() {
        let r = parse_line("<34>1 - - - - - -", Format::Rfc5424, "s").unwrap();
        assert_eq!(
            (r.hostname, r.service, r.pid, r.message.as_str()),
            (None, None, None, "")
        );
        let r = parse_line(
            "<34>1 2003-08-24T05:14:15.000003-07:00 h su 77 - - 'su root' failed",
            Format::Rfc5424,
            "s",
        )
        .unwrap();
        assert_eq!(r.pid, Some(77));
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2003, 8, 24, 12, 14, 15).unwrap()
                + chrono::Duration::microseconds(3)
        );
    }
}
