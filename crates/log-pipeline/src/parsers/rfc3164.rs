//! BSD syslog (RFC 3164): `[<PRI>]Mmm dd hh:mm:ss HOST TAG[PID]: MSG`.
//!
//! Accepts the shapes found in /var/log files and on the wire: with or without `<PRI>`, an
//! RFC 3339 timestamp instead of the BSD one (rsyslog's high-precision template), a missing
//! host name (`<13>Jan  1 00:00:00 sshd[1]: ...`), a missing timestamp after a PRI, and tags
//! followed by a space instead of a colon (`sandboxd[129] ([31211]): ...`). The year of a BSD
//! timestamp is inferred so that the date is never in the future.

use chrono::{DateTime, Utc};
use ironpost_core::event::{CompactString, LogRecord};

use super::{
    BsdTime, Ctx, bsd_time_prefix, find_any, resolve_bsd, rfc3339_prefix, service_of, split_pri,
};
use crate::fields::{BufSink, FieldBuf, Name};
use crate::{Format, ParseError};

const F: Format = Format::Rfc3164;

/// True when `line` starts with a BSD or RFC 3339 timestamp.
pub fn starts_with_timestamp(line: &str) -> bool {
    bsd_time_prefix(line).is_some()
        || (line.len() >= 19
            && line.as_bytes()[4] == b'-'
            && rfc3339_prefix(line, chrono::FixedOffset::east_opt(0).expect("zero offset"))
                .is_some())
}

/// Parses one RFC 3164 line (header only: no normalization).
pub fn parse(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    parse_record(line, ctx, false, None)
}

/// [`parse_view`] then [`SyslogView::to_record`], the view built in place. `time` is the BSD
/// timestamp at the start of `line` when the caller has already parsed it.
pub(crate) fn parse_record(
    line: &str,
    ctx: &Ctx<'_>,
    normalize: bool,
    time: Option<(BsdTime, usize)>,
) -> Result<LogRecord, ParseError> {
    let mut v = SyslogView::empty(ctx.now);
    fill_view(line, ctx, normalize, time, &mut v)?;
    Ok(v.to_record(ctx))
}

/// Parses one RFC 3164 line into a [`SyslogView`] borrowed from it: the header, the `program`
/// and `procid` fields, and, when `normalize` is set, the fields of
/// [`crate::normalize`] for the line's service. Nothing is allocated unless the line has more
/// than [`FieldBuf::INLINE`] fields.
pub fn parse_view<'a>(
    line: &'a str,
    ctx: &Ctx<'_>,
    normalize: bool,
) -> Result<SyslogView<'a>, ParseError> {
    let mut v = SyslogView::empty(ctx.now);
    fill_view(line, ctx, normalize, None, &mut v)?;
    Ok(v)
}

/// [`parse_view`] into an empty view.
fn fill_view<'a>(
    line: &'a str,
    ctx: &Ctx<'_>,
    normalize: bool,
    time: Option<(BsdTime, usize)>,
    v: &mut SyslogView<'a>,
) -> Result<(), ParseError> {
    let parts = parse_parts_with(line, ctx, time)?;
    v.facility = parts.pri.map(|p| p.0);
    v.severity = parts.pri.map(|p| p.1);
    if let Some(t) = parts.timestamp {
        v.timestamp = t;
    }
    v.hostname = parts.hostname;
    v.message = parts.message;
    if let Some(tag) = parts.tag {
        let (service, renamed) = service_of(tag);
        if renamed {
            v.fields.insert(Name::Program, tag);
        }
        v.service = Some(service);
    }
    if let Some(p) = parts.pid {
        match p.parse::<u32>() {
            Ok(n) => v.pid = Some(n),
            Err(_) => v.fields.insert(Name::Procid, p),
        }
    }
    if normalize && let Some(service) = v.service {
        let mut out = BufSink {
            fields: &mut v.fields,
            timestamp: &mut v.timestamp,
        };
        crate::normalize::extract(service, v.message, &mut out);
    }
    Ok(())
}

/// One RFC 3164 line parsed by [`parse_view`], every text borrowed from the line: what the
/// [`LogRecord`] of [`crate::parse_line_with`] holds, before it is copied into owned strings.
#[derive(Debug, Clone, PartialEq)]
pub struct SyslogView<'a> {
    /// Syslog facility from `<PRI>`.
    pub facility: Option<u8>,
    /// Syslog severity from `<PRI>`.
    pub severity: Option<u8>,
    /// The header's timestamp (the reference instant when the line has none; an access line's
    /// own time for nginx and Apache messages when normalized).
    pub timestamp: DateTime<Utc>,
    /// The host name.
    pub hostname: Option<&'a str>,
    /// The service name of the tag (see [`crate::normalize`]).
    pub service: Option<&'a str>,
    /// The numeric PID.
    pub pid: Option<u32>,
    /// The free text after the header.
    pub message: &'a str,
    /// `program`, `procid` and the normalized fields, in the order a record holds them.
    pub fields: FieldBuf<'a>,
}

