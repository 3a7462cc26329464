//! One parser per format, and the pieces they share: `<PRI>`, timestamps, year inference.
//!
//! Every parser takes a trimmed line and a [`Ctx`] and returns a [`LogRecord`] whose header
//! fields (`timestamp`, `hostname`, `service`, `pid`, `facility`, `severity`) are set and whose
//! `message` is the free text after the header. Normalization runs afterwards, in
//! [`crate::normalize`].

pub mod access_log;
pub mod auditd;
pub mod cisco;
pub mod fortigate;
pub mod json;
pub mod rfc3164;
pub mod rfc5424;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use ironpost_core::event::{Fields, LogRecord};

use crate::{Format, ParseError};

/// What a parser needs besides the line.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The configured source name.
    pub source: &'a str,
    /// The reference instant (received time, upper bound of inferred years).
    pub now: DateTime<Utc>,
    /// Time zone of zone-less timestamps.
    pub tz: FixedOffset,
}

impl Ctx<'_> {
    /// An empty record of `format`, received and timestamped now.
    pub(crate) fn record(&self, format: Format, message: &str) -> LogRecord {
        LogRecord {
            timestamp: self.now,
            received: self.now,
            source: self.source.to_owned(),
            format: format.name().to_owned(),
            hostname: None,
            service: None,
            pid: None,
            facility: None,
            severity: None,
            message: message.to_owned(),
            fields: Fields::new(),
            container: None,
        }
    }
}

/// Chooses the parser from the line's first bytes; the same rules `Format::Auto` documents.
pub(crate) fn parse_auto(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    if line.trim_start().starts_with('{') {
        return json::parse(line, ctx);
    }
    if line.starts_with('<') {
        let (_, rest) = split_pri(line, Format::Rfc3164)?;
        // RFC 5424 has `VERSION SP` (1-3 digits, no leading zero) right after the PRI.
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let is_5424 = (1..=3).contains(&digits)
            && !rest.starts_with('0')
            && rest.as_bytes().get(digits) == Some(&b' ');
        if is_5424 {
            return rfc5424::parse(line, ctx);
        }
        if fortigate::looks_like(rest) {
            return fortigate::parse(line, ctx);
        }
        if cisco::looks_like(rest) {
            return cisco::parse(line, ctx);
        }
        return rfc3164::parse(line, ctx);
    }
    if auditd::looks_like(line) {
        return auditd::parse(line, ctx);
    }
    if fortigate::looks_like(line) {
        return fortigate::parse(line, ctx);
    }
    if rfc3164::starts_with_timestamp(line) {
        return rfc3164::parse(line, ctx);
    }
    if access_log::looks_like(line) {
        return access_log::parse(line, ctx);
    }
    if cisco::looks_like(line) {
        return cisco::parse(line, ctx);
    }
    Err(ParseError::Unrecognized)
}

/// A decoded `<PRI>`: (facility, severity).
pub(crate) type Pri = (u8, u8);

/// Splits a leading `<PRI>`; returns `(Some((facility, severity)), rest)`, or `(None, line)`
/// when the line has no PRI. A PRI that is opened but malformed is an error.
pub(crate) fn split_pri(line: &str, format: Format) -> Result<(Option<Pri>, &str), ParseError> {
    let b = line.as_bytes();
    if b.first() != Some(&b'<') {
        return Ok((None, line));
    }
    let mut value: u32 = 0;
    let mut i = 1;
    while i < b.len() && i <= 4 && b[i].is_ascii_digit() {
        value = value * 10 + u32::from(b[i] - b'0');
        i += 1;
    }
    let digits = i - 1;
    if digits == 0 {
        return Err(ParseError::invalid(format, 1, "PRI is not a number"));
    }
    if digits > 3 {
        return Err(ParseError::invalid(format, 1, "PRI has more than 3 digits"));
    }
    if i >= b.len() {
        return Err(ParseError::invalid(format, i, "PRI is not closed by `>`"));
    }
    if b[i] != b'>' {
        return Err(ParseError::invalid(format, i, "PRI is not closed by `>`"));
    }
    if digits > 1 && b[1] == b'0' {
        return Err(ParseError::invalid(format, 1, "PRI has a leading zero"));
    }
    if value > 191 {
        return Err(ParseError::invalid(format, 1, "PRI above 191"));
    }
    Ok((Some(((value / 8) as u8, (value % 8) as u8)), &line[i + 1..]))
}

