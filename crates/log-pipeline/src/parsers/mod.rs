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

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use ironpost_core::event::{CompactString, Fields, LogRecord};

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
            source: CompactString::new(self.source),
            format: format.record_name(),
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

/// What [`detect`] found.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Detected {
    /// The format to parse the line with (never `Format::Auto`).
    Format(Format),
    /// RFC 3164 without PRI, starting with this BSD timestamp (parsed once, here).
    Bsd(BsdTime, usize),
}

/// Chooses the format of a line from its first bytes: the rules `Format::Auto` documents.
/// A `<` that opens no valid PRI is an RFC 3164 error.
pub(crate) fn detect(line: &str) -> Result<Detected, ParseError> {
    if !line.starts_with('<')
        && !auditd::looks_like(line)
        && !fortigate::looks_like(line)
        && let Some((t, used)) = bsd_time_prefix(line)
    {
        return Ok(Detected::Bsd(t, used));
    }
    detect_format(line).map(Detected::Format)
}

fn detect_format(line: &str) -> Result<Format, ParseError> {
    if line.trim_start().starts_with('{') {
        return Ok(Format::Json);
    }
    if line.starts_with('<') {
        let (_, rest) = split_pri(line, Format::Rfc3164)?;
        // RFC 5424 has `VERSION SP` (1-3 digits, no leading zero) right after the PRI.
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let is_5424 = (1..=3).contains(&digits)
            && !rest.starts_with('0')
            && rest.as_bytes().get(digits) == Some(&b' ');
        if is_5424 {
            return Ok(Format::Rfc5424);
        }
        if fortigate::looks_like(rest) {
            return Ok(Format::Fortigate);
        }
        if cisco::looks_like(rest) {
            return Ok(Format::Cisco);
        }
        return Ok(Format::Rfc3164);
    }
    if auditd::looks_like(line) {
        return Ok(Format::Auditd);
    }
    if fortigate::looks_like(line) {
        return Ok(Format::Fortigate);
    }
    if rfc3164::starts_with_timestamp(line) {
        return Ok(Format::Rfc3164);
    }
    if access_log::looks_like(line) {
        return Ok(Format::AccessLog);
    }
    if cisco::looks_like(line) {
        return Ok(Format::Cisco);
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
    // `| 0x20` lowercases an ASCII letter; the only other byte it maps onto a lowercase letter
    // is that letter's uppercase, so the comparison stays exact.
    let k = u32::from(b[0] | 0x20) << 16 | u32::from(b[1] | 0x20) << 8 | u32::from(b[2] | 0x20);
    const fn key(m: &[u8; 3]) -> u32 {
        (m[0] as u32) << 16 | (m[1] as u32) << 8 | m[2] as u32
    }
    Some(match k {
        k if k == key(b"jan") => 1,
        k if k == key(b"feb") => 2,
        k if k == key(b"mar") => 3,
        k if k == key(b"apr") => 4,
        k if k == key(b"may") => 5,
        k if k == key(b"jun") => 6,
        k if k == key(b"jul") => 7,
        k if k == key(b"aug") => 8,
        k if k == key(b"sep") => 9,
        k if k == key(b"oct") => 10,
        k if k == key(b"nov") => 11,
        k if k == key(b"dec") => 12,
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

/// The value of an ASCII digit.
#[inline]
fn digit(c: u8) -> Option<u32> {
    let v = c.wrapping_sub(b'0');
    (v < 10).then_some(u32::from(v))
}

/// Two ASCII digits at `b[i..i + 2]` (the caller checked the length).
#[inline]
fn two_digits(b: &[u8], i: usize) -> Option<u32> {
    Some(digit(b[i])? * 10 + digit(b[i + 1])?)
}

/// Parses `Mmm dd hh:mm:ss[.frac]`, `Mmm  d ...` and `Mmm dd yyyy hh:mm:ss` at the start of `s`.
// Inlined so that the parts stay in registers: returned through memory, they are written as
// 32-bit words and copied out in wider ones, a store-forwarding stall on every line.
#[inline(always)]
pub(crate) fn bsd_time_prefix(s: &str) -> Option<(BsdTime, usize)> {
    let b = s.as_bytes();
    if b.len() < 15 || b[3] != b' ' {
        return None;
    }
    let month = month(&b[0..3])?;
    // Day: "dd", " d" or "d " (some senders do not pad).
    let (day, mut i) = if b[4] == b' ' {
        (digit(b[5])?, 6)
    } else if b[5].is_ascii_digit() {
        (two_digits(b, 4)?, 6)
    } else {
        (digit(b[4])?, 5)
    };
    if b[i] != b' ' {
        return None;
    }
    i += 1;
    let mut year = None;
    if b.len() >= i + 5 && b[i + 4] == b' ' && b[i..i + 4].iter().all(u8::is_ascii_digit) {
        year = Some((two_digits(b, i)? * 100 + two_digits(b, i + 2)?) as i32);
        i += 5;
    }
    let t = b.get(i..i + 8)?;
    if t[2] != b':' || t[5] != b':' {
        return None;
    }
    let hour = two_digits(t, 0)?;
    let min = two_digits(t, 3)?;
    let sec = two_digits(t, 6)?;
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

/// The last year inference, per thread: for a day of the year (`month`, `day`) in a zone
/// (`off`), the year chosen and how long that choice holds. Log lines come in time order, so
/// consecutive lines of a source almost always share their day.
#[derive(Debug, Clone, Copy)]
struct YearChoice {
    off: i32,
    month: u32,
    day: u32,
    /// Unix seconds of local midnight starting the day in the chosen year.
    start: i64,
    /// The choice holds while `now` is before this: the start of the same day in the next year
    /// that has it, and the year after which the chosen one would be out of the 8-year window.
    until: i64,
    /// UTC dates of the day before, the day itself and the day after, in the chosen year.
    dates: [Option<NaiveDate>; 3],
}

thread_local! {
    static YEAR_CHOICE: std::cell::Cell<Option<YearChoice>> = const { std::cell::Cell::new(None) };
}

/// The instant of a BSD timestamp in `tz`. Without a year, takes the latest year in which the
/// instant is not after `now` (so a December line read in January lands in the past year, and a
/// Feb 29 line goes back to the last leap year), among `now`'s year and the 8 before it.
///
/// Hot path (once per line): the year chosen for the line's day is kept per thread with the
/// range of `now` over which it stays right, so a line of the same day as the previous one
/// costs a few comparisons; otherwise plain integer calendar arithmetic on Unix seconds.
// Inlined so that the instant comes back in registers: returned through memory, it is written
// field by field and read back in wider words, a store-forwarding stall on every line.
#[inline(always)]
pub(crate) fn resolve_bsd(
    t: &BsdTime,
    tz: FixedOffset,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let off = tz.local_minus_utc();
    let local_sod = i64::from(t.hour * 3600 + t.min * 60 + t.sec);
    let utc_sod = local_sod - i64::from(off);
    // Unix seconds of local midnight of the day in `year`, or None when `year` lacks the day.
    let start_in = |year: i32| -> Option<i64> {
        if t.day > days_in_month(year, t.month) {
            return None;
        }
        Some(days_from_civil(year, t.month, t.day) * 86_400 - i64::from(off))
    };
    let Some(explicit) = t.year else {
        let now_secs = now.timestamp();
        let now_nanos = now.timestamp_subsec_nanos();
        let not_after_now = |s: i64| s < now_secs || (s == now_secs && t.nanos <= now_nanos);
        if let Some(c) = YEAR_CHOICE.get()
            && c.off == off
            && c.month == t.month
            && c.day == t.day
            && not_after_now(c.start + local_sod)
            && now_secs < c.until
        {
            // The instant in the chosen year is not after now, and every later year that has
            // the day starts it after now: the search below would choose the same year.
            return utc_instant(&c.dates, utc_sod, t.nanos);
        }
        let this_year = year_of_days((now_secs + i64::from(off)).div_euclid(86_400));
        // Eight years back covers a Feb 29 after a skipped century leap year.
        let (year, start) = (this_year - 8..=this_year).rev().find_map(|y| {
            let s = start_in(y)?;
            not_after_now(s + local_sod).then_some((y, s))
        })?;
        let dates = utc_dates(year, t.month, t.day)?;
        let next_start = (year + 1..=year + 8).find_map(start_in).unwrap_or(i64::MAX);
        let window_end = days_from_civil(year + 9, 1, 1) * 86_400 - i64::from(off);
        YEAR_CHOICE.set(Some(YearChoice {
            off,
            month: t.month,
            day: t.day,
            start,
            until: next_start.min(window_end),
            dates,
        }));
        return utc_instant(&dates, utc_sod, t.nanos);
    };
    start_in(explicit)?;
    utc_instant(&utc_dates(explicit, t.month, t.day)?, utc_sod, t.nanos)
}

/// The day before, the day and the day after `year-month-day` (None past chrono's range).
fn utc_dates(year: i32, month: u32, day: u32) -> Option<[Option<NaiveDate>; 3]> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    Some([date.pred_opt(), Some(date), date.succ_opt()])
}

/// The instant `utc_sod` seconds (local seconds of the day less the zone offset, so from
/// -86 399 to 172 798) after the UTC midnight of `dates[1]`.
fn utc_instant(dates: &[Option<NaiveDate>; 3], utc_sod: i64, nanos: u32) -> Option<DateTime<Utc>> {
    let (date, sod) = if utc_sod < 0 {
        (dates[0], utc_sod + 86_400)
    } else if utc_sod >= 86_400 {
        (dates[2], utc_sod - 86_400)
    } else {
        (dates[1], utc_sod)
    };
    let time = NaiveTime::from_num_seconds_from_midnight_opt(sod as u32, nanos)?;
    Some(NaiveDateTime::new(date?, time).and_utc())
}

/// The proleptic Gregorian year of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn year_of_days(days: i64) -> i32 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let year = yoe + era * 400 + i64::from(mp >= 10);
    year.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
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

/// The position of the first byte of `b` that is one of `set`, or `b.len()`, eight bytes at a
/// time. For the short tokens of a header (host names run to 25 bytes and more), too short for a
/// vectorized search to pay for its setup, long enough for a byte loop to cost.
#[inline(always)]
pub(crate) fn find_any<const N: usize>(b: &[u8], set: [u8; N]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // The high bit of every byte of `w` equal to `c`. A flag above the lowest one may be false
    // (a borrow out of a matching byte); the lowest one, of any of the sets, is always true.
    let hits = |w: u64, c: u8| {
        let x = w ^ (ONES * u64::from(c));
        x.wrapping_sub(ONES) & !x & (ONES << 7)
    };
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let found = set.iter().fold(0, |acc, &c| acc | hits(w, c));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|c| set.contains(c))
        .map_or(b.len(), |p| i + p)
}

/// The `service` name of a program tag: path stripped, and lowercased for the programs whose
/// conventional name is lowercase (`CRON` → `cron`, `sshd-session` → `sshd`). Borrows from `tag`
/// or is a static name: no allocation.
pub(crate) fn service_name(tag: &str) -> &str {
    service_of(tag).0
}

/// [`service_name`], and whether its text differs from the tag's (the record then keeps the tag
/// as `program`), found in the same pass instead of by comparing the two texts afterwards.
pub(crate) fn service_of(tag: &str) -> (&str, bool) {
    let name = if tag.starts_with('/') {
        tag.rsplit('/').next().unwrap_or(tag)
    } else {
        tag
    };
    let stripped = name.len() != tag.len();
    // Only the known names of the tag's length are compared, byte by byte until the first
    // difference: most tags are rejected by their length or their first byte, nothing is copied.
    let known: &[&'static str] = match name.len() {
        2 => &["su"],
        4 => &["sshd", "cron", "sudo"],
        5 => &["crond", "chage", "login", "nginx", "httpd", "clamd"],
        6 => &["kernel", "passwd", "auditd", "apache", "vsftpd"],
        7 => &[
            "anacron", "useradd", "usermod", "userdel", "gpasswd", "systemd", "apache2", "polkitd",
            "postfix",
        ],
        8 => &["groupadd", "groupmod", "groupdel", "chpasswd"],
        9 => &["sshd-auth"],
        11 => &["dbus-daemon"],
        12 => &["sshd-session"],
        14 => &["systemd-logind"],
        17 => &["sshd-session-auth"],
        _ => return (name, stripped),
    };
    for known in known {
        if let Some(case_differs) = in_any_case(name.as_bytes(), known.as_bytes()) {
            return if known.starts_with("sshd") {
                ("sshd", stripped || case_differs || known.len() != 4)
            } else {
                (known, stripped || case_differs)
            };
        }
    }
    (name, stripped)
}

/// Whether `s` is the lowercase ASCII name `lower` in any case: `None` when it is not,
/// `Some(true)` when it is but in another case.
fn in_any_case(s: &[u8], lower: &[u8]) -> Option<bool> {
    if s.len() != lower.len() {
        return None;
    }
    let mut case_differs = false;
    for (&c, &l) in s.iter().zip(lower) {
        if c != l {
            if c.to_ascii_lowercase() != l {
                return None;
            }
            case_differs = true;
        }
    }
    Some(case_differs)
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
            resolve_bsd(&t, tz, Utc::now()),
            tz.with_ymd_and_hms(2024, 3, 1, 1, 2, 3)
                .single()
                .map(|d| d.with_timezone(&Utc) + chrono::Duration::nanoseconds(5))
        );
    }

    /// The year inference as first written, on chrono: the reference for the integer and
    /// cached versions.
    fn resolve_with_chrono(
        t: BsdTime,
        tz: FixedOffset,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        use chrono::Datelike;
        let at = |year: i32| {
            let naive = NaiveDate::from_ymd_opt(year, t.month, t.day)?
                .and_hms_nano_opt(t.hour, t.min, t.sec, t.nanos)?;
            Some(tz.from_local_datetime(&naive).single()?.with_timezone(&Utc))
        };
        if let Some(y) = t.year {
            return at(y);
        }
        let this_year = (now + chrono::Duration::seconds(i64::from(tz.local_minus_utc()))).year();
        (this_year - 8..=this_year)
            .rev()
            .find_map(|y| at(y).filter(|dt| *dt <= now))
    }

    fn time(month: u32, day: u32, hms: (u32, u32, u32), nanos: u32) -> BsdTime {
        BsdTime {
            month,
            day,
            hour: hms.0,
            min: hms.1,
            sec: hms.2,
            nanos,
            year: None,
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    #[test]
    fn year_inference_matches_the_chrono_reference_whatever_the_cache_holds() {
        // Days that end months, Feb 29, days that do not exist; clocks around year ends, leap
        // days and century years; zones that move the UTC date either way. Calls run in an
        // order that keeps hitting and replacing the per-thread cache with other clocks.
        let days = [
            (1, 1),
            (2, 28),
            (2, 29),
            (2, 30),
            (3, 1),
            (4, 31),
            (6, 15),
            (12, 31),
        ];
        let times = [(0, 0, 0), (0, 30, 0), (12, 0, 0), (23, 59, 59)];
        let nows = [
            utc(2024, 2, 29, 12, 0, 0),
            utc(2025, 1, 1, 0, 0, 0),
            utc(2024, 12, 31, 23, 59, 59),
            utc(2104, 3, 1, 0, 0, 0),
            utc(2100, 12, 31, 0, 0, 0),
            utc(2017, 6, 15, 12, 0, 0),
            utc(1970, 1, 1, 0, 0, 0),
        ];
        let zones = [0, 3600, -5 * 3600, 14 * 3600, -12 * 3600, 5 * 3600 + 1800];
        let mut checked = 0;
        for &off in &zones {
            let tz = FixedOffset::east_opt(off).unwrap();
            for now in nows {
                for &(m, d) in &days {
                    for &hms in &times {
                        for nanos in [0, 999_999_999] {
                            let t = time(m, d, hms, nanos);
                            // Twice: once filling the cache, once reading it.
                            for _ in 0..2 {
                                let got = resolve_bsd(&t, tz, now);
                                assert_eq!(
                                    got,
                                    resolve_with_chrono(t, tz, now),
                                    "{t:?} {tz} {now}"
                                );
                                assert!(got.is_none_or(|g| g <= now), "{t:?} {tz} {now}");
                            }
                            // The instant itself as the clock, and one nanosecond before it:
                            // a line stamped now is this year, one a nanosecond ahead is not.
                            if let Some(at) = resolve_bsd(&t, tz, now) {
                                for clock in [at, at - chrono::Duration::nanoseconds(1)] {
                                    assert_eq!(
                                        resolve_bsd(&t, tz, clock),
                                        resolve_with_chrono(t, tz, clock),
                                        "{t:?} {tz} {clock}"
                                    );
                                }
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 1000);
    }

    #[test]
    fn feb_29_goes_back_to_the_last_leap_year_and_never_into_the_future() {
        let t = time(2, 29, (10, 0, 0), 0);
        let tz = FixedOffset::east_opt(0).unwrap();
        let at = |now| resolve_bsd(&t, tz, now);
        assert_eq!(
            at(utc(2025, 1, 2, 0, 0, 0)),
            Some(utc(2024, 2, 29, 10, 0, 0))
        );
        assert_eq!(
            at(utc(2024, 2, 28, 0, 0, 0)),
            Some(utc(2020, 2, 29, 10, 0, 0))
        );
        assert_eq!(
            at(utc(2024, 2, 29, 10, 0, 0)),
            Some(utc(2024, 2, 29, 10, 0, 0))
        );
        assert_eq!(
            at(utc(2024, 2, 29, 9, 59, 59)),
            Some(utc(2020, 2, 29, 10, 0, 0))
        );
        // 2100 is no leap year: eight years back to 2096.
        assert_eq!(
            at(utc(2104, 1, 1, 0, 0, 0)),
            Some(utc(2096, 2, 29, 10, 0, 0))
        );
        // A day no year has fails cleanly.
        assert_eq!(
            resolve_bsd(&time(2, 30, (0, 0, 0), 0), tz, utc(2024, 6, 1, 0, 0, 0)),
            None
        );
        assert_eq!(
            resolve_bsd(&time(4, 31, (0, 0, 0), 0), tz, utc(2024, 6, 1, 0, 0, 0)),
            None
        );
    }

    #[test]
    fn zones_move_the_utc_date_either_way() {
        let now = utc(2024, 6, 1, 0, 0, 0);
        let east = FixedOffset::east_opt(14 * 3600).unwrap();
        let west = FixedOffset::west_opt(12 * 3600).unwrap();
        assert_eq!(
            resolve_bsd(&time(1, 1, (5, 0, 0), 0), east, now),
            Some(utc(2023, 12, 31, 15, 0, 0))
        );
        assert_eq!(
            resolve_bsd(&time(12, 31, (20, 0, 0), 0), west, now),
            Some(utc(2024, 1, 1, 8, 0, 0))
        );
    }

    /// Month, day, hour, minute, second, nanoseconds, year and bytes used.
    type Bsd = (u32, u32, u32, u32, u32, u32, Option<i32>, usize);

    fn bsd(s: &str) -> Option<Bsd> {
        bsd_time_prefix(s)
            .map(|(t, used)| (t.month, t.day, t.hour, t.min, t.sec, t.nanos, t.year, used))
    }

    #[test]
    fn bsd_timestamps_with_padded_unpadded_and_bad_days() {
        assert_eq!(
            bsd("Dec 10 06:55:46 h"),
            Some((12, 10, 6, 55, 46, 0, None, 15))
        );
        assert_eq!(bsd("Jan  1 00:00:00 h"), Some((1, 1, 0, 0, 0, 0, None, 15)));
        assert_eq!(bsd("Jan 1 00:00:00 h"), Some((1, 1, 0, 0, 0, 0, None, 14)));
        assert_eq!(bsd("jAN 01 00:00:00 h"), Some((1, 1, 0, 0, 0, 0, None, 15)));
        assert_eq!(
            bsd("Mar  3 2023 10:00:00 h"),
            Some((3, 3, 10, 0, 0, 0, Some(2023), 20))
        );
        assert_eq!(
            bsd("Jun 15 11:59:59.25 h"),
            Some((6, 15, 11, 59, 59, 250_000_000, None, 18))
        );
        assert_eq!(
            bsd("Jun 15 11:59:59,5"),
            Some((6, 15, 11, 59, 59, 500_000_000, None, 17))
        );
        // A leap second is kept inside the minute.
        assert_eq!(
            bsd("Dec 31 23:59:60 h"),
            Some((12, 31, 23, 59, 59, 0, None, 15))
        );
        for bad in [
            "Jan 00 00:00:00 h",
            "Jan 32 00:00:00 h",
            "Jan 10 24:00:00 h",
            "Jan 10 23:60:00 h",
            "Jan 10 23:59:61 h",
            "Jan 10 2:00:00 h",
            "Jan 1x 00:00:00 h",
            "Jan x1 00:00:00 h",
            "Jan  x 00:00:00 h",
            "Jan 10 00-00-00 h",
            "J@n 10 00:00:00 h",
            "Jan10 00:00:00 h",
            "Jan 10 00:00:0",
            "Foo 10 00:00:00 h",
            "",
        ] {
            assert_eq!(bsd(bad), None, "{bad}");
        }
    }

    #[test]
    fn month_names_in_any_case_and_nothing_else() {
        for (k, name) in [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(month(name.as_bytes()), Some(k as u32 + 1));
            assert_eq!(
                month(name.to_ascii_uppercase().as_bytes()),
                Some(k as u32 + 1)
            );
        }
        for bad in ["ja", "j@n", "{an", "jam", "\u{0}an"] {
            assert_eq!(month(bad.as_bytes()), None, "{bad:?}");
        }
        // Every byte triple that is not a month name in some case is refused.
        for a in 0..=255u8 {
            for b in [b'a', b'A', b'@', b'`', 0xc1, 0xe1] {
                let name = [a, b, b'n'];
                let expected = name.eq_ignore_ascii_case(b"jan").then_some(1);
                assert_eq!(month(&name), expected, "{name:?}");
            }
        }
    }

    #[test]
    fn find_any_agrees_with_a_byte_loop() {
        let naive =
            |b: &[u8], set: &[u8]| b.iter().position(|c| set.contains(c)).unwrap_or(b.len());
        let marks = [b' ', b':', b'['];
        // A false flag would show on a byte that differs from a searched one in the lowest bit
        // (`!`, `;`, `Z`), right above a match.
        let fillers = [b'a', b'!', b';', b'Z', 0x00, 0x80, 0xff];
        for len in 0..=20 {
            for fill in fillers {
                for (x, y) in (0..=len).flat_map(|x| (0..=len).map(move |y| (x, y))) {
                    for (mx, my) in marks.iter().flat_map(|&a| marks.map(|b| (a, b))) {
                        let mut b = vec![fill; len];
                        if y < len {
                            b[y] = my;
                        }
                        if x < len {
                            b[x] = mx;
                        }
                        assert_eq!(find_any(&b, [b' ']), naive(&b, b" "), "{b:?}");
                        assert_eq!(find_any(&b, [b'[']), naive(&b, b"["), "{b:?}");
                        assert_eq!(find_any(&b, [b'[', b':', b' ']), naive(&b, b"[: "), "{b:?}");
                    }
                }
            }
        }
        let line = b"calvisitor-10-105-162-105 kernel[0]: x";
        assert_eq!(find_any(line, [b' ']), 25);
        assert_eq!(find_any(&line[26..], [b'[', b':', b' ']), 6);
    }

    #[test]
    fn service_names_borrow_or_are_static() {
        for (tag, service) in [
            ("CRON", "cron"),
            ("/usr/sbin/cron", "cron"),
            ("sshd-session", "sshd"),
            ("SSHD", "sshd"),
            ("sshd", "sshd"),
            ("kernel", "kernel"),
            ("com.apple.xpc.launchd", "com.apple.xpc.launchd"),
            ("Foo", "Foo"),
            ("a", "a"),
            ("/", ""),
            (
                "a-very-long-program-name-over-24",
                "a-very-long-program-name-over-24",
            ),
            ("Sshd-Session-Auth", "sshd"),
            ("sshd-auth", "sshd"),
            ("GroupAdd", "groupadd"),
            ("Systemd-Logind", "systemd-logind"),
            ("/usr/lib/polkit-1/polkitd", "polkitd"),
            ("postfiX", "postfix"),
            ("sshx", "sshx"),
            ("crone", "crone"),
            ("", ""),
        ] {
            assert_eq!(service_name(tag), service, "{tag}");
        }
        // Every known name, whatever its case, comes out lowercase (a name filed under the
        // wrong length would come out as written).
        for name in [
            "cron",
            "crond",
            "anacron",
            "sudo",
            "su",
            "useradd",
            "usermod",
            "userdel",
            "groupadd",
            "groupmod",
            "groupdel",
            "passwd",
            "chpasswd",
            "chage",
            "gpasswd",
            "login",
            "kernel",
            "systemd",
            "systemd-logind",
            "auditd",
            "nginx",
            "httpd",
            "apache2",
            "apache",
            "vsftpd",
            "clamd",
            "polkitd",
            "dbus-daemon",
            "postfix",
        ] {
            assert_eq!(service_name(&name.to_ascii_uppercase()), name);
        }
        for name in ["sshd", "sshd-session", "sshd-auth", "sshd-session-auth"] {
            assert_eq!(service_name(&name.to_ascii_uppercase()), "sshd");
        }
        // Whether the service's text differs from the tag's.
        for (tag, differs) in [
            ("sshd", false),
            ("SSHD", true),
            ("sshd-session", true),
            ("/usr/sbin/cron", true),
            ("/usr/bin/foo", true),
            ("cron", false),
            ("Cron", true),
            ("Foo", false),
            ("kernel", false),
            ("com.apple.xpc.launchd", false),
        ] {
            let (service, renamed) = service_of(tag);
            assert_eq!(renamed, service != tag, "{tag}");
            assert_eq!(renamed, differs, "{tag}");
        }
    }
}