impl SyslogView<'_> {
    /// A view with nothing parsed yet, timestamped `now`.
    fn empty(now: DateTime<Utc>) -> Self {
        SyslogView {
            facility: None,
            severity: None,
            timestamp: now,
            hostname: None,
            service: None,
            pid: None,
            message: "",
            fields: FieldBuf::new(),
        }
    }

    /// The owned record, received at `ctx.now` from `ctx.source`.
    // Inlined so that the record is built in the caller's result, not copied into it.
    #[inline]
    pub fn to_record(&self, ctx: &Ctx<'_>) -> LogRecord {
        LogRecord {
            timestamp: self.timestamp,
            received: ctx.now,
            source: CompactString::new(ctx.source),
            format: F.record_name(),
            hostname: self.hostname.map(CompactString::new),
            service: self.service.map(CompactString::new),
            pid: self.pid,
            facility: self.facility,
            severity: self.severity,
            message: self.message.to_owned(),
            fields: self.fields.to_fields(),
            container: None,
        }
    }
}

/// Parses one RFC 3164 line into parts borrowed from it (no allocation).
pub fn parse_parts<'a>(line: &'a str, ctx: &Ctx<'_>) -> Result<SyslogParts<'a>, ParseError> {
    parse_parts_with(line, ctx, None)
}

/// [`parse_parts`]; `time` is the BSD timestamp at the start of `line` (which then has no
/// PRI) when the caller has already parsed it.
fn parse_parts_with<'a>(
    line: &'a str,
    ctx: &Ctx<'_>,
    time: Option<(BsdTime, usize)>,
) -> Result<SyslogParts<'a>, ParseError> {
    let (pri, rest) = split_pri(line, F)?;
    let base = line.len() - rest.len();
    let mut parts = SyslogParts {
        pri,
        ..SyslogParts::default()
    };
    let mut after = rest;
    // The timestamp is read where it was written, field by field: copied out whole, it would be
    // read back in wider words than it was written in, a store-forwarding stall on every line.
    let parsed;
    let time = match &time {
        Some(t) if pri.is_none() => Some(t),
        _ => {
            parsed = bsd_time_prefix(rest);
            parsed.as_ref()
        }
    };
    if let Some((t, used)) = time {
        parts.timestamp = Some(resolve_bsd(t, ctx.tz, ctx.now).ok_or(ParseError::invalid(
            F,
            base,
            "timestamp names no real date",
        ))?);
        after = &rest[*used..];
    } else if let Some((t, used)) = rfc3339_prefix(rest, ctx.tz) {
        parts.timestamp = Some(t);
        after = &rest[used..];
    } else if pri.is_none() {
        return Err(ParseError::invalid(F, 0, "no `<PRI>` and no timestamp"));
    }
    if parts.timestamp.is_some() {
        match after.as_bytes().first() {
            Some(b' ') => {}
            None => {
                return Err(ParseError::invalid(
                    F,
                    line.len(),
                    "line ends after the timestamp",
                ));
            }
            Some(_) => {
                return Err(ParseError::invalid(
                    F,
                    line.len() - after.len(),
                    "no space after the timestamp",
                ));
            }
        }
        after = after.trim_start_matches(' ');
        // The host name is the next token unless that token is already the tag.
        let end = find_any(after.as_bytes(), [b' ']);
        let token = &after[..end];
        let bracket = find_any(token.as_bytes(), [b'[']) < end;
        let is_tag = bracket || token.ends_with(':');
        if !is_tag && end < after.len() {
            if !token.is_empty() {
                parts.hostname = Some(token);
            }
            after = after[end..].trim_start_matches(' ');
        }
    }
    let (tag, pid, msg) = split_tag(after);
    parts.tag = tag;
    parts.pid = pid;
    parts.message = msg;
    Ok(parts)
}

/// The parts of a syslog line, borrowed from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyslogParts<'a> {
    /// Facility and severity from `<PRI>`.
    pub pri: Option<(u8, u8)>,
    /// The timestamp, when the line has one.
    pub timestamp: Option<DateTime<Utc>>,
    /// The host name.
    pub hostname: Option<&'a str>,
    /// The program tag, as written.
    pub tag: Option<&'a str>,
    /// The text between `[` and `]` after the tag.
    pub pid: Option<&'a str>,
    /// The free text after the header.
    pub message: &'a str,
}

