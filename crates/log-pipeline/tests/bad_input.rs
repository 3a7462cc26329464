//! Malformed and hostile input, one row per case, each with its defined outcome.

use ironpost_core::event::{LogRecord, Value};
use ironpost_log_pipeline::sources::decode_lossy;
use ironpost_log_pipeline::sources::framing::{FrameDecoder, FramingError};
use ironpost_log_pipeline::{Format, ParseError, parse_line};

enum Expect {
    /// Parses; the check must hold.
    Ok(fn(&LogRecord) -> bool),
    /// Fails with an `Invalid` error whose reason contains the text.
    Invalid(&'static str),
    /// Fails as JSON.
    Json,
    /// Fails as an empty line.
    Empty,
    /// Auto-detection recognizes nothing.
    Unrecognized,
}

fn nested(depth: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(depth * 6 + 20);
    s.extend_from_slice(b"{\"message\":\"m\",\"a\":");
    for _ in 0..depth {
        s.extend_from_slice(b"{\"a\":");
    }
    s.extend_from_slice(b"1");
    s.extend(std::iter::repeat_n(b'}', depth + 1));
    s
}

fn huge(n: usize) -> Vec<u8> {
    let mut s = b"<13>Jan  1 00:00:00 h app: ".to_vec();
    s.extend(std::iter::repeat_n(b'x', n));
    s
}

fn str_field(r: &LogRecord, k: &str) -> Option<String> {
    match r.fields.get(k) {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn cases() -> Vec<(&'static str, Vec<u8>, Format, Expect)> {
    use Expect::*;
    let b = |s: &str| s.as_bytes().to_vec();
    vec![
        ("empty line", b(""), Format::Auto, Empty),
        ("only a newline", b("\r\n"), Format::Auto, Empty),
        (
            "only a byte order mark",
            b("\u{feff}"),
            Format::Rfc5424,
            Empty,
        ),
        (
            "lone `<`",
            b("<"),
            Format::Auto,
            Invalid("PRI is not a number"),
        ),
        (
            "PRI not closed",
            b("<13"),
            Format::Auto,
            Invalid("not closed"),
        ),
        (
            "PRI truncated mid-header",
            b("<13Jan  1 00:00:00 h a: x"),
            Format::Auto,
            Invalid("not closed"),
        ),
        (
            "PRI 192",
            b("<192>1 - - - - - -"),
            Format::Auto,
            Invalid("above 191"),
        ),
        (
            "PRI 999",
            b("<999>Jan  1 00:00:00 h a: x"),
            Format::Rfc3164,
            Invalid("above 191"),
        ),
        (
            "PRI with four digits",
            b("<0013>x"),
            Format::Auto,
            Invalid("more than 3 digits"),
        ),
        (
            "PRI with a leading zero",
            b("<013>Jan  1 00:00:00 h a: x"),
            Format::Auto,
            Invalid("leading zero"),
        ),
        (
            "negative PRI",
            b("<-1>x"),
            Format::Auto,
            Invalid("PRI is not a number"),
        ),
        (
            "PRI 191 is the largest accepted",
            b("<191>1 - - - - - -"),
            Format::Auto,
            Ok(|r| r.facility == Some(23) && r.severity == Some(7)),
        ),
        (
            "PRI only: an empty 3164 message",
            b("<13>"),
            Format::Auto,
            Ok(|r| r.message.is_empty() && r.severity == Some(5)),
        ),
        (
            "5424 cut after VERSION",
            b("<13>1"),
            Format::Rfc5424,
            Invalid("before VERSION"),
        ),
        (
            "5424 cut after TIMESTAMP",
            b("<13>1 2024-01-01T00:00:00Z"),
            Format::Rfc5424,
            Invalid("before TIMESTAMP"),
        ),
        (
            "5424 VERSION 0",
            b("<13>0 - - - - - -"),
            Format::Rfc5424,
            Invalid("VERSION"),
        ),
        (
            "5424 impossible date",
            b("<13>1 2024-13-45T00:00:00Z h a - - -"),
            Format::Rfc5424,
            Invalid("TIMESTAMP"),
        ),
        (
            "5424 offset out of range",
            b("<13>1 2024-01-01T00:00:00+99:00 h a - - -"),
            Format::Rfc5424,
            Invalid("TIMESTAMP"),
        ),
        (
            "5424 leap second",
            b("<13>1 2016-12-31T23:59:60Z h a - - - x"),
            Format::Rfc5424,
            Ok(|r| r.message == "x"),
        ),
        (
            "SD element not closed",
            b("<13>1 - h a - - [id k=\"v\""),
            Format::Rfc5424,
            Invalid("not closed by `]`"),
        ),
        (
            "SD value not closed",
            b("<13>1 - h a - - [id k=\"v]"),
            Format::Rfc5424,
            Invalid("PARAM-VALUE is not closed"),
        ),
        (
            "SD value ends in an escaped quote",
            b("<13>1 - h a - - [id k=\"a\\\"]"),
            Format::Rfc5424,
            Invalid("PARAM-VALUE is not closed"),
        ),
        (
            "SD value without quotes",
            b("<13>1 - h a - - [id k=v]"),
            Format::Rfc5424,
            Invalid("is not `name="),
        ),
        (
            "SD with an empty id",
            b("<13>1 - h a - - [] m"),
            Format::Rfc5424,
            Invalid("SD-ID is empty"),
        ),
        (
            "SD id longer than 32",
            b("<13>1 - h a - - [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa] m"),
            Format::Rfc5424,
            Invalid("longer than 32"),
        ),
        (
            "SD glued to MSG",
            b("<13>1 - h a - - [id k=\"v\"]msg"),
            Format::Rfc5424,
            Invalid("no space after STRUCTURED-DATA"),
        ),
        (
            "SD neither `-` nor `[`",
            b("<13>1 - h a - - x"),
            Format::Rfc5424,
            Invalid("neither"),
        ),
        (
            "SD escapes decoded",
            b("<13>1 - h a - - [i k=\"\\\\\\]\\\"\"] m"),
            Format::Rfc5424,
            Ok(|r| str_field(r, "sd.i.k").as_deref() == Some("\\]\"")),
        ),
        (
            "BOM before a 5424 MSG is dropped",
            b("<13>1 - h a - - - \u{feff}hi"),
            Format::Auto,
            Ok(|r| r.message == "hi"),
        ),
        (
            "NUL bytes kept in the message",
            b("Jan  1 00:00:00 h sshd[1]: a\0b\0"),
            Format::Auto,
            Ok(|r| r.message == "a\0b\0"),
        ),
        (
            "NUL byte in the host name",
            b("Jan  1 00:00:00 h\0x sshd[1]: m"),
            Format::Auto,
            Ok(|r| r.hostname.as_deref() == Some("h\0x")),
        ),
        (
            "invalid UTF-8 decoded lossily",
            b"Jan  1 00:00:00 h sshd[1]: \xff\xfe user".to_vec(),
            Format::Auto,
            Ok(|r| r.message == "\u{fffd}\u{fffd} user"),
        ),
        (
            "overlong UTF-8 encoding of `/`",
            b"Jan  1 00:00:00 h a: \xc0\xaf".to_vec(),
            Format::Auto,
            Ok(|r| r.message == "\u{fffd}\u{fffd}"),
        ),
        (
            "4 MB line",
            huge(4 << 20),
            Format::Auto,
            Ok(|r| r.message.len() == 4 << 20),
        ),
        (
            "tag of 200 bytes",
            b(&format!("Jan  1 00:00:00 h {}: m", "t".repeat(200))),
            Format::Auto,
            Ok(|r| r.service.is_none() && r.message.starts_with("ttt")),
        ),
        (
            "pid not closed",
            b("Jan  1 00:00:00 h sshd[12: m"),
            Format::Auto,
            Ok(|r| r.service.is_none() && r.pid.is_none()),
        ),
        (
            "pid not a number",
            b("Jan  1 00:00:00 h app[x-1]: m"),
            Format::Auto,
            Ok(|r| r.pid.is_none() && str_field(r, "procid").as_deref() == Some("x-1")),
        ),
        (
            "Feb 30",
            b("Feb 30 00:00:00 h a: m"),
            Format::Rfc3164,
            Invalid("no real date"),
        ),
        (
            "hour 25",
            b("Jan  1 25:00:00 h a: m"),
            Format::Auto,
            Unrecognized,
        ),
        (
            "timestamp and nothing else",
            b("Jan  1 00:00:00"),
            Format::Rfc3164,
            Invalid("ends after the timestamp"),
        ),
        ("only spaces", b("     "), Format::Auto, Unrecognized),
        (
            "JSON nested 10 000 deep",
            nested(10_000),
            Format::Json,
            Json,
        ),
        (
            "JSON nested 100 deep is flattened",
            nested(100),
            Format::Json,
            Ok(|r| r.fields.iter().any(|(k, _)| k.matches('.').count() == 100)),
        ),
        (
            "JSON that is not an object",
            b("[1,2,3]"),
            Format::Json,
            Json,
        ),
        ("JSON cut short", b("{\"message\":"), Format::Auto, Json),
        (
            "JSON lone surrogate",
            b("{\"message\":\"\\ud800\"}"),
            Format::Json,
            Json,
        ),
        (
            "JSON duplicate keys: last wins",
            b("{\"message\":\"a\",\"k\":1,\"k\":2}"),
            Format::Json,
            Ok(|r| r.fields.get("k") == Some(&Value::Int(2))),
        ),
        ("JSON huge number", b("{\"n\":1e400}"), Format::Json, Json),
        (
            "auditd stamp without serial",
            b("type=SYSCALL msg=audit(1.5): x=1"),
            Format::Auditd,
            Invalid("secs.ms:serial"),
        ),
        (
            "auditd stamp not closed",
            b("type=SYSCALL msg=audit(1.5:7 x=1"),
            Format::Auditd,
            Invalid("not closed"),
        ),
        (
            "auditd odd-length hex kept as text",
            b("type=PROCTITLE msg=audit(1.5:7): proctitle=ABC"),
            Format::Auditd,
            Ok(|r| str_field(r, "proctitle").as_deref() == Some("ABC")),
        ),
        (
            "auditd hex that is not UTF-8",
            b("type=SYSCALL msg=audit(1.5:7): comm=FF41"),
            Format::Auditd,
            Ok(|r| str_field(r, "comm").as_deref() == Some("\u{fffd}A")),
        ),
        (
            "auditd quote never closed",
            b("type=SYSCALL msg=audit(1.5:7): comm=\"abc"),
            Format::Auditd,
            Ok(|r| str_field(r, "comm").as_deref() == Some("abc")),
        ),
        (
            "auditd huge serial",
            b("type=SYSCALL msg=audit(1.5:99999999999999999999): x=1"),
            Format::Auditd,
            Invalid("serial"),
        ),
        (
            "Cisco severity 9 is not a tag",
            b("<13>%ASA-9-1: x"),
            Format::Cisco,
            Invalid("no `%FACILITY"),
        ),
        (
            "FortiGate quote never closed",
            b("date=2024-01-01 time=00:00:00 logid=\"1 devname=\"fw"),
            Format::Fortigate,
            Ok(|r| str_field(r, "logid").is_some()),
        ),
        (
            "access log with a request not closed",
            b("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0 200 1"),
            Format::AccessLog,
            Invalid("not `host"),
        ),
    ]
}

#[test]
fn every_bad_input_has_its_defined_outcome() {
    let cases = cases();
    assert!(cases.len() >= 30);
    for (name, bytes, format, expect) in cases {
        let (text, _) = decode_lossy(&bytes);
        let got = parse_line(&text, format, "bad");
        match (&expect, &got) {
            (Expect::Ok(check), Ok(r)) => assert!(check(r), "{name}: check failed on {r:?}"),
            (Expect::Invalid(reason), Err(ParseError::Invalid { reason: got, .. })) => {
                assert!(
                    got.contains(reason),
                    "{name}: reason {got:?} does not contain {reason:?}"
                )
            }
            (Expect::Json, Err(ParseError::Json(_)))
            | (Expect::Empty, Err(ParseError::Empty))
            | (Expect::Unrecognized, Err(ParseError::Unrecognized)) => {}
            (_, other) => panic!(
                "{name}: unexpected outcome {:?}",
                other
                    .as_ref()
                    .map(|r| &r.message)
                    .map(|m| m.chars().take(80).collect::<String>())
            ),
        }
    }
}

#[test]
fn hostile_tcp_framing_has_its_defined_outcome() {
    type Out = (Vec<(Vec<u8>, bool)>, Result<(), FramingError>);
    let run = |max: usize, chunks: &[&[u8]]| -> Out {
        let mut d = FrameDecoder::new(max);
        let mut frames = Vec::new();
        for c in chunks {
            if let Err(e) = d.push(c, &mut |f| frames.push((f.bytes.to_vec(), f.truncated))) {
                return (frames, Err(e));
            }
        }
        d.finish(&mut |f| frames.push((f.bytes.to_vec(), f.truncated)));
        (frames, Ok(()))
    };
    // An octet count of 2 GB is refused before any of its bytes are buffered.
    let (f, r) = run(65_536, &[b"2147483648 ", &[b'x'; 1000]]);
    assert!(f.is_empty() && matches!(r, Err(FramingError::FrameTooLarge { .. })));
    // A count of 30 digits saturates instead of overflowing.
    let (_, r) = run(65_536, &[b"999999999999999999999999999999 x"]);
    assert!(matches!(r, Err(FramingError::FrameTooLarge { .. })));
    // A count broken by a letter once the connection is octet-counted (a first line like
    // `12a4 x` makes the connection newline-framed instead).
    let (_, r) = run(65_536, &[b"1 a", b"12a4 x"]);
    assert!(matches!(r, Err(FramingError::BadOctetCount(_))), "{r:?}");
    // A count of zero is an empty frame.
    let (f, r) = run(100, &[b"1 a0 2 bc"]);
    assert_eq!(
        (f.iter().map(|x| x.0.clone()).collect::<Vec<_>>(), r),
        (vec![b"a".to_vec(), b"".to_vec(), b"bc".to_vec()], Ok(()))
    );
    // A newline stream of 1 MB without newline is cut at the maximum and the rest skipped.
    let (f, r) = run(1000, &[&[b'y'; 1 << 20], b"\nnext\n"]);
    assert_eq!(r, Ok(()));
    assert_eq!(f.len(), 2);
    assert_eq!((f[0].0.len(), f[0].1), (1000, true));
    assert_eq!(f[1], (b"next".to_vec(), false));
    // NUL bytes and CRLF in newline framing.
    let (f, _) = run(100, &[b"a\0b\r\n"]);
    assert_eq!(f, vec![(b"a\0b".to_vec(), false)]);
    // A last line without newline is delivered when the peer closes.
    let (f, _) = run(100, &[b"<13>x"]);
    assert_eq!(f, vec![(b"<13>x".to_vec(), false)]);
}
