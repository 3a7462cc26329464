//! Cisco ASA/FTD and IOS headers: `[<PRI>][seq: ][host: ][*]Mmm dd [yyyy ]hh:mm:ss[.ms][ TZ][ host][ ]: %FAC-SEV-MNEMONIC: text`.
//!
//! Fields: `cisco.facility` (`ASA`, `SYS`, `LINK`, ...), `cisco.severity` (0-7, also the
//! record's severity), `cisco.mnemonic` (`302013`, `CONFIG_I`), `cisco.seq`, and `product`
//! `cisco`. `service` is `asa` for ASA/FTD messages, `ios` otherwise. The message keeps the
//! `%FAC-SEV-MNEMONIC:` tag so keyword rules that name a mnemonic find it.

use ironpost_core::event::LogRecord;

use super::{Ctx, apply_pri, bsd_time_prefix, resolve_bsd, split_pri};
use crate::{Format, ParseError};

const F: Format = Format::Cisco;

/// True when the text holds a `%FAC-N-MNEMONIC:` tag.
pub fn looks_like(s: &str) -> bool {
    find_tag(s).is_some()
}

/// Finds `%FAC-SEV-MNEMONIC:`; returns (start, facility, severity, mnemonic, end of tag).
fn find_tag(s: &str) -> Option<(usize, &str, u8, &str, usize)> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'%', &b[from..]) {
        let start = from + p;
        from = start + 1;
        let rest = &s[start + 1..];
        let colon = rest.find(':')?;
        let tag = &rest[..colon];
        let mut parts = tag.splitn(3, '-');
        let (Some(fac), Some(sev), Some(mn)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let ok = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        };
        if ok(fac)
            && sev.len() == 1
            && sev.as_bytes()[0].is_ascii_digit()
            && sev.as_bytes()[0] <= b'7'
            && ok(mn)
        {
            return Some((
                start,
                fac,
                sev.as_bytes()[0] - b'0',
                mn,
                start + 1 + colon + 1,
            ));
        }
    }
    None
}

/// Parses one Cisco line.
pub fn parse(line: &str, ctx: &Ctx<'_>) -> Result<LogRecord, ParseError> {
    let (pri, rest) = split_pri(line, F)?;
    let base = line.len() - rest.len();
    let (start, fac, sev, mn, _) = find_tag(rest).ok_or(ParseError::invalid(
        F,
        base,
        "no `%FACILITY-SEVERITY-MNEMONIC:` tag",
    ))?;
    let mut rec = ctx.record(F, &rest[start..]);
    apply_pri(&mut rec, pri);
    rec.severity = Some(sev);
    rec.service = Some(
        if matches!(fac, "ASA" | "FTD" | "PIX" | "FWSM") {
            "asa"
        } else {
            "ios"
        }
        .into(),
    );
    rec.fields.insert("product", "cisco");
    rec.fields.insert("cisco.facility", fac);
    rec.fields.insert("cisco.severity", i64::from(sev));
    rec.fields.insert("cisco.mnemonic", mn);
    let mut head = rest[..start].trim_end_matches([' ', ':']);
    while !head.is_empty() {
        head = head.trim_start_matches([' ', '*', '.', ':']);
        if let Some((t, used)) = bsd_time_prefix(head) {
            if let Some(ts) = resolve_bsd(&t, ctx.tz, ctx.now) {
                rec.timestamp = ts;
            }
            head = &head[used..];
            // A zone name after the time (`UTC`, `CEST`) is informational: the source's zone rules.
            let trimmed = head.trim_start();
            let word = trimmed.split([' ', ':']).next().unwrap_or("");
            if !word.is_empty()
                && word.len() <= 5
                && word.bytes().all(|c| c.is_ascii_uppercase())
                && head.starts_with(' ')
            {
                head = &trimmed[word.len()..];
            }
            continue;
        }
        let end = head.find([' ', ':']).unwrap_or(head.len());
        let token = &head[..end];
        if !token.is_empty() {
            if token.bytes().all(|c| c.is_ascii_digit())
                && rec.fields.get("cisco.seq").is_none()
                && rec.hostname.is_none()
            {
                rec.fields.insert("cisco.seq", token);
            } else if rec.hostname.is_none() {
                rec.hostname = Some(token.into());
            }
        }
        head = &head[end..];
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Timelike};
    use ironpost_core::event::Value;

    use crate::{Format, parse_line};

    #[test]
    fn asa_and_ios_headers() {
        let r = parse_line(
            "<166>Jan 05 2020 12:00:00 fw01 : %ASA-6-302013: Built outbound TCP connection 1",
            Format::Auto,
            "c",
        )
        .unwrap();
        assert_eq!(r.format, "cisco");
        assert_eq!(r.service.as_deref(), Some("asa"));
        assert_eq!(r.hostname.as_deref(), Some("fw01"));
        assert_eq!((r.timestamp.year(), r.timestamp.hour()), (2020, 12));
        assert_eq!(r.severity, Some(6));
        assert_eq!(
            r.fields.get("cisco.mnemonic"),
            Some(&Value::Str("302013".into()))
        );
        assert!(r.message.starts_with("%ASA-6-302013: Built"));
        let r = parse_line("<189>52: router1: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.1)", Format::Auto, "c").unwrap();
        assert_eq!(r.service.as_deref(), Some("ios"));
        assert_eq!(r.hostname.as_deref(), Some("router1"));
        assert_eq!(r.fields.get("cisco.seq"), Some(&Value::Str("52".into())));
        assert_eq!(
            (r.timestamp.month(), r.timestamp.day(), r.timestamp.minute()),
            (3, 1, 46)
        );
        let r = parse_line(
            "<166>%ASA-4-106023: Deny tcp src outside:1.2.3.4/5 dst inside:10.0.0.1/22",
            Format::Auto,
            "c",
        )
        .unwrap();
        assert_eq!((r.severity, r.hostname), (Some(4), None));
    }
}