/// Splits `TAG[PID]: MSG` or `TAG: MSG`; returns (tag, pid, message). Without a tag the whole
/// text is the message.
pub(crate) fn split_tag(body: &str) -> (Option<&str>, Option<&str>, &str) {
    let b = body.as_bytes();
    let mut i = find_any(&b[..b.len().min(128)], [b'[', b':', b' ']);
    if i == 0 || i >= b.len() || i == 128 {
        return (None, None, body);
    }
    if b[i] == b' ' {
        // Some tags hold spaces (macOS: `BezelServices 255.10[94]: ...`): accept one when a
        // `[pid]:` follows shortly with no colon before it.
        let window = &body[..body.floor_char_boundary(64)];
        if let Some(open) = window.find('[')
            && !window[..open].contains(':')
            && let Some(close) = body[open..].find("]:")
            && close > 1
            && body[open + 1..open + close]
                .bytes()
                .all(|c| c.is_ascii_digit())
        {
            i = open;
        }
    }
    let tag = &body[..i];
    let mut pid = None;
    let j;
    if b[i] == b'[' {
        let Some(close) = b[i..].iter().position(|&c| c == b']').map(|c| i + c) else {
            return (None, None, body);
        };
        pid = Some(&body[i + 1..close]);
        j = match b.get(close + 1) {
            Some(b':') => close + 2,
            Some(b' ') | None => close + 1,
            Some(_) => return (None, None, body),
        };
    } else if b[i] == b':' {
        j = i + 1;
    } else {
        // `word message` without a colon is a message, not a tag.
        return (None, None, body);
    }
    let msg = &body[j..];
    (Some(tag), pid, msg.strip_prefix(' ').unwrap_or(msg))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc};

    use crate::{Format, ParseOptions, parse_line_with};

    fn at(now: DateTime<Utc>) -> ParseOptions {
        ParseOptions {
            now: Some(now),
            ..ParseOptions::default()
        }
    }

    #[test]
    fn parses_a_plain_var_log_line() {
        let now = Utc.with_ymd_and_hms(2024, 12, 11, 0, 0, 0).unwrap();
        let r = parse_line_with(
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
            Format::Rfc3164,
            "auth",
            &at(now),
        )
        .unwrap();
        assert_eq!(r.hostname.as_deref(), Some("LabSZ"));
        assert_eq!(r.service.as_deref(), Some("sshd"));
        assert_eq!(r.pid, Some(24200));
        assert_eq!(r.message, "Invalid user webmaster from 173.234.31.186");
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2024, 12, 10, 6, 55, 46).unwrap()
        );
        assert_eq!(r.facility, None);
    }

    #[test]
    fn year_inference_never_yields_a_future_date() {
        let now = Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap();
        let r = parse_line_with(
            "<34>Dec 31 23:59:59 h su: x",
            Format::Rfc3164,
            "s",
            &at(now),
        )
        .unwrap();
        assert_eq!(r.timestamp.year(), 2024);
        assert_eq!((r.facility, r.severity), (Some(4), Some(2)));
        let r = parse_line_with(
            "<34>Jan  2 00:00:01 h su: x",
            Format::Rfc3164,
            "s",
            &at(now),
        )
        .unwrap();
        assert_eq!(
            r.timestamp.year(),
            2024,
            "one second ahead of now goes to the past year"
        );
        let r = parse_line_with("Feb 29 10:00:00 h su: x", Format::Rfc3164, "s", &at(now)).unwrap();
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2024, 2, 29, 10, 0, 0).unwrap()
        );
        let r = parse_line_with(
            "Feb 29 10:00:00 h su: x",
            Format::Rfc3164,
            "s",
            &at(Utc.with_ymd_and_hms(2024, 2, 28, 0, 0, 0).unwrap()),
        )
        .unwrap();
        assert_eq!(r.timestamp.year(), 2020);
        assert!(r.timestamp <= now);
    }

    #[test]
    fn per_source_time_zone_applies_to_bsd_timestamps() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
        let opts = ParseOptions {
            timezone: FixedOffset::east_opt(2 * 3600).unwrap(),
            ..at(now)
        };
        let r =
            parse_line_with("May 31 12:00:00 h cron[1]: x", Format::Rfc3164, "s", &opts).unwrap();
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2024, 5, 31, 10, 0, 0).unwrap()
        );
    }

    #[test]
    fn accepts_missing_host_missing_timestamp_and_rfc3339() {
        let r =
            crate::parse_line("<13>Jan  1 00:00:00 sshd[7]: hello", Format::Rfc3164, "s").unwrap();
        assert_eq!(
            (r.hostname, r.service.as_deref(), r.message.as_str()),
            (None, Some("sshd"), "hello")
        );
        let r = crate::parse_line("<13>CRON[5]: (root) CMD (true)", Format::Rfc3164, "s").unwrap();
        assert_eq!(r.service.as_deref(), Some("cron"));
        assert_eq!(
            r.fields
                .get("program")
                .and_then(|v| v.view().as_str().map(str::to_owned))
                .as_deref(),
            Some("CRON")
        );
        let r = crate::parse_line(
            "2024-03-01T10:00:00.5+01:00 web nginx: up",
            Format::Rfc3164,
            "s",
        )
        .unwrap();
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap()
                + chrono::Duration::milliseconds(500)
        );
        assert_eq!(r.hostname.as_deref(), Some("web"));
    }
}
