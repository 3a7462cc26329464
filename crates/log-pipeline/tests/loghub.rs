//! The parsers over the real Loghub samples in ../shared/data/logs/loghub.
//!
//! Expected counts are computed here from the raw text with plain string scans that share no
//! code with the parsers, then compared with what the parsers extracted.

use chrono::{TimeZone, Utc};
use ironpost_core::event::{LogRecord, Value};
use ironpost_log_pipeline::{Format, ParseError, ParseOptions, parse_line_with};

const LOGHUB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/logs/loghub"
);

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{LOGHUB}/{name}"))
        .unwrap_or_else(|e| panic!("{LOGHUB}/{name}: {e}"))
}

fn opts() -> ParseOptions {
    ParseOptions {
        now: Some(Utc.with_ymd_and_hms(2017, 6, 1, 0, 0, 0).unwrap()),
        ..ParseOptions::default()
    }
}

fn parse_all(text: &str, format: Format) -> Vec<(String, LogRecord)> {
    text.lines()
        .map(|l| {
            let r = parse_line_with(l, format, "loghub", &opts())
                .unwrap_or_else(|e| panic!("{e}: {l}"));
            (l.to_owned(), r)
        })
        .collect()
}

fn s<'a>(r: &'a LogRecord, k: &str) -> Option<&'a str> {
    match r.fields.get(k) {
        Some(Value::Str(v)) => Some(v),
        _ => None,
    }
}

/// The first dotted-quad in `line`, found byte by byte.
fn first_ipv4(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.' || b[i - 1] == b'-'))
        {
            let start = i;
            let mut dots = 0;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                dots += usize::from(b[i] == b'.');
                i += 1;
            }
            let cand = line[start..i].trim_end_matches('.');
            if dots >= 3
                && cand.parse::<std::net::Ipv4Addr>().is_ok()
                && (i >= b.len() || !(b[i].is_ascii_alphabetic() || b[i] == b'-'))
            {
                return Some(cand);
            }
        }
        i += 1;
    }
    None
}

#[test]
fn every_openssh_line_parses_as_rfc3164_and_auto() {
    let text = read("OpenSSH_2k.log");
    let now = opts().now.unwrap();
    for format in [Format::Rfc3164, Format::Auto] {
        let recs = parse_all(&text, format);
        assert_eq!(recs.len(), 2000);
        for (line, r) in &recs {
            assert_eq!(r.format, "rfc3164", "{line}");
            assert_eq!(r.hostname.as_deref(), Some("LabSZ"), "{line}");
            assert_eq!(r.service.as_deref(), Some("sshd"), "{line}");
            assert!(r.pid.is_some(), "{line}");
            assert!(r.timestamp <= now, "{line}");
            let after_tag = &line[line.find("]: ").unwrap() + 3..];
            assert_eq!(r.message, after_tag);
        }
    }
}

#[test]
fn every_mac_syslog_line_parses() {
    let text = read("Mac_2k.log");
    let recs = parse_all(&text, Format::Auto);
    for (line, r) in &recs {
        assert_eq!(r.format, "rfc3164", "{line}");
        let host = line.split_whitespace().nth(3).unwrap();
        assert_eq!(r.hostname.as_deref(), Some(host), "{line}");
        // The tag runs from after the host name to the first `[` or `:`.
        let after_host = &line[line.find(host).unwrap() + host.len() + 1..];
        let tag = after_host.split(['[', ':']).next().unwrap();
        assert_eq!(
            r.service.as_deref().map(str::to_ascii_lowercase),
            Some(tag.to_ascii_lowercase()),
            "{line}"
        );
        assert!(!r.message.is_empty() || line.ends_with(": "), "{line}");
    }
    assert_eq!(recs.len(), text.lines().count());
}

#[test]
fn non_syslog_samples_are_refused_by_auto_detection() {
    for name in ["Apache_2k.log", "HDFS_2k.log", "Android_2k.log"] {
        let text = read(name);
        for line in text.lines() {
            assert_eq!(
                parse_line_with(line, Format::Auto, "x", &opts()).err(),
                Some(ParseError::Unrecognized),
                "{name}: {line}"
            );
        }
    }
}

