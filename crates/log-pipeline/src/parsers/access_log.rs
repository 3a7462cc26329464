//! Apache/nginx common and combined access logs:
//! `host ident user [dd/Mon/yyyy:hh:mm:ss ±zzzz] "METHOD URI PROTO" status bytes ["referer" "agent"]`.
//!
//! Fields use Sigma's webserver names (see [`crate::normalize`]); `service` is `webserver`.

use chrono::{FixedOffset, NaiveDate, TimeZone, Utc};
use ironpost_core::event::LogRecord;

use super::{Ctx, month};
use crate::fields::{FieldSink, Name, RecordSink};
use crate::{Format, ParseError};

const F: Format = Format::AccessLog;

/// True when the line has the shape of an access log line.
pub fn looks_like(line: &str) -> bool {
    let Some(open) = line.find(" [") else {
        return false;
    };
    let head = &line[..open];
    head.split(' ').count() == 3
        && line[open + 2..].len() > 28
        && clf_time(&line[open + 2..]).is_some()
        && line[open..].contains("] \"")
}

/// Parses `dd/Mon/yyyy:hh:mm:ss ±zzzz]`.
fn clf_time(s: &str) -> Option<chrono::DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 27
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[20] != b' '
        || b[26] != b']'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
    let date = NaiveDate::from_ymd_opt(n(7..11)? as i32, month(&b[3..6])?, n(0..2)?)?;
    let naive = date.and_hms_opt(n(12..14)?, n(15..17)?, n(18..20)?)?;
    let off = (n(22..24)? * 3600 + n(24..26)? * 60) as i32;
    let tz = if b[21] == b'-' {
        FixedOffset::west_opt(off)?
    } else {
        FixedOffset::east_opt(off)?
    };
    Some(tz.from_local_datetime(&naive).single()?.with_timezone(&Utc))
}

/// Parses one access log line.
pub fn parse(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    let mut rec = ctx.record(F, line);
    rec.service = Some("webserver".into());
    let mut out = RecordSink {
        fields: &mut rec.fields,
        timestamp: &mut rec.timestamp,
    };
    if !fill(line, &mut out) {
        return Err(ParseError::invalid(
            F,
            0,
            "not `host ident user [time] \"request\" status bytes`",
        ));
    }
    Ok(rec)
}

/// Adds the webserver fields and the timestamp of an access log line to `out` (also used on
/// syslog messages of nginx and Apache); false, with nothing added, when `line` is not one.
pub(crate) fn fill<'a>(line: &'a str, out: &mut impl FieldSink<'a>) -> bool {
    let Some(open) = line.find(" [") else {
        return false;
    };
    let mut head = line[..open].split(' ');
    let (Some(host), Some(_ident), Some(user), None) =
        (head.next(), head.next(), head.next(), head.next())
    else {
        return false;
    };
    let Some(ts) = clf_time(&line[open + 2..]) else {
        return false;
    };
    let rest = &line[open + 2 + 27..];
    let Some(rest) = rest.strip_prefix(" \"") else {
        return false;
    };
    let Some(req_end) = find_quote(rest) else {
        return false;
    };
    let request = &rest[..req_end];
    let mut tail = rest[req_end + 1..].trim_start().splitn(3, ' ');
    let status = tail.next().unwrap_or("");
    let bytes = tail.next().unwrap_or("");
    let extra = tail.next().unwrap_or("");
    if status.len() != 3 || !status.bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    out.set_timestamp(ts);
    out.put(Name::CIp, host);
    if user != "-" {
        out.put(Name::CsUsername, user);
    }
    let mut parts = request.splitn(3, ' ');
    if let (Some(method), Some(uri)) = (parts.next(), parts.next()) {
        out.put(Name::CsMethod, method);
        out.put(Name::CUri, uri);
        let (stem, query) = uri.split_once('?').unwrap_or((uri, ""));
        out.put(Name::CsUriStem, stem);
        out.put(Name::CsUriQuery, query);
        if let Some(ext) = stem
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once('.'))
            .map(|x| x.1)
        {
            out.put(Name::CUriExtension, ext);
        }
        if let Some(v) = parts.next() {
            out.put(Name::CsVersion, v);
        }
    } else {
        out.put(Name::CsUri, request);
    }
    out.put(Name::ScStatus, status.parse::<i64>().unwrap_or(0));
    if let Ok(n) = bytes.parse::<i64>() {
        out.put(Name::ScBytes, n);
    }
    if let Some(r) = extra.strip_prefix('"')
        && let Some(end) = find_quote(r)
    {
        out.put(Name::CsReferer, &r[..end]);
        let after = r[end + 1..].trim_start();
        if let Some(ua) = after.strip_prefix('"')
            && let Some(e) = find_quote(ua)
        {
            out.put(Name::CsUserAgent, &ua[..e]);
            out.put(Name::CUseragent, &ua[..e]);
        }
    }
    true
}

/// The closing quote of a field where `\"` escapes a quote.
fn find_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn combined_format() {
        let r = parse_line(r#"203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /cgi-bin/x.php?cmd=id HTTP/1.0" 200 2326 "http://ref/" "curl/8.0""#, Format::Auto, "w").unwrap();
        assert_eq!(r.format, "access_log");
        assert_eq!(r.service.as_deref(), Some("webserver"));
        let s = |k: &str| r.fields.get(k).cloned();
        assert_eq!(s("c-ip"), Some(Value::Str("203.0.113.9".into())));
        assert_eq!(s("cs-method"), Some(Value::Str("GET".into())));
        assert_eq!(s("cs-uri-stem"), Some(Value::Str("/cgi-bin/x.php".into())));
        assert_eq!(s("cs-uri-query"), Some(Value::Str("cmd=id".into())));
        assert_eq!(s("sc-status"), Some(Value::Int(200)));
        assert_eq!(s("cs-user-agent"), Some(Value::Str("curl/8.0".into())));
        assert_eq!(s("cs-referer"), Some(Value::Str("http://ref/".into())));
        assert_eq!(r.timestamp.to_rfc3339(), "2000-10-10T20:55:36+00:00");
    }
}