/// Sets facility and severity from a split PRI.
pub(crate) fn apply_pri(rec: &mut LogRecord, pri: Option<Pri>) {
    if let Some((f, s)) = pri {
        rec.facility = Some(f);
        rec.severity = Some(s);
    }
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses a fraction of a second (`.123456`) at the start of `b`; returns (nanos, bytes used).
fn fraction(b: &[u8]) -> (u32, usize) {
    if b.first() != Some(&b'.') && b.first() != Some(&b',') {
        return (0, 0);
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return (0, 0);
    }
    let mut nanos: u32 = 0;
    for (k, &c) in b[1..1 + digits].iter().enumerate() {
        if k < 9 {
            nanos = nanos * 10 + u32::from(c - b'0');
        }
    }
    for _ in digits..9 {
        nanos *= 10;
    }
    (nanos, 1 + digits)
}

/// Parses an RFC 3339 timestamp at the start of `s` (`T` or space between date and time,
/// optional fraction, `Z` or `±hh:mm` or `±hhmm`; no zone means `tz`). Returns the instant and
/// the bytes used.
pub(crate) fn rfc3339_prefix(s: &str, tz: FixedOffset) -> Option<(DateTime<Utc>, usize)> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = num(&b[0..4])?;
    let month = num(&b[5..7])?;
    let day = num(&b[8..10])?;
    let hour = num(&b[11..13])?;
    let min = num(&b[14..16])?;
    let sec = num(&b[17..19])?;
    let (nanos, flen) = fraction(&b[19..]);
    let mut i = 19 + flen;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    // A leap second (60) is folded into the last nanosecond range chrono accepts.
    let (sec, nanos) = if sec == 60 {
        (59, nanos + 1_000_000_000)
    } else {
        (sec, nanos)
    };
    let naive = date.and_hms_nano_opt(hour, min, sec, nanos)?;
    let offset = match b.get(i) {
        Some(b'Z') | Some(b'z') => {
            i += 1;
            FixedOffset::east_opt(0)?
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hh = num(b.get(i + 1..i + 3)?)?;
            let (mm, used) = if b.get(i + 3) == Some(&b':') {
                (num(b.get(i + 4..i + 6)?)?, 6)
            } else if b
                .get(i + 3..i + 5)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            {
                (num(&b[i + 3..i + 5])?, 5)
            } else {
                (0, 3)
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            let secs = (hh * 3600 + mm * 60) as i32;
            i += used;
            if sign == b'+' {
                FixedOffset::east_opt(secs)?
            } else {
                FixedOffset::west_opt(secs)?
            }
        }
        _ => tz,
    };
    let dt = offset.from_local_datetime(&naive).single()?;
    Some((dt.with_timezone(&Utc), i))
}

/// The month number of a three-letter English month name (case-insensitive).
pub(crate) fn month(b: &[u8]) -> Option<u32> {
    if b.len() < 3 {
        return None;
    }
    let k = [
        b[0].to_ascii_lowercase(),
        b[1].to_ascii_lowercase(),
        b[2].to_ascii_lowercase(),
    ];
    Some(match &k {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// A BSD timestamp's parts before the year is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BsdTime {
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub nanos: u32,
    pub year: Option<i32>,
}

/// Parses `Mmm dd hh:mm:ss[.frac]`, `Mmm  d ...` and `Mmm dd yyyy hh:mm:ss` at the start of `s`.
pub(crate) fn bsd_time_prefix(s: &str) -> Option<(BsdTime, usize)> {
    let b = s.as_bytes();
    if b.len() < 15 || b[3] != b' ' {
        return None;
    }
    let month = month(&b[0..3])?;
    // Day: "dd", " d" or "d " (some senders do not pad).
    let (day, mut i) = if b[4] == b' ' {
        (num(&b[5..6])?, 6)
    } else if b[5].is_ascii_digit() {
        (num(&b[4..6])?, 6)
    } else {
        (num(&b[4..5])?, 5)
    };
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let mut year = None;
    if b.len() >= i + 5 && b[i + 4] == b' ' && b[i..i + 4].iter().all(u8::is_ascii_digit) {
        year = Some(num(&b[i..i + 4])? as i32);
        i += 5;
    }
    let t = b.get(i..i + 8)?;
    if t[2] != b':' || t[5] != b':' {
        return None;
    }
    let hour = num(&t[0..2])?;
    let min = num(&t[3..5])?;
    let sec = num(&t[6..8])?;
    i += 8;
    let (nanos, flen) = fraction(&b[i..]);
    i += flen;
    if day == 0 || day > 31 || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    Some((
        BsdTime {
            month,
            day,
            hour,
            min,
            sec: sec.min(59),
            nanos,
            year,
        },
        i,
    ))
}

/// The instant of a BSD timestamp in `tz`. Without a year, takes the latest year in which the
/// instant is not after `now` (so a December line read in January lands in the past year, and a
/// Feb 29 line goes back to the last leap year).
pub(crate) fn resolve_bsd(
    t: BsdTime,
    tz: FixedOffset,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // Plain integer calendar arithmetic: this runs once per line on the hot path.
    let at = |year: i32| -> Option<DateTime<Utc>> {
        if t.day > days_in_month(year, t.month) {
            return None;
        }
        let days = days_from_civil(year, t.month, t.day);
        let secs = days * 86_400 + i64::from(t.hour * 3600 + t.min * 60 + t.sec)
            - i64::from(tz.local_minus_utc());
        DateTime::from_timestamp(secs, t.nanos)
    };
    if let Some(y) = t.year {
        return at(y);
    }
    let this_year = (now + chrono::Duration::seconds(i64::from(tz.local_minus_utc()))).year();
    // Eight years back covers a Feb 29 after a skipped century leap year.
    for year in (this_year - 8..=this_year).rev() {
        if let Some(dt) = at(year)
            && dt <= now
        {
            return Some(dt);
        }
    }
    None
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `service` name of a program tag: path stripped, and lowercased for the programs whose
/// conventional name is lowercase (`CRON` → `cron`, `sshd-session` → `sshd`).
pub(crate) fn service_name(tag: &str) -> String {
    let tag = if tag.starts_with('/') {
        tag.rsplit('/').next().unwrap_or(tag)
    } else {
        tag
    };
    let mut lower = [0u8; 24];
    if tag.len() <= lower.len() {
        for (d, s) in lower.iter_mut().zip(tag.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        let l = &lower[..tag.len()];
        let known: Option<&str> = match l {
            b"sshd" | b"sshd-session" | b"sshd-auth" | b"sshd-session-auth" => Some("sshd"),
            b"cron" | b"crond" | b"anacron" => Some(std::str::from_utf8(l).unwrap_or("cron")),
            b"sudo" | b"su" | b"useradd" | b"usermod" | b"userdel" | b"groupadd" | b"groupmod"
            | b"groupdel" | b"passwd" | b"chpasswd" | b"chage" | b"gpasswd" | b"login"
            | b"kernel" | b"systemd" | b"systemd-logind" | b"auditd" | b"nginx" | b"httpd"
            | b"apache2" | b"apache" | b"vsftpd" | b"clamd" | b"polkitd" | b"dbus-daemon"
            | b"postfix" => std::str::from_utf8(l).ok(),
            _ => None,
        };
        if let Some(k) = known {
            return k.to_owned();
        }
    }
    tag.to_owned()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;

    #[test]
    fn calendar_arithmetic_matches_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 12, 31),
            (1900, 3, 1),
            (2100, 2, 28),
            (1969, 12, 31),
        ] {
            let expected = NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days();
            assert_eq!(days_from_civil(y, m, d), expected, "{y}-{m}-{d}");
        }
        let t = BsdTime {
            month: 3,
            day: 1,
            hour: 1,
            min: 2,
            sec: 3,
            nanos: 5,
            year: Some(2024),
        };
        let tz = FixedOffset::east_opt(3600).unwrap();
        assert_eq!(
            resolve_bsd(t, tz, Utc::now()),
            tz.with_ymd_and_hms(2024, 3, 1, 1, 2, 3)
                .single()
                .map(|d| d.with_timezone(&Utc) + chrono::Duration::nanoseconds(5))
        );
    }
}
