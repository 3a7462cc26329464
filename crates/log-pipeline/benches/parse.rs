//! Parsing throughput over the real Loghub syslog samples, beside `syslog_loose` in the same run.
//!
//! Run: `cargo bench -p ironpost-log-pipeline --bench parse`. Each iteration parses every line
//! of OpenSSH_2k.log and Mac_2k.log (4,000 lines) on one thread; criterion reports lines/s.
//!
//! What each path does per line:
//!
//! - `ironpost_view_normalized`: header, message and the normalized fields (sshd, PAM, ...),
//!   all borrowed from the line (`rfc3164::parse_view`, no allocation): the parsing work of the
//!   daemon without the copy into an owned record.
//! - `ironpost_view_header_only`: the same without normalization (header, message, service name,
//!   `program`/`procid`).
//! - `ironpost_borrowed_parts`: header and message only (`rfc3164::parse_parts`): the output
//!   `syslog_loose` gives.
//! - `ironpost_record_*`: `parse_line_with`, an owned `LogRecord` per line: what the daemon
//!   puts on the bus (texts of up to 24 bytes and field names inline, the message and the field
//!   vector allocated).
//! - `syslog_loose_*`: `syslog_loose::parse_message_with_year_tz`, header and message borrowed.
//!
//! Each result is passed to `black_box` by reference and dropped, for every parser alike.
//!
//! With `PARSE_ICOUNT=<path> PARSE_PASSES=<n>` the binary runs only that path `n` times over the
//! lines, without criterion, so that `valgrind --tool=callgrind` can count its instructions (see
//! docs/benchmarks.md).
//!
//! With `PARSE_INTERLEAVED=<rounds>` it runs one pass of every path in turn, round after round
//! (the order rotating), and prints each path's median lines/s and its median ratio to
//! `syslog_loose_rfc3164` over the rounds: on a machine shared with other work, paths measured
//! minutes apart see different loads, paths measured within the same millisecond do not.

use std::hint::black_box;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group};
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

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2017, 6, 1, 0, 0, 0).unwrap()
}

/// One pass of a measured path over the lines.
type Pass = Box<dyn Fn(&[String])>;

/// Every measured path: a name and one pass over the lines.
fn paths() -> Vec<(&'static str, Pass)> {
    let now = now();
    let utc = FixedOffset::east_opt(0).unwrap();
    let ctx = Ctx {
        source: "bench",
        now,
        tz: utc,
    };
    let record = |format: Format, normalize: bool| {
        let opts = ParseOptions {
            now: Some(now),
            normalize,
            ..ParseOptions::default()
        };
        Box::new(move |lines: &[String]| {
            for l in lines {
                black_box(&parse_line_with(black_box(l), format, "bench", &opts));
            }
        }) as Pass
    };
    let view = move |normalize: bool| {
        Box::new(move |lines: &[String]| {
            for l in lines {
                black_box(&rfc3164::parse_view(black_box(l), &ctx, normalize));
            }
        }) as Pass
    };
    let loose = move |variant: fn() -> syslog_loose::Variant| {
        Box::new(move |lines: &[String]| {
            for l in lines {
                black_box(&syslog_loose::parse_message_with_year_tz(
                    black_box(l),
                    |_| 2016,
                    Some(utc),
                    variant(),
                ));
            }
        }) as Pass
    };
    vec![
        ("ironpost_view_normalized", view(true)),
        ("ironpost_view_header_only", view(false)),
        (
            "ironpost_borrowed_parts",
            Box::new(move |lines: &[String]| {
                for l in lines {
                    black_box(&rfc3164::parse_parts(black_box(l), &ctx));
                }
            }),
        ),
        (
            "ironpost_record_rfc3164_normalized",
            record(Format::Rfc3164, true),
        ),
        (
            "ironpost_record_auto_normalized",
            record(Format::Auto, true),
        ),
        (
            "ironpost_record_rfc3164_header_only",
            record(Format::Rfc3164, false),
        ),
        (
            "syslog_loose_rfc3164",
            loose(|| syslog_loose::Variant::RFC3164),
        ),
        (
            "syslog_loose_either",
            loose(|| syslog_loose::Variant::Either),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let mut g = c.benchmark_group("syslog_loghub");
    g.throughput(Throughput::Elements(lines.len() as u64));
    for (name, pass) in paths() {
        g.bench_function(name, |b| b.iter(|| pass(&lines)));
    }
    g.finish();
}

criterion_group!(benches, bench);

/// The interleaved comparison: `rounds` rounds of one pass per path.
fn interleaved(rounds: usize) {
    let lines = lines();
    let paths = paths();
    let reference = paths
        .iter()
        .position(|(n, _)| *n == "syslog_loose_rfc3164")
        .expect("syslog_loose_rfc3164 is measured");
    let mut secs = vec![Vec::with_capacity(rounds); paths.len()];
    for round in 0..rounds {
        for k in 0..paths.len() {
            let i = (round + k) % paths.len();
            let start = std::time::Instant::now();
            (paths[i].1)(&lines);
            secs[i].push(start.elapsed().as_secs_f64());
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{:<38} {:>14} {:>22}",
        "path", "median lines/s", "× syslog_loose_rfc3164"
    );
    for (i, (name, _)) in paths.iter().enumerate() {
        let rate = lines.len() as f64 / median(secs[i].clone());
        let ratio = median(
            secs[reference]
                .iter()
                .zip(&secs[i])
                .map(|(r, p)| r / p)
                .collect(),
        );
        println!("{name:<38} {:>12.2} M {ratio:>22.2}", rate / 1e6);
    }
}

fn main() {
    if let Some(rounds) = std::env::var("PARSE_INTERLEAVED")
        .ok()
        .and_then(|r| r.parse().ok())
    {
        interleaved(rounds);
        return;
    }
    if let Ok(name) = std::env::var("PARSE_ICOUNT") {
        let passes: usize = std::env::var("PARSE_PASSES")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let lines = lines();
        let (_, pass) = paths()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no path {name}"));
        for _ in 0..passes {
            pass(&lines);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
