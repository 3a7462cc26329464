//! Log collection for Ironpost: sources, parsers, normalization and checkpoints.
//!
//! This crate owns everything between a log's bytes and an [`ironpost_core::event::LogRecord`]
//! on the event bus:
//!
//! ```text
//! sources/ (file tail, syslog UDP/TCP, JSON lines) -> parsers/ (one file per format)
//!          -> normalize/ (fields detection needs) -> Event::Log on the bus
//! ```
//!
//! [`parse_line`] is the whole parsing stage for one line: it picks (or is told) the format,
//! parses the header, then runs [`normalize::normalize`] so that an sshd, sudo or PAM line
//! comes out with the field names documented in [`normalize`]. Sources call the same function,
//! so what `ironpost logs parse` prints is what detection sees.
//!
//! RFC 3164 lines (the /var/log files, the bulk of what a host writes) take a borrowed path:
//! [`parsers::rfc3164::parse_view`] parses the header and runs the same normalization
//! extractors into a [`fields::FieldBuf`] with every text borrowed from the line and nothing
//! allocated, and the [`LogRecord`] is copied out of that view once, at the end. The other
//! formats build their record as they parse and normalize it afterwards.

pub mod checkpoint;
pub mod fields;
pub mod normalize;
pub mod parsers;
pub mod sources;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use ironpost_core::event::{CompactString, LogRecord};

pub use checkpoint::{CheckpointError, CheckpointStore, MemoryCheckpointStore};

/// The log formats Ironpost parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Detect the format of each line.
    Auto,
    /// Syslog per RFC 5424.
    Rfc5424,
    /// BSD syslog per RFC 3164, with or without `<PRI>` (the lines of /var/log files).
    Rfc3164,
    /// One JSON object per line; nested objects flattened to dotted names.
    Json,
    /// Linux audit records (`type=... msg=audit(ts:serial): key=value ...`).
    Auditd,
    /// Cisco ASA and IOS messages (`%ASA-6-302013: ...`, `%SYS-5-CONFIG_I: ...`).
    Cisco,
    /// FortiGate key=value logs (`date=... time=... devname=... logid=...`).
    Fortigate,
    /// Apache/nginx common and combined access log lines.
    AccessLog,
}

impl Format {
    /// The name used in config, on the command line and in `LogRecord.format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Rfc5424 => "rfc5424",
            Format::Rfc3164 => "rfc3164",
            Format::Json => "json",
            Format::Auditd => "auditd",
            Format::Cisco => "cisco",
            Format::Fortigate => "fortigate",
            Format::AccessLog => "access_log",
        }
    }

    /// [`Format::name`] as a record's `format` holds it, built at compile time (no copy).
    pub(crate) fn record_name(self) -> CompactString {
        match self {
            Format::Auto => const { CompactString::const_new("auto") },
            Format::Rfc5424 => const { CompactString::const_new("rfc5424") },
            Format::Rfc3164 => const { CompactString::const_new("rfc3164") },
            Format::Json => const { CompactString::const_new("json") },
            Format::Auditd => const { CompactString::const_new("auditd") },
            Format::Cisco => const { CompactString::const_new("cisco") },
            Format::Fortigate => const { CompactString::const_new("fortigate") },
            Format::AccessLog => const { CompactString::const_new("access_log") },
        }
    }

    /// Every format, `Auto` first.
    pub const ALL: [Format; 8] = [
        Format::Auto,
        Format::Rfc5424,
        Format::Rfc3164,
        Format::Json,
        Format::Auditd,
        Format::Cisco,
        Format::Fortigate,
        Format::AccessLog,
    ];
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown log format `{0}`: expected one of auto, rfc5424, rfc3164, json, auditd, cisco, fortigate, access_log"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => Format::Auto,
            "rfc5424" | "syslog5424" => Format::Rfc5424,
            "rfc3164" | "bsd" | "syslog" => Format::Rfc3164,
            "json" | "jsonl" | "json_lines" => Format::Json,
            "auditd" | "audit" => Format::Auditd,
            "cisco" | "asa" | "ios" => Format::Cisco,
            "fortigate" | "fortinet" => Format::Fortigate,
            "access_log" | "access" | "combined" | "clf" => Format::AccessLog,
            _ => return Err(UnknownFormat(s.to_owned())),
        })
    }
}

