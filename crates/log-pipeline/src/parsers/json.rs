//! One JSON object per line; nested objects and arrays flattened to dotted names.
//!
//! Well-known keys fill the record's header: `message`/`msg`/`MESSAGE`/`log`/`short_message`
//! the message; `@timestamp`/`timestamp`/`time`/`ts`/`__REALTIME_TIMESTAMP` the time;
//! `host`/`hostname`/`_HOSTNAME` the host; `service`/`app`/`program`/`SYSLOG_IDENTIFIER` the
//! service; `pid`/`_PID`; `level`/`severity`/`PRIORITY` the severity. Every key except the
//! message is also kept as a field (`a.b.c` for `{"a":{"b":{"c":…}}}`, `a.0` for arrays).
//! serde_json refuses nesting deeper than 128, so a hostile line cannot exhaust the stack.

use chrono::{DateTime, TimeZone, Utc};
use ironpost_core::event::{CompactString, FieldValue, LogRecord, Value};
use serde_json::Value as J;

use super::{Ctx, rfc3339_prefix, service_name};
use crate::{Format, ParseError};

/// Parses one JSON line.
pub fn parse(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    let value: J = serde_json::from_str(line).map_err(|e| ParseError::Json(e.to_string()))?;
    let J::Object(map) = value else {
        return Err(ParseError::Json(
            "the line is JSON but not an object".into(),
        ));
    };
    let mut rec = ctx.record(Format::Json, "");
    let mut message_key = None;
    for key in ["message", "msg", "MESSAGE", "log", "short_message"] {
        if let Some(J::String(m)) = map.get(key) {
            rec.message = m.trim_end_matches('\n').to_owned();
            message_key = Some(key);
            break;
        }
    }
    for (k, v) in &map {
        if Some(k.as_str()) == message_key {
            continue;
        }
        flatten(k, v, &mut rec, 0);
    }
    for key in [
        "@timestamp",
        "timestamp",
        "time",
        "ts",
        "__REALTIME_TIMESTAMP",
        "date",
    ] {
        if let Some(t) = map.get(key).and_then(|v| json_time(key, v, ctx)) {
            rec.timestamp = t;
            break;
        }
    }
    let text = |keys: &[&str]| -> Option<CompactString> {
        keys.iter().find_map(|k| match rec.fields.get(k) {
            Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
    };
    rec.hostname = text(&[
        "hostname",
        "host",
        "_HOSTNAME",
        "host.name",
        "host.hostname",
    ]);
    rec.service = text(&[
        "service",
        "app",
        "appname",
        "program",
        "SYSLOG_IDENTIFIER",
        "ident",
        "service.name",
        "process.name",
    ])
    .map(|s| service_name(&s).into());
    rec.pid = ["pid", "_PID", "SYSLOG_PID", "process.pid"]
        .iter()
        .find_map(|k| rec.fields.get(k).and_then(|v| v.view().as_i64()))
        .and_then(|p| u32::try_from(p).ok());
    rec.severity = ["PRIORITY", "severity", "level", "log.level"]
        .iter()
        .find_map(|k| rec.fields.get(k).and_then(|v| severity_of(v.view())));
    rec.facility = ["SYSLOG_FACILITY", "facility"]
        .iter()
        .find_map(|k| rec.fields.get(k).and_then(|v| v.view().as_i64()))
        .and_then(|f| u8::try_from(f).ok())
        .filter(|f| *f <= 23);
    Ok(rec)
}

fn flatten(name: &str, v: &J, rec: &mut LogRecord, depth: usize) {
    match v {
        J::Object(m) if depth < 128 => {
            for (k, v) in m {
                flatten(&format!("{name}.{k}"), v, rec, depth + 1);
            }
        }
        J::Array(a) if depth < 128 => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{name}.{i}"), v, rec, depth + 1);
            }
        }
        J::Object(_) | J::Array(_) => rec.fields.insert(name, v.to_string()),
        J::String(s) => rec.fields.insert(name, s.as_str()),
        J::Bool(b) => rec.fields.insert(name, Value::Bool(*b)),
        J::Null => rec.fields.insert(name, Value::Null),
        J::Number(n) => match n.as_i64() {
            Some(i) => rec.fields.insert(name, i),
            None => rec
                .fields
                .insert(name, Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        },
    }
}

/// A timestamp from RFC 3339 text or epoch seconds, milliseconds or (journald) microseconds.
fn json_time(key: &str, v: &J, ctx: &Ctx<'_>) -> Option<DateTime<Utc>> {
    let epoch = |n: f64| -> Option<DateTime<Utc>> {
        let micros = if key == "__REALTIME_TIMESTAMP" || n > 1e14 {
            n
        } else if n > 1e11 {
            n * 1e3
        } else {
            n * 1e6
        };
        Utc.timestamp_micros(micros as i64).single()
    };
    match v {
        J::String(s) => match rfc3339_prefix(s, ctx.tz) {
            Some((t, used)) if used == s.len() => Some(t),
            _ => s.parse::<f64>().ok().and_then(epoch),
        },
        J::Number(n) => n.as_f64().and_then(epoch),
        _ => None,
    }
}

/// A syslog severity from a number or a level name.
fn severity_of(v: FieldValue<'_>) -> Option<u8> {
    if let Some(n) = v.as_i64() {
        return u8::try_from(n).ok().filter(|n| *n <= 7);
    }
    let s = v.as_str()?.to_ascii_lowercase();
    Some(match s.as_str() {
        "emerg" | "emergency" | "panic" => 0,
        "alert" => 1,
        "crit" | "critical" | "fatal" => 2,
        "err" | "error" => 3,
        "warn" | "warning" => 4,
        "notice" => 5,
        "info" | "informational" | "information" => 6,
        "debug" | "trace" => 7,
        _ => return None,
    })
}

/// The severity of a level name, for other parsers with textual levels.
pub(crate) fn severity_name(s: &str) -> Option<u8> {
    severity_of(FieldValue::Str(s))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn flattens_nested_objects_and_maps_header_keys() {
        let r = parse_line(r#"{"@timestamp":"2024-01-02T03:04:05Z","host":{"name":"web1"},"service":"NGINX","level":"warn","message":"slow","http":{"status":502,"ok":false,"tags":["a","b"]}}"#, Format::Json, "j").unwrap();
        assert_eq!(r.message, "slow");
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
        );
        assert_eq!(r.hostname.as_deref(), Some("web1"));
        assert_eq!(r.service.as_deref(), Some("nginx"));
        assert_eq!(r.severity, Some(4));
        assert_eq!(r.fields.get("http.status"), Some(&Value::Int(502)));
        assert_eq!(r.fields.get("http.ok"), Some(&Value::Bool(false)));
        assert_eq!(r.fields.get("http.tags.1"), Some(&Value::Str("b".into())));
        assert_eq!(r.fields.get("message"), None);
    }

    #[test]
    fn journald_export_keys() {
        let r = parse_line(r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","_PID":"42","PRIORITY":"6","SYSLOG_FACILITY":"10","MESSAGE":"Accepted publickey for bob from 10.0.0.1 port 50000 ssh2"}"#, Format::Json, "j").unwrap();
        assert_eq!(r.timestamp.timestamp_micros(), 1_700_000_000_123_456);
        assert_eq!(
            (r.pid, r.severity, r.facility),
            (Some(42), Some(6), Some(10))
        );
        assert_eq!(r.fields.get("outcome"), Some(&Value::Str("success".into())));
    }
}