#[test]
fn sshd_fields_match_counts_computed_from_the_file() {
    let text = read("OpenSSH_2k.log");
    let recs = parse_all(&text, Format::Rfc3164);

    // Authentication attempts: "Failed <method> for" / "Accepted <method> for".
    let expected_failed = text
        .lines()
        .filter(|l| l.contains(": Failed ") || l.contains("[ Failed "))
        .count();
    let expected_accepted = text.lines().filter(|l| l.contains(": Accepted ")).count();
    let failed = recs
        .iter()
        .filter(|(_, r)| s(r, "auth_method").is_some() && s(r, "outcome") == Some("failure"))
        .count();
    let accepted = recs
        .iter()
        .filter(|(_, r)| s(r, "outcome") == Some("success"))
        .count();
    assert_eq!(failed, expected_failed);
    assert_eq!(accepted, expected_accepted);
    assert!(
        expected_failed > 400,
        "the sample is a brute force: {expected_failed}"
    );

    // Invalid users, however sshd words it.
    let expected_invalid = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("invalid user "))
        .count();
    let invalid = recs
        .iter()
        .filter(|(_, r)| r.fields.get("invalid_user") == Some(&Value::Bool(true)))
        .count();
    assert_eq!(invalid, expected_invalid);

    // Every failed/accepted attempt names a user, an address and a port.
    for (line, r) in recs.iter().filter(|(_, r)| s(r, "auth_method").is_some()) {
        assert!(
            s(r, "user").is_some_and(|u| line.contains(&format!(" {u} from "))),
            "{line}"
        );
        assert_eq!(s(r, "src_ip"), first_ipv4(line), "{line}");
        let port = r
            .fields
            .get("src_port")
            .and_then(|v| v.view().as_i64())
            .unwrap();
        assert!(line.contains(&format!(" port {port} ")), "{line}");
    }

    // Every line that holds an IPv4 address yields it, as src_ip or (PAM) rhost.
    let mut with_ip = 0;
    for (line, r) in &recs {
        if let Some(ip) = first_ipv4(line) {
            with_ip += 1;
            assert!(
                s(r, "src_ip") == Some(ip) || s(r, "rhost") == Some(ip),
                "{line}"
            );
        }
    }
    assert!(with_ip > 1500, "{with_ip}");
}

#[test]
fn pam_unix_fields_match_counts_computed_from_the_file() {
    let text = read("OpenSSH_2k.log");
    let recs = parse_all(&text, Format::Rfc3164);
    let pam_lines = text.lines().filter(|l| l.contains("]: pam_unix(")).count();
    assert_eq!(
        recs.iter()
            .filter(|(_, r)| s(r, "pam_module") == Some("pam_unix"))
            .count(),
        pam_lines
    );

    let rhost_of = |l: &str| -> Option<String> {
        let at = l.find(" rhost=")? + 7;
        let v: String = l[at..].chars().take_while(|c| *c != ' ').collect();
        (!v.is_empty()).then_some(v)
    };
    let user_of = |l: &str| -> Option<String> {
        let at = l.find(" user=")? + 6;
        let v: String = l[at..].chars().take_while(|c| *c != ' ').collect();
        (!v.is_empty()).then_some(v)
    };
    let mut rhosts = 0;
    let mut users = 0;
    for (line, r) in &recs {
        let expected = rhost_of(line);
        rhosts += usize::from(expected.is_some());
        assert_eq!(s(r, "rhost").map(str::to_owned), expected, "{line}");
        if line.contains(" user=") {
            let u = user_of(line);
            users += usize::from(u.is_some());
            assert_eq!(s(r, "user").map(str::to_owned), u, "{line}");
        }
    }
    assert!(rhosts > 400 && users > 300, "{rhosts} {users}");
    let failures = text
        .lines()
        .filter(|l| {
            l.contains("pam_unix(sshd:auth): authentication failure")
                || l.contains("pam_unix(sshd:auth): check pass; user unknown")
        })
        .count();
    let got = recs
        .iter()
        .filter(|(_, r)| s(r, "pam_module").is_some() && s(r, "outcome") == Some("failure"))
        .count();
    assert_eq!(got, failures);
}
