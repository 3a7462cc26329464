//! Parsing throughput over the real Loghub syslog samples, beside `syslog_loose` in the same run.
//!
//! Run: `cargo bench -p ironpost-log-pipeline --bench parse`. Each iteration parses every line
//! of OpenSSH_2k.log and Mac_2k.log (4,000 lines) on one thread; criterion reports lines/s.
//! `*_borrowed_parts` and `syslog_loose_*` produce the same shape (header fields borrowed from
//! the line, no allocation); the others build an owned `LogRecord`, normalized or not.

use std::hint::black_box;

use chrono::{FixedOffset, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ironpost_log_pipeline::parsers::{Ctx, rfc3164};
use ironpost_log_pipeline::{Format, ParseOptions, parse_line_with};

const LOGHUB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/logs/loghub"
);

fn lines() -> Vec<String> {
    ["OpenSSH_2k.log", "Mac_2k.log"]
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(format!("{LOGHUB}/{f}")).expect("loghub sample");
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let now = Utc.with_ymd_and_hms(2017, 6, 1, 0, 0, 0).unwrap();
    let mut g = c.benchmark_group("syslog_loghub");
    g.throughput(Throughput::Elements(lines.len() as u64));
    for (name, format, normalize) in [
        ("ironpost_rfc3164_normalized", Format::Rfc3164, true),
        ("ironpost_auto_normalized", Format::Auto, true),
        ("ironpost_rfc3164_header_only", Format::Rfc3164, false),
    ] {
        let opts = ParseOptions {
            now: Some(now),
            normalize,
            ..ParseOptions::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                for l in &lines {
                    black_box(parse_line_with(black_box(l), format, "bench", &opts).ok());
                }
            })
        });
    }
    let ctx = Ctx {
        source: "bench",
        now,
        tz: FixedOffset::east_opt(0).unwrap(),
    };
    g.bench_function("ironpost_rfc3164_borrowed_parts", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(rfc3164::parse_parts(black_box(l), &ctx).ok());
            }
        })
    });
    let utc = FixedOffset::east_opt(0).unwrap();
    g.bench_function("syslog_loose_rfc3164", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(syslog_loose::parse_message_with_year_tz(
                    black_box(l),
                    |_| 2016,
                    Some(utc),
                    syslog_loose::Variant::RFC3164,
                ));
            }
        })
    });
    g.bench_function("syslog_loose_either", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(syslog_loose::parse_message_with_year_tz(
                    black_box(l),
                    |_| 2016,
                    Some(utc),
                    syslog_loose::Variant::Either,
                ));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
