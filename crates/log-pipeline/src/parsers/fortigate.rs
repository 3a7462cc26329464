//! FortiGate key=value logs: `[<PRI>]date=2024-05-13 time=11:20:54 devname="fw" logid="..." type="event" ...`.
//!
//! Every pair becomes a field under its FortiGate name (`srcip`, `action`, `cfgpath`, ...), as
//! Sigma's FortiGate rules name them; `product` is `fortigate`, `service` the log `type`
//! (`event`, `traffic`, `utm`), `hostname` the `devname`, the message the `msg` pair (or the
//! whole line), the severity the `level`. The time comes from `date` and `time` in the
//! source's zone, or from `eventtime` (epoch seconds or nanoseconds).

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use ironpost_core::event::{LogRecord, Value};

use super::{Ctx, apply_pri, split_pri};
use crate::{Format, ParseError};

const F: Format = Format::Fortigate;

/// True when the text starts like a FortiGate log.
pub fn looks_like(s: &str) -> bool {
    s.starts_with("date=") && (s.contains(" logid=") || s.contains(" devid="))
}

/// Parses one FortiGate line.
pub fn parse(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    let (pri, rest) = split_pri(line, F)?;
    let base = line.len() - rest.len();
    if !rest.starts_with("date=") && !rest.contains("logid=") {
        return Err(ParseError::invalid(F, base, "no `date=` or `logid=` pair"));
    }
    let mut rec = ctx.record(F, "");
    apply_pri(&mut rec, pri);
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let key = &rest[ks..i];
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            let end = rest[i + 1..].find('"').map_or(b.len(), |e| i + 1 + e);
            let v = &rest[i + 1..end];
            i = (end + 1).min(b.len());
            v
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            &rest[vs..i]
        };
        if !key.is_empty() {
            rec.fields.insert(key, value);
        }
    }
    let get = |k: &str| match rec.fields.get(k) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let date = get("date").and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let time = get("time").and_then(|t| NaiveTime::parse_from_str(&t, "%H:%M:%S").ok());
    if let (Some(d), Some(t)) = (date, time) {
        if let Some(ts) = ctx.tz.from_local_datetime(&d.and_time(t)).single() {
            rec.timestamp = ts.with_timezone(&Utc);
        }
    } else if let Some(e) = get("eventtime").and_then(|e| e.parse::<i64>().ok()) {
        let ts = if e > 1_000_000_000_000_000 {
            Utc.timestamp_nanos(e)
        } else {
            Utc.timestamp_opt(e, 0).single().unwrap_or(ctx.now)
        };
        rec.timestamp = ts;
    }
    rec.hostname = get("devname");
    rec.service = Some(get("type").unwrap_or_else(|| "fortigate".into()));
    rec.severity = get("level").and_then(|l| super::json::severity_name(&l));
    rec.message = get("msg").map_or_else(|| rest.to_owned(), String::from);
    rec.fields.insert("product", "fortigate");
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn reads_pairs_and_header() {
        let r = parse_line(r#"<189>date=2024-05-13 time=11:20:54 devname="FGT60E" devid="FGT60E4Q1" logid="0100044547" type="event" subtype="system" level="information" action="Add" cfgpath="user.local" msg="Add user.local bob""#, Format::Auto, "f").unwrap();
        assert_eq!(r.format, "fortigate");
        assert_eq!(r.service.as_deref(), Some("event"));
        assert_eq!(r.hostname.as_deref(), Some("FGT60E"));
        assert_eq!(r.severity, Some(6));
        assert_eq!(r.message, "Add user.local bob");
        assert_eq!(
            r.fields.get("cfgpath"),
            Some(&Value::Str("user.local".into()))
        );
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2024, 5, 13, 11, 20, 54).unwrap()
        );
    }
}