/// Why a line could not be parsed. `at` is the byte offset in the line where parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line is empty (or only a line ending).
    #[error("empty line")]
    Empty,
    /// The line is not valid in the given format.
    #[error("not valid {format}: {reason} at byte {at}")]
    Invalid {
        /// The format tried.
        format: &'static str,
        /// Byte offset in the line.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A JSON line that serde_json refused (syntax, nesting deeper than 128, not an object).
    #[error("not valid json: {0}")]
    Json(String),
    /// Auto-detection found no known format.
    #[error(
        "no known log format matches the line (tried rfc5424, rfc3164, json, auditd, cisco, fortigate, access_log); set the source's format or use raw lines"
    )]
    Unrecognized,
}

impl ParseError {
    pub(crate) fn invalid(format: Format, at: usize, reason: &'static str) -> Self {
        ParseError::Invalid {
            format: format.name(),
            at,
            reason,
        }
    }
}

/// Per-source context for parsing: the time zone of zone-less timestamps and "now".
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// Time zone of timestamps that carry none (RFC 3164, Cisco, FortiGate). UTC by default.
    pub timezone: FixedOffset,
    /// The reference instant for year inference and `received`; `None` reads the clock.
    pub now: Option<DateTime<Utc>>,
    /// Run [`normalize::normalize`] after parsing (on by default).
    pub normalize: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            timezone: FixedOffset::east_opt(0).expect("zero offset is valid"),
            now: None,
            normalize: true,
        }
    }
}

/// A time zone given as `UTC`, `Z`, `+02:00`, `-0530` or `+2`; `None` when it is none of these.
pub fn parse_utc_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("gmt")
    {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = if digits.len() <= 2 {
        (digits.as_str(), "0")
    } else {
        digits.split_at(digits.len() - 2)
    };
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Parses one line of `format` from the source named `source`, then normalizes it.
///
/// The line may end with `\n` or `\r\n` and may start with a UTF-8 byte order mark.
pub fn parse_line(line: &str, format: Format, source: &str) -> Result<LogRecord, ParseError> {
    parse_line_with(line, format, source, &ParseOptions::default())
}

/// [`parse_line`] with a per-source time zone and reference time.
pub fn parse_line_with(
    line: &str,
    format: Format,
    source: &str,
    opts: &ParseOptions,
) -> Result<LogRecord, ParseError> {
    let line = trim_line(line);
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    // "Now" is copied from where it is stored, not merged from the two cases first: that merge
    // goes through a stack slot written in two stores and read back in one, a store-forwarding
    // stall that every line would wait for.
    let clock;
    let now = match &opts.now {
        Some(now) => now,
        None => {
            clock = Utc::now();
            &clock
        }
    };
    let ctx = parsers::Ctx {
        source,
        now: *now,
        tz: opts.timezone,
    };
    let format = match format {
        Format::Auto => match parsers::detect(line)? {
            parsers::Detected::Format(f) => f,
            parsers::Detected::Bsd(t, used) => {
                return parsers::rfc3164::parse_record(line, &ctx, opts.normalize, Some((t, used)));
            }
        },
        f => f,
    };
    let mut rec = match format {
        // Parsed and normalized borrowed from the line, then copied once into the record.
        Format::Rfc3164 => {
            return parsers::rfc3164::parse_record(line, &ctx, opts.normalize, None);
        }
        // `detect` never answers `Auto`.
        Format::Auto => return Err(ParseError::Unrecognized),
        Format::Rfc5424 => parsers::rfc5424::parse(line, &ctx)?,
        Format::Json => parsers::json::parse(line, &ctx)?,
        Format::Auditd => parsers::auditd::parse(line, &ctx)?,
        Format::Cisco => parsers::cisco::parse(line, &ctx)?,
        Format::Fortigate => parsers::fortigate::parse(line, &ctx)?,
        Format::AccessLog => parsers::access_log::parse(line, &ctx)?,
    };
    if opts.normalize {
        normalize::normalize(&mut rec);
    }
    Ok(rec)
}

/// Drops the line ending and a leading byte order mark.
fn trim_line(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.strip_prefix('\u{feff}').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_through_their_names() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(f.record_name(), f.name());
        }
        assert!(
            "syslogx"
                .parse::<Format>()
                .unwrap_err()
                .to_string()
                .contains("expected one of")
        );
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("UTC"), FixedOffset::east_opt(0));
        assert_eq!(parse_utc_offset("+02:00"), FixedOffset::east_opt(7200));
        assert_eq!(
            parse_utc_offset("-0530"),
            FixedOffset::west_opt(5 * 3600 + 1800)
        );
        assert_eq!(parse_utc_offset("+2"), FixedOffset::east_opt(7200));
        assert_eq!(parse_utc_offset("Europe/Paris"), None);
        assert_eq!(parse_utc_offset("+25:00"), None);
    }
}
